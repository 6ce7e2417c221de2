/**
 * One run over user paths: discover the inputs, apply the configuration that governs each
 * (config files, --config, flags), analyse or fix each group, and collect the results in a
 * deterministic order. The CLI and the programmatic API both go through here.
 *
 * Bulk runs use every core: when the caller says what it will do with the result
 * (`output`) and there are many inputs, worker threads analyse chunks of inputs that share
 * no analysis group, render them, and the chunks are put together in input order (the
 * output is byte for byte what one thread gives).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FileFix, planFixes } from "./apply/fix";
import { loadTransform, Strategy } from "./apply/load";
import { Config, configGrouper, RunGroup, rulesOf } from "./config/config";
import { Discovered, discover, InputFile } from "./discover/discover";
import { defaultLoader } from "./discover/load";
import { DeclaredBuilds } from "./discover/types";
import { analyze, AnalysisResult, AnalyzeOptions, FileResult } from "./pipeline";
import { ChunkOptions, Task } from "./run/chunk";
import { planChunks } from "./run/plan";
import { Pool } from "./run/pool";
import { assemble, ChunkOut, Output, Rendered, renderChunk } from "./run/render";

export type { Output, Rendered } from "./run/render";

export interface RunOptions extends Config {
  /** `--config FILE`: applies to every input, over config files found upward. */
  configPath?: string;
  env?: Record<string, string>;
  bakeTargets?: string[];
  transformPath?: string;
  /** Progress of the analysis (files done, total); the CLI draws a bar on a terminal. */
  onProgress?: (done: number, total: number) => void;
  /**
   * What the caller will use of the result. When set, a bulk run may use worker threads:
   * then `files` hold only path, kind, builds and diagnostics (races and the rest stay in
   * the workers), and for json/text the report comes back in `rendered`.
   */
  output?: Output;
  /**
   * Worker threads for a run with `output`: 0 none, n exactly n (any run size); unset (and
   * no BUILDRACE_WORKERS in the environment): one per INPUTS_PER_WORKER inputs, at most one
   * per core, and none below two (runs of WORKER_MIN_INPUTS inputs or more still go in
   * chunks, in this thread).
   */
  workers?: number;
}

export interface RunResult extends AnalysisResult {
  /** Inputs skipped by a config's `ignore`. */
  ignored: string[];
  fixes?: FileFix[];
  /** The report for `output` json or text, when worker threads made it (else render `files`). */
  rendered?: Rendered;
}

/** Inputs from which a run with `output` goes in chunks (each dropped once rendered). */
export const WORKER_MIN_INPUTS = 200;
/**
 * Inputs a worker thread must have to repay starting it. Each thread compiles and warms up
 * the code on its own: in one process the first 1,000 bench files cost about 2.5 times the
 * CPU of the next 1,000 (V8's optimising compiler at work), and a second thread pays that
 * again. On the bench machine (2 vCPUs) two threads were slower than one up to about 3,000
 * inputs (1,400 inputs: 2.3 s against 1.8 s), and no faster at 5,000.
 */
