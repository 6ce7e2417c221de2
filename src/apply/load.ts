/** Finds the transform to run: a bundled strategy, or a user module with the same signature. */
import * as path from "path";
import auto from "../../transforms/auto";
import lock from "../../transforms/lock";
import merge from "../../transforms/merge";
import split from "../../transforms/split";
import { Transform } from "./types";

export type Strategy = "auto" | "lock" | "split" | "merge";
export const STRATEGIES: Strategy[] = ["auto", "lock", "split", "merge"];

const BUNDLED: Record<Strategy, Transform> = { auto, lock, split, merge };

export class TransformLoadError extends Error {}

export function loadTransform(strategy: Strategy, modulePath?: string): Transform {
  if (!modulePath) return BUNDLED[strategy];
  const abs = path.resolve(modulePath);
  let mod: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(abs);
  } catch (e) {
    throw new TransformLoadError(
      `cannot load transform ${modulePath}: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  const m = mod as { default?: unknown; transform?: unknown };
  const fn =
    typeof mod === "function" ? mod : typeof m.default === "function" ? m.default : m.transform;
  if (typeof fn !== "function")
    throw new TransformLoadError(
      `transform ${modulePath} must export a function (module.exports = fn, export default fn, or export function transform)`,
    );
  return fn as Transform;
}
