/**
 * One run over user paths: discover the inputs, apply the configuration that governs each
 * (config files, --config, flags), analyse or fix each group, and collect the results in a
 * deterministic order. The CLI and the programmatic API both go through here.
 */
import { FileFix, planFixes } from "./apply/fix";
import { Strategy } from "./apply/load";
import { Config, groupByConfig, rulesOf } from "./config/config";
import { discover } from "./discover/discover";
import { defaultLoader } from "./discover/load";
import { analyze, AnalysisResult, AnalyzeOptions, FileResult } from "./pipeline";

export interface RunOptions extends Config {
  /** `--config FILE`: applies to every input, over config files found upward. */
  configPath?: string;
  env?: Record<string, string>;
  bakeTargets?: string[];
  transformPath?: string;
  /** Progress of the analysis (files done, total); the CLI draws a bar on a terminal. */
  onProgress?: (done: number, total: number) => void;
}

export interface RunResult extends AnalysisResult {
  /** Inputs skipped by a config's `ignore`. */
  ignored: string[];
  fixes?: FileFix[];
}

function toAnalyzeOptions(c: Config, opts: RunOptions): AnalyzeOptions {
  return {
    target: c.target,
    buildArgs: c.buildArgs ?? {},
    platforms: c.platforms,
    rules: rulesOf(c),
    env: opts.env,
    bakeTargets: opts.bakeTargets,
    onProgress: opts.onProgress,
  };
}

function problemFile(p: { path: string; message: string }): FileResult {
  return {
    path: p.path,
    kind: "dockerfile",
    builds: [],
    cacheRuns: [],
    pairs: [],
    races: [],
    diagnostics: [{ line: 0, message: p.message, severity: "error" }],
  };
}

/** Analyses (and with `fix`, plans verified fixes for) everything under `paths`. */
export async function run(
  paths: string[],
  opts: RunOptions,
  mode: "check" | "fix",
): Promise<RunResult> {
  const found = discover(paths.length ? paths : ["."]);
  const flags: Config = {
    strategy: opts.strategy,
    target: opts.target,
    buildArgs: opts.buildArgs,
    platforms: opts.platforms,
    caches: opts.caches,
    ignore: opts.ignore,
  };
  const groups = groupByConfig(found.files, flags, opts.configPath);
  const out: RunResult = { files: [], ignored: [], fixes: mode === "fix" ? [] : undefined };
  for (const g of groups) {
    out.ignored.push(...g.ignored.map((f) => f.path));
    if (!g.files.length) continue;
    const aopts = toAnalyzeOptions(g.config, opts);
    if (mode === "fix") {
      const strategy: Strategy = g.config.strategy ?? "auto";
      const plan = await planFixes(
        g.files,
        { ...aopts, strategy, transformPath: opts.transformPath },
        defaultLoader,
      );
      out.files.push(...plan.result.files);
      out.fixes?.push(...plan.fixes);
    } else {
      out.files.push(...(await analyze(g.files, aopts, defaultLoader)).files);
    }
  }
  out.files.push(...found.problems.map(problemFile));
  return out;
}