export const INPUTS_PER_WORKER = 2500;
const MAX_WORKERS = 8;
/** Chunks per worker: enough for the threads to finish together, few enough to cost nothing. */
const CHUNKS_PER_WORKER = 8;

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
  const flags: Config = {
    strategy: opts.strategy,
    target: opts.target,
    buildArgs: opts.buildArgs,
    platforms: opts.platforms,
    caches: opts.caches,
    ignore: opts.ignore,
  };
  const grouper = configGrouper(flags, opts.configPath);
  // worker threads run compiled code only (under ts-jest there is none: chunks run here)
  const script = path.join(__dirname, "run", "worker.js");
  let pool: Pool | undefined;
  let threads: boolean | undefined;
  const loads = new EarlyLoads(opts);
  /**
   * The pool (its compose/bake loads started), with worker threads started up to `n` (none
   * where there is no worker script).
   */
  const poolOf = (n: number): Pool => {
    threads ??= fs.existsSync(script);
    if (!pool) loads.start((pool = new Pool(script, threads ? n : 0)));
    else if (threads) pool.grow(n);
    return pool;
  };
  let found: Discovered;
  try {
    found = discover(
      paths.length ? paths : ["."],
      (file, count) => {
        const { group, ignored } = grouper.add(file);
        if (!opts.output) return;
        // A bulk run's threads start as the walk finds enough inputs for them, and load the
        // compose and bake files found from then on while the walk goes on.
        const early = chunking(opts.workers, count)?.workers ?? 0;
        if (early > (pool?.size ?? 0) && threads !== false) poolOf(early);
        if (!ignored && file.kind !== "dockerfile") loads.add(file, group);
      },
      (dir, names) => grouper.listed(dir, names),
    );
  } catch (e) {
    await pool?.close();
    throw e;
  }
  const groups = grouper.groups();
  const inputs = groups.reduce((n, g) => n + g.files.length, 0);
  const plan = opts.output ? chunking(opts.workers, inputs) : undefined;
  if (plan && opts.output) {
    return runInWorkers(found, groups, loads, opts, mode, opts.output, poolOf(plan.workers));
  }
  await pool?.close(); // the config ignored enough inputs to make the run small
  const out: RunResult = { files: [], ignored: [], fixes: mode === "fix" ? [] : undefined };
  let before = 0; // inputs of the config groups done (progress counts files over the run)
  for (const g of groups) {
    out.ignored.push(...g.ignored.map((f) => f.path));
    if (!g.files.length) continue;
    const start = before;
    before += g.files.length;
    const aopts = toAnalyzeOptions(g.config, opts);
    if (opts.onProgress) {
      const report = opts.onProgress;
      aopts.onProgress = (done) => report(start + done, inputs);
    }
    if (mode === "fix") {
      const plan = await planFixes(g.files, { ...aopts, ...fixOf(g, opts) }, defaultLoader);
      out.files.push(...plan.result.files);
      out.fixes?.push(...plan.fixes);
    } else {
      out.files.push(...(await analyze(g.files, aopts, defaultLoader)).files);
    }
  }
  out.files.push(...found.problems.map(problemFile));
  return out;
}

