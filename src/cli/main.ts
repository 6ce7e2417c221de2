/**
 * CLI stage: parse arguments, run the pipeline, print the report, choose the exit code.
 * Exit codes (SPEC §5): 0 nothing to report, 1 races found / changes needed, 2 usage
 * error or a file that could not be analysed.
 */
import * as cliProgress from "cli-progress";
import yargs from "yargs";
import { gitDiff } from "../apply/diff";
import { Strategy, STRATEGIES, TransformLoadError } from "../apply/load";
import { betweenWrites, writeAtomic } from "../apply/write";
import { ConfigError } from "../config/config";
import { explain, knownNames } from "../knowledge/explain";
import { AnalysisResult } from "../pipeline";
import { toGithub } from "../report/github";
import { graphView, toDot, toMermaid } from "../report/graph";
import { toJson } from "../report/json";
import { toSarif } from "../report/sarif";
import { countsOf, exitOf, toText } from "../report/text";
import { Output, run, RunOptions, RunResult } from "../run";

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_ERROR = 2;

interface CommonArgs {
  paths: string[];
  format: string;
  target?: string[] | string;
  "build-arg"?: string[] | string;
  platform?: string[] | string;
  "bake-target"?: string[] | string;
  config?: string[] | string;
  quiet: boolean;
  verbose?: boolean;
  debug: boolean;
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let exit = EXIT_OK;
  const out = (s: string) => process.stdout.write(s);
  const parser = yargs(argv)
    .scriptName("buildrace")
    .usage(
      "buildrace finds BuildKit cache mounts (RUN --mount=type=cache) used by build steps that run at the same time, and rewrites them so they no longer race.\n\nUsage: $0 <command> [paths..] [options]",
    )
    .command(
      "check [paths..]",
      "Report cache mounts that race; exit 1 if any unsafe race remains",
      (y) =>
        common(y)
          .option("format", {
            describe:
              "Output format: text, json (SPEC §4), sarif (SARIF 2.1.0 for code scanning, with fixes), github (workflow annotations)",
            choices: ["text", "json", "sarif", "github"],
            default: "text",
          })
          .option("verbose", {
            alias: "v",
            describe:
              "Also list the cache steps that may run in parallel and the cache runs that do not race",
            type: "boolean",
          })
          .option("strategy", {
            describe:
              "Strategy of the fixes attached to --format sarif results (default: the config's, else auto)",
            choices: STRATEGIES,
          })
          .example("$0 check", "check every Dockerfile, compose and bake file under .")
          .example(
            "$0 check Dockerfile --target release --platform linux/amd64,linux/arm64",
            "model one multi-platform build",
          )
          .example("$0 check . --format json > races.json", "machine-readable report (SPEC §4)")
          .example("$0 check . --format sarif > buildrace.sarif", "for GitHub code scanning")
          .example("$0 check . --format github", "annotations in a GitHub Actions log")
          .example("$0 check -v examples/", "also list parallel steps and quiet cache runs"),
      async (args) => {
        exit = await runCheck(args as unknown as CheckArgs, out);
      },
    )
    .command(
      "fix [paths..]",
      "Rewrite racing cache mounts: print a unified diff (dry run), or apply it with --write",
      (y) =>
        common(y)
          .option("format", {
            describe:
              "Output format: text (a unified diff, notes on stderr) or json (each file's diff and notes)",
            choices: ["text", "json"],
            default: "text",
          })
          .option("strategy", {
            describe:
              "(default: the config's, else auto) auto: per cache from the knowledge base (safe left shared, unsafe locked, output caches split); lock: sharing=locked; split: an id per stage/platform; merge: join two racing stages when provably safe, else lock",
            choices: STRATEGIES,
          })
          .option("transform", {
            describe: "Path of your own transform module (same signature as transforms/*.ts)",
            type: "string",
          })
          .option("write", {
            alias: "w",
            describe: "Apply the changes in place (atomically)",
            type: "boolean",
          })
          .option("check", {
            describe: "Exit 1 if any file would change (prints the diff); for CI",
            type: "boolean",
          })
          .conflicts("write", "check")
          .example("$0 fix", "show the diff for everything under .")
          .example("$0 fix > races.patch && git apply races.patch", "review, then apply with git")
          .example("$0 fix --write --strategy lock services/", "lock every racing cache in place")
          .example("$0 fix --check", "CI gate: exit 1 when a fix is needed"),
      async (args) => {
        exit = await runFix(args as unknown as FixArgs, out);
      },
    )
    .command(
      "graph <file>",
      "Draw the step graph of a Dockerfile (Mermaid or Graphviz DOT) with cache mounts and races marked",
      (y) =>
        y
          .positional("file", {
            describe:
              "A Dockerfile, or a compose/bake file or directory (one diagram with every Dockerfile they build)",
            type: "string",
            demandOption: true,
          })
          .option("format", {
            describe: "mermaid (renders in GitHub/GitLab markdown) or dot (Graphviz)",
            choices: ["mermaid", "dot"],
            default: "mermaid",
          })
          .options(BUILD_OPTIONS)
          .option("debug", DEBUG_OPTION)
          .example("$0 graph Dockerfile", "Mermaid flowchart: paste it into a ```mermaid block")
          .example(
            "$0 graph Dockerfile --format dot | dot -Tsvg > graph.svg",
            "render with Graphviz",
          )
          .example(
            "$0 graph Dockerfile --target release --platform linux/amd64,linux/arm64",
            "the graph of one multi-platform build",
          ),
      async (args) => {
        exit = await runGraph(args as unknown as GraphArgs, out);
      },
    )
    .command(
      "explain [name]",
      "Explain a rule or a cache tool: why it races, the error seen in the field, the fix options",
      (y) =>
        y
          .positional("name", {
            describe: `A rule or a tool (${knownNames().join(", ")})`,
            type: "string",
          })
          .option("debug", {
            describe: "Show stack traces of internal errors",
            type: "boolean",
            default: false,
          })
          .example(
            "$0 explain cargo-registry",
            "why parallel cargo builds fail on a shared registry",
          )
          .example("$0 explain apt", "apt's locks and what to do about them")
          .example("$0 explain shared-cache-race", "the rule, and the fix options with their costs")
          .example("$0 explain", "list every name"),
      (args) => {
        exit = runExplain(args.name as string | undefined, out);
      },
    )
    .demandCommand(
      1,
      "Tell buildrace what to do: check, fix, graph or explain (see buildrace --help)",
    )
    .strict()
    .epilogue(
      [
        "Exit codes: 0 nothing to fix (or dry run done), 1 races need fixing (check) or changes are needed (fix --check), 2 usage error or a file that could not be analysed or written (file:line on stderr; the other files are still processed).",
        "",
        "Environment: NO_COLOR, FORCE_COLOR (colours of the text report); BUILDRACE_WORKERS=n (worker threads for bulk runs; 0: one thread; default: one per 2,500 inputs, at most one per core, from 5,000 inputs); BUILDRACE_AST_MEMO=0 (leave dockerfile-ast's parse as published).",
      ].join("\n"),
    )
    .help()
    .alias("h", "help")
    .version()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`buildrace: ${e.message}\nRun 'buildrace --help' for usage.\n`);
      return EXIT_ERROR;
    }
    throw e;
  }
  return exit;
}

