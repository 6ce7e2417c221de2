/**
 * Runs the built CLI (bin/buildrace.js → dist/) as a user would. `npm test` compiles
 * first; when dist/ is older than the sources (a bare `npx jest`), it is rebuilt once.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "../..");
export const BIN = path.join(ROOT, "bin", "buildrace.js");

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith(".ts")) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt(): void {
  const main = path.join(ROOT, "dist", "src", "cli", "main.js");
  const built = fs.existsSync(main) ? fs.statSync(main).mtimeMs : 0;
  const sources = Math.max(newest(path.join(ROOT, "src")), newest(path.join(ROOT, "transforms")));
  if (built >= sources) return;
  const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.json")], {
    stdio: "inherit",
  });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Run {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  Object.assign(env, opts.env ?? {});
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: env as NodeJS.ProcessEnv,
    encoding: "utf8",
    timeout: 60000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