let knownCores: number | undefined;
/** The machine's cores (asked once: the walk asks about the run's size at every file). */
function coreCount(): number {
  return (knownCores ??=
    typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
}

/**
 * Whether a run with `output` goes in chunks, and on how many worker threads (0: the
 * chunks run in this thread, one at a time, each dropped once rendered).
 */
export function chunking(
  requested: number | undefined,
  inputs: number,
  cores = coreCount(),
): { workers: number } | undefined {
  const env = process.env.BUILDRACE_WORKERS;
  const n = requested ?? (env ? Number(env) : NaN);
  if (Number.isFinite(n) && n > 0) return { workers: Math.min(MAX_WORKERS, Math.floor(n)) };
  if (inputs < WORKER_MIN_INPUTS) return undefined;
  if (Number.isFinite(n)) return { workers: 0 };
  // One thread per INPUTS_PER_WORKER inputs and core. A single worker would only wait for
  // it: the chunks run here then (V8's compiler and garbage collector already use a spare
  // core beside one thread).
  const workers = Math.min(cores, MAX_WORKERS, Math.floor(inputs / INPUTS_PER_WORKER));
  return { workers: workers >= 2 ? workers : 0 };
}

function chunkOptions(c: Config, opts: RunOptions): ChunkOptions {
  const { onProgress: _onProgress, ...rest } = toAnalyzeOptions(c, opts);
  // plain data for the workers (process.env is an exotic object)
  return { ...rest, env: opts.env ? { ...opts.env } : undefined };
}

/** Compose/bake files per load task: few enough to spread, enough to cost little in messages. */
const LOAD_BATCH = 8;

/**
 * The builds compose and bake files declare, loaded on the pool: files are added as the walk
 * finds them and sent in batches once the pool has started; `get` waits for one file's.
 */
class EarlyLoads {
  private pool: Pool | undefined;
  private readonly pending = new Map<RunGroup, InputFile[]>();
  private readonly loaded = new Map<string, Promise<DeclaredBuilds | undefined>>();
  private readonly options = new Map<RunGroup, ChunkOptions>();

  constructor(private readonly opts: RunOptions) {}

  optionsOf(g: RunGroup): ChunkOptions {
    let o = this.options.get(g);
    if (!o) this.options.set(g, (o = chunkOptions(g.config, this.opts)));
    return o;
  }

  start(pool: Pool): void {
    if (this.pool) return;
    this.pool = pool;
    this.flush(LOAD_BATCH);
  }

  add(f: InputFile, g: RunGroup): void {
    if (this.loaded.has(path.resolve(f.path))) return;
    const list = this.pending.get(g) ?? [];
    this.pending.set(g, list);
    if (list.includes(f)) return;
    list.push(f);
    if (this.pool && list.length >= LOAD_BATCH) this.flush(LOAD_BATCH);
  }

  /** Sends the pending files (only full batches when `min` is given). */
  flush(min = 1): void {
    const pool = this.pool;
    if (!pool) return;
    for (const [g, list] of this.pending) {
      while (list.length >= min && list.length > 0) {
        const batch = list.splice(0, LOAD_BATCH);
        const task = pool.run({ kind: "load", files: batch, options: this.optionsOf(g) });
        batch.forEach((f, i) => {
          const one = task.then((r) => (r as (DeclaredBuilds | undefined)[])[i]);
          one.catch(() => undefined); // a failure surfaces where get() is awaited, if it is
          this.loaded.set(path.resolve(f.path), one);
        });
      }
    }
  }

  get(f: InputFile): Promise<DeclaredBuilds | undefined> {
    const p = this.loaded.get(path.resolve(f.path));
    if (!p) throw new Error(`internal: ${f.path} was not loaded`);
    return p;
  }
}

/** How a group is fixed: its config's strategy (auto by default) and the user's transform. */
function fixOf(g: RunGroup, opts: RunOptions): { strategy: Strategy; transformPath?: string } {
  return { strategy: g.config.strategy ?? "auto", transformPath: opts.transformPath };
}

/** `run` with worker threads: the same results, in the same order (see run/plan.ts). */
async function runInWorkers(
  found: Discovered,
  groups: RunGroup[],
  loads: EarlyLoads,
  opts: RunOptions,
  mode: "check" | "fix",
  output: Output,
  pool: Pool,
): Promise<RunResult> {
  try {
    const planned = groups.map((g) => ({
      g,
      options: loads.optionsOf(g),
      fix: mode === "fix" ? fixOf(g, opts) : undefined,
    }));
    // a transform that cannot be loaded is the caller's error, reported from here
    for (const p of planned)
      if (p.fix && p.g.files.length) loadTransform(p.fix.strategy, p.fix.transformPath);

    // 1. The builds compose and bake files declare, read in the workers (most were started
    // during the walk).
    for (const p of planned)
      for (const f of p.g.files) if (f.kind !== "dockerfile") loads.add(f, p.g);
    loads.flush();
    const declared = await Promise.all(
      planned.map(async ({ g }) => {
        const byPath = new Map<string, DeclaredBuilds | undefined>();
        for (const f of g.files)
          if (f.kind !== "dockerfile") byPath.set(path.resolve(f.path), await loads.get(f));
        return byPath;
      }),
    );

    // 2. Chunks of inputs that share no analysis group, analysed and rendered in the workers.
    const total = planned.reduce((n, p) => n + p.g.files.length, 0);
    const size = Math.max(16, Math.ceil(total / (CHUNKS_PER_WORKER * MAX_WORKERS)));
    let done = 0;
    const perGroup = planned.map((p, gi) =>
      planChunks(p.g.files, declared[gi], size).map(async (chunk) => {
        const task: Task = {
          kind: "chunk",
          inputs: chunk.inputs,
          options: p.options,
          declared: chunk.declared,
          output,
          fix: p.fix,
        };
        const r = (await pool.run(task)) as ChunkOut;
        done += chunk.inputs.length;
        opts.onProgress?.(done, total);
        return r;
      }),
    );
    const chunks = await Promise.all(perGroup.map((cs) => Promise.all(cs)));

    // 3. In input order, as run() collects them; the unusable paths last.
    const out: RunResult = { files: [], ignored: [], fixes: mode === "fix" ? [] : undefined };
    const outs: ChunkOut[] = [];
    groups.forEach((g, gi) => {
      out.ignored.push(...g.ignored.map((f) => f.path));
      for (const c of chunks[gi]) {
        outs.push(c);
        out.files.push(...c.files);
        if (c.fixes) out.fixes?.push(...c.fixes);
      }
    });
    const problems = found.problems.map(problemFile);
    outs.push(renderChunk({ files: problems }, undefined, output));
    out.files.push(...problems);
    if (output.format !== "fix") out.rendered = assemble(outs, output);
    return out;
  } finally {
    await pool.close();
  }
}