/** What to build, as `docker build` is told: check, fix and graph take the same flags. */
const BUILD_OPTIONS = {
  target: {
    describe: "Stage to build (default: the last stage); case-insensitive",
    type: "string",
  },
  "build-arg": {
    describe: "Build argument KEY=VALUE, as docker build --build-arg (repeatable)",
    type: "string",
    requiresArg: true,
  },
  platform: {
    describe:
      "Target platforms, comma-separated or repeated (e.g. linux/amd64,linux/arm64): one concurrent build each",
    type: "string",
  },
  "bake-target": {
    describe:
      "Bake targets or groups to build, as `docker buildx bake NAME...` (repeatable or comma-separated; default: the bake file's default group or target)",
    type: "string",
    requiresArg: true,
  },
} as const satisfies Record<string, yargs.Options>;

const DEBUG_OPTION = {
  describe: "Show stack traces of internal errors",
  type: "boolean",
  default: false,
} as const satisfies yargs.Options;

function common<T>(y: yargs.Argv<T>) {
  return y
    .positional("paths", {
      describe: "Dockerfiles, compose or bake files, or directories to search (default: .)",
      type: "string",
      array: true,
    })
    .options(BUILD_OPTIONS)
    .option("config", {
      describe:
        "Config file for every input (default: the nearest buildrace.config.json, .buildracerc.json or .buildracerc upward from each file)",
      type: "string",
      requiresArg: true,
    })
    .option("quiet", {
      alias: "q",
      describe: "Only print errors and races that need fixing",
      type: "boolean",
      default: false,
    })
    .option("debug", DEBUG_OPTION);
}

