/**
 * Programmatic API: `check` and `fix` with the same behaviour as the CLI.
 *
 *   import { check, fix } from "buildrace";
 *   const report = await check(["services/"]);          // SPEC §4 JSON document
 *   const { diff } = await fix(["services/"], { strategy: "lock" });
 */
import { gitDiff } from "./apply/diff";
import { FixOptions, planFixes } from "./apply/fix";
import { discover } from "./discover/discover";
import { defaultLoader } from "./discover/load";
import { analyze, AnalyzeOptions } from "./pipeline";
import { JsonReport, toJson } from "./report/json";

export type { AnalyzeOptions } from "./pipeline";
export type { JsonReport } from "./report/json";
export type {
  Edit,
  Finding,
  MountUse,
  Transform,
  TransformApi,
  TransformFile,
} from "./apply/types";

/** Analyses files or directories and returns the JSON report. */
export async function check(paths: string[], options: AnalyzeOptions = {}): Promise<JsonReport> {
  const found = discover(paths);
  const result = await analyze(found.files, options, defaultLoader);
  const report = toJson(result);
  for (const p of found.problems)
    report.files.push({
      path: p.path,
      builds: [],
      cacheRuns: [],
      parallel: [],
      races: [],
      errors: [{ line: 0, message: p.message, severity: "error" }],
    });
  return report;
}

export interface FixResult {
  /** Git-style unified diff of every file that would change. */
  diff: string;
  files: { path: string; before: string; after: string; notes: string[]; error?: string }[];
}

/** Computes (never writes) the verified fixes for files or directories. */
export async function fix(paths: string[], options: Partial<FixOptions> = {}): Promise<FixResult> {
  const found = discover(paths);
  const plan = await planFixes(found.files, { strategy: "auto", ...options }, defaultLoader);
  const files = plan.fixes;
  const diff = files
    .filter((f) => !f.error)
    .map((f) => gitDiff(f.path, f.before, f.after))
    .join("");
  return { diff, files };
}
