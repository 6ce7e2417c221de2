/**
 * Programmatic API: `check` and `fix` with the same behaviour as the CLI (configuration
 * files included).
 *
 *   import { check, fix } from "buildrace";
 *   const report = await check(["services/"]);          // SPEC §4 JSON document
 *   const { diff } = await fix(["services/"], { strategy: "lock" });
 */
import { gitDiff } from "./apply/diff";
import { JsonReport, toJson } from "./report/json";
import { run, RunOptions } from "./run";

export type { RunOptions } from "./run";
export type { Config } from "./config/config";
export type { JsonReport } from "./report/json";
export type {
  Edit,
  Finding,
  MountUse,
  Transform,
  TransformApi,
  TransformFile,
} from "./apply/types";

/** Analyses files or directories and returns the JSON report (SPEC §4). */
export async function check(paths: string[], options: RunOptions = {}): Promise<JsonReport> {
  return toJson(await run(paths, options, "check"));
}

export interface FixResult {
  /** Git-style unified diff of every file that would change. */
  diff: string;
  files: { path: string; before: string; after: string; notes: string[]; error?: string }[];
}

/** Computes (never writes) the verified fixes for files or directories. */
export async function fix(paths: string[], options: RunOptions = {}): Promise<FixResult> {
  const res = await run(paths, options, "fix");
  const files = res.fixes ?? [];
  const diff = files
    .filter((f) => !f.error)
    .map((f) => gitDiff(f.path, f.before, f.after))
    .join("");
  return { diff, files };
}