/** A flag given once, several times (yargs then gives an array) or not at all. */
const given = (v: string[] | string | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** A single-valued flag given several times: the last one counts, as with docker build. */
const last = (v: string[] | string | undefined): string | undefined => given(v).at(-1);

/** The comma-separated values of a flag, over every time it is given, trimmed. */
const commaList = (v: string[] | string | undefined): string[] =>
  given(v)
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter((t) => t !== "");

/** Command-line flags as run options; only flags the user gave override a config file. */
export function runOptions(args: CommonArgs & { strategy?: Strategy }): RunOptions {
  const buildArgs: Record<string, string> = {};
  for (const kv of given(args["build-arg"])) {
    const eq = kv.indexOf("=");
    if (eq <= 0) {
      // docker build takes a bare KEY from the environment
      const v = process.env[kv];
      if (eq === 0 || kv === "") throw new UsageError(`--build-arg needs KEY=VALUE, got "${kv}"`);
      if (v !== undefined) buildArgs[kv] = v;
      continue;
    }
    buildArgs[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const platformList = commaList(args.platform);
  const platforms = platformList.length ? platformList : undefined;
  for (const p of platformList)
    if (!/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/.test(p))
      throw new UsageError(`--platform: "${p}" is not os/arch[/variant] (e.g. linux/arm64)`);
  const bakeTargets = commaList(args["bake-target"]);
  return {
    target: last(args.target),
    buildArgs,
    platforms,
    bakeTargets: bakeTargets.length ? bakeTargets : undefined,
    strategy: args.strategy,
    configPath: last(args.config),
    env: process.env as Record<string, string>,
  };
}

/**
 * A progress bar on stderr for long runs (many files), only when stderr is a terminal and
 * the user did not ask for quiet; output on stdout is never touched.
 */
function progressBar(quiet: boolean): {
  update: (done: number, total: number) => void;
  stop: () => void;
} {
  let bar: cliProgress.SingleBar | undefined;
  const enabled = !quiet && Boolean(process.stderr.isTTY);
  return {
    update: (done, total) => {
      if (!enabled || total < PROGRESS_MIN_FILES) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: "buildrace {bar} {value}/{total} files",
            clearOnComplete: true,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      } else bar.setTotal(total);
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

const PROGRESS_MIN_FILES = 50;

/** Paths to work on: the positionals, plus any after `--`; none means the current directory. */
function pathsOf(args: CommonArgs): string[] {
  const rest = ((args as { _?: unknown[] })._ ?? []).slice(1).map(String);
  const paths = [...(args.paths ?? []), ...rest];
  return paths.length ? paths : ["."];
}

/**
 * Discovers and analyses the paths under their configuration. In "fix" mode the verified
 * fixes are computed in the same pass and returned alongside (`fix`, `check --format sarif`).
 */
export async function runAnalysis(
  args: CommonArgs & { strategy?: Strategy; transform?: string },
  mode: "check" | "fix" = "check",
  output?: Output,
): Promise<RunResult> {
  let result: RunResult;
  const workers = process.env.BUILDRACE_WORKERS;
  if (workers && !/^\s*\d+\s*$/.test(workers))
    throw new UsageError(
      `BUILDRACE_WORKERS must be a whole number of worker threads (0: none), not '${workers}'`,
    );
  const progress = progressBar(args.quiet);
  try {
    result = await run(
      pathsOf(args),
      { ...runOptions(args), transformPath: args.transform, onProgress: progress.update, output },
      mode,
    );
  } catch (e) {
    if (e instanceof TransformLoadError || e instanceof ConfigError)
      throw new UsageError(e.message);
    throw e;
  } finally {
    progress.stop();
  }
  if (result.files.length === 0 && result.ignored.length === 0)
    throw new UsageError(
      `no Dockerfile, compose or bake file found in ${pathsOf(args).join(", ")} (looked for Dockerfile, *.Dockerfile, Dockerfile.*, Containerfile, compose*.yml, docker-bake.hcl)`,
    );
  return result;
}

interface CheckArgs extends CommonArgs {
  strategy?: Strategy;
}

async function runCheck(args: CheckArgs, out: (s: string) => void): Promise<number> {
  const started = Date.now();
  if (args.quiet && args.verbose) throw new UsageError("--quiet and --verbose cannot be combined");
  // json and text come back rendered (a bulk run renders in chunks on worker threads)
  const output: Output | undefined =
    args.format === "json"
      ? { format: "json" }
      : args.format === "text"
        ? { format: "text", color: useColor(), quiet: args.quiet, verbose: args.verbose }
        : undefined;
  const result = await runAnalysis(args, args.format === "sarif" ? "fix" : "check", output);
  if (result.rendered) {
    out(result.rendered.render(Date.now() - started));
    return result.rendered.exit;
  }
  if (args.format === "sarif")
    out(
      JSON.stringify(
        toSarif(result, { fixes: result.fixes, strategy: args.strategy ?? "auto" }),
        null,
        2,
      ) + "\n",
    );
  else if (args.format === "json") out(JSON.stringify(toJson(result), null, 2) + "\n");
  else if (args.format === "github") out(toGithub(result));
  else
    out(
      toText(result, {
        color: useColor(),
        quiet: args.quiet,
        verbose: args.verbose,
        elapsedMs: Date.now() - started,
      }),
    );
  return checkExit(result);
}

interface GraphArgs {
  file: string;
  format: "mermaid" | "dot";
  target?: string;
  "build-arg"?: string[] | string;
  platform?: string;
}

async function runGraph(args: GraphArgs, out: (s: string) => void): Promise<number> {
  const result = await runAnalysis({
    ...args,
    paths: [args.file],
    format: "text",
    quiet: false,
    debug: false,
  } as CommonArgs);
  const err = (s: string) => process.stderr.write(s);
  for (const f of result.files)
    for (const d of f.diagnostics)
      if (d.severity === "error")
        err(`${f.path}${d.line ? `:${d.line}` : ""}: error: ${d.message}\n`);
  const view = graphView(result.files);
  if (!view) {
    err(`buildrace: no Dockerfile could be drawn from ${args.file}\n`);
    return EXIT_ERROR;
  }
  out(args.format === "dot" ? toDot(view) : toMermaid(view));
  return result.files.some((f) => f.diagnostics.some((d) => d.severity === "error"))
    ? EXIT_ERROR
    : EXIT_OK;
}

function runExplain(name: string | undefined, out: (s: string) => void): number {
  if (name === undefined) {
    out(`buildrace explain <name>, where name is one of:\n  ${knownNames().join("\n  ")}\n`);
    return EXIT_OK;
  }
  const text = explain(name);
  if (text === undefined) {
    process.stderr.write(
      `buildrace: no rule or tool named "${name}". Known names:\n  ${knownNames().join("\n  ")}\n`,
    );
    return EXIT_ERROR;
  }
  out(text);
  return EXIT_OK;
}

interface FixArgs extends CommonArgs {
  strategy?: Strategy;
  transform?: string;
  write: boolean;
  check: boolean;
}

async function runFix(args: FixArgs, out: (s: string) => void): Promise<number> {
  const result = await runAnalysis(args, "fix", { format: "fix" });
  const plan = { result, fixes: result.fixes ?? [] };
  const err = (s: string) => process.stderr.write(s);
  let failed = false;
  let errors = 0;
  const errorCount = () => (errors ? `, ${errors} error${errors === 1 ? "" : "s"}` : "");
  for (const f of plan.result.files)
    for (const d of f.diagnostics)
      if (d.severity === "error") {
        failed = true;
        errors++;
        err(`${f.path}${d.line ? `:${d.line}` : ""}: error: ${d.message}\n`);
      }
  let changed = 0;
  let written = 0;
  const json = args.format === "json";
  const report: {
    path: string;
    changed: boolean;
    written: boolean;
    notes: string[];
    error?: string;
    diff: string;
  }[] = [];
  for (const fix of plan.fixes) {
    const entry = {
      path: fix.path.split("\\").join("/"),
      changed: false,
      written: false,
      notes: fix.notes,
      diff: "",
    } as (typeof report)[number];
    report.push(entry);
    if (fix.error) {
      failed = true;
      errors++;
      entry.error = fix.error;
      err(`${fix.path}: error: ${fix.error}\n`);
      continue;
    }
    if (fix.after === fix.before) continue;
    changed++;
    entry.changed = true;
    entry.diff = gitDiff(fix.path, fix.before, fix.after);
    if (!args.quiet && !json) for (const n of fix.notes) err(`${fix.path}: ${n}\n`);
    if (args.write) {
      await betweenWrites(); // lets Ctrl-C stop between files, never inside one
      const problem = writeAtomic(fix.path, fix.before, fix.after);
      if (problem) {
        failed = true;
        errors++;
        entry.error = problem;
        err(`${fix.path}: error: ${problem}\n`);
      } else {
        written++;
        entry.written = true;
      }
    } else if (!json) out(entry.diff);
  }
  if (json) {
    const errors = plan.result.files
      .filter((f) => f.diagnostics.some((d) => d.severity === "error"))
      .map((f) => ({ path: f.path, errors: f.diagnostics.filter((d) => d.severity === "error") }));
    out(JSON.stringify({ version: 1, files: report, errors }, null, 2) + "\n");
  }
  if (!args.quiet && !json)
    err(
      args.write
        ? `buildrace: ${written} file${written === 1 ? "" : "s"} rewritten${errorCount()}\n`
        : `buildrace: ${changed} file${changed === 1 ? "" : "s"} would change${changed ? " (dry run; apply with --write or git apply)" : ""}${errorCount()}\n`,
    );
  if (failed) return EXIT_ERROR;
  if (args.check && changed > 0) return EXIT_FINDINGS;
  return EXIT_OK;
}

export function checkExit(result: AnalysisResult): number {
  return exitOf(countsOf(result.files));
}

/** Colour only on a terminal; NO_COLOR (no-color.org) wins, FORCE_COLOR forces it (0/false: off). */
export function useColor(
  env: NodeJS.ProcessEnv = process.env,
  tty = process.stdout.isTTY,
): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !(force === "0" || force.toLowerCase() === "false");
  return Boolean(tty);
}
