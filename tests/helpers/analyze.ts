/**
 * Test helper: run the real pipeline (analyze → toJson) on Dockerfile text and return the
 * SPEC §4 JSON for that one file. The text is written byte for byte into a fresh temp dir.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FileFix, planFixes } from "../../src/apply/fix";
import { Strategy } from "../../src/apply/load";
import { analyze, AnalyzeOptions } from "../../src/pipeline";
import { JsonFile, JsonReport, toJson } from "../../src/report/json";

export interface HelperOptions {
  target?: string;
  buildArgs?: Record<string, string>;
  platforms?: string[];
  rules?: AnalyzeOptions["rules"];
}

export async function analyzeReport(text: string, opts: HelperOptions = {}): Promise<JsonReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-test-"));
  const file = path.join(dir, "Dockerfile");
  try {
    fs.writeFileSync(file, text, "utf8");
    const result = await analyze([{ path: file, kind: "dockerfile" }], {
      target: opts.target,
      buildArgs: opts.buildArgs,
      platforms: opts.platforms,
      rules: opts.rules,
    });
    return toJson(result);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The fix `strategy` plans (and verifies) for Dockerfile `text`, written to a fresh temp dir. */
export async function fixText(
  text: string,
  strategy: Strategy,
  opts: HelperOptions = {},
): Promise<FileFix> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-test-"));
  const file = path.join(dir, "Dockerfile");
  try {
    fs.writeFileSync(file, text, "utf8");
    const plan = await planFixes([{ path: file, kind: "dockerfile" }], { ...opts, strategy });
    return plan.fixes[0];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The JSON of the single Dockerfile analysed. */
export async function analyzeText(text: string, opts: HelperOptions = {}): Promise<JsonFile> {
  const report = await analyzeReport(text, opts);
  if (report.version !== 1) throw new Error(`unexpected report version ${report.version}`);
  if (report.files.length !== 1) throw new Error(`expected one file, got ${report.files.length}`);
  return report.files[0];
}

/** Joins lines with LF and a final newline. */
export function df(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

/** Convenience accessors. */
export const errorsOf = (f: JsonFile, severity: "error" | "warning" = "error") =>
  f.errors.filter((e) => e.severity === severity);
export const runAt = (f: JsonFile, line: number) => f.cacheRuns.filter((r) => r.line === line);
export const keysAt = (f: JsonFile, line: number) =>
  runAt(f, line).flatMap((r) => r.mounts.map((m) => m.key));
export const isParallel = (f: JsonFile, a: number, b: number) =>
  f.parallel.some(([x, y]) => x === Math.min(a, b) && y === Math.max(a, b));
export const racesOf = (f: JsonFile, rule = "shared-cache-race") =>
  f.races.filter((r) => r.rule === rule);
export const raceLines = (f: JsonFile, rule = "shared-cache-race") =>
  racesOf(f, rule).map((r) => r.uses.map((u) => u.line).sort((a, b) => a - b));
