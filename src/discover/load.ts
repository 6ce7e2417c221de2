/** Builds declared by compose and bake files (the loader the pipeline is given). */
import * as path from "path";
import { BuildLoader } from "../pipeline";
import { InputFile } from "./discover";
import { DeclaredBuilds } from "./types";

export const defaultLoader: BuildLoader = async (file: InputFile, text: string, opts) => {
  const abs = path.resolve(file.path);
  const env = { ...(opts.env ?? {}) };
  try {
    if (file.kind === "compose") {
      const { composeBuilds, loadDotEnv } = await import("./compose");
      return composeBuilds(abs, text, { ...loadDotEnv(path.dirname(abs)), ...env });
    }
    const { bakeBuilds } = await import("./bake");
    return await bakeBuilds(abs, text, env, opts.bakeTargets);
  } catch (e) {
    const d: DeclaredBuilds = {
      path: abs,
      builds: [],
      diagnostics: [
        {
          line: 0,
          message: `could not load ${file.kind} file: ${(e as Error).message}`,
          severity: "error",
        },
      ],
    };
    return d;
  }
};
