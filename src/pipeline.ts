/**
 * The analysis pipeline in one place: discovered inputs → parsed Dockerfiles → builds that
 * run together (a plain Dockerfile alone; all services of a compose file or all targets of
 * a bake file together) → resolved steps → schedule graph → races → per-file results.
 */
import * as path from "path";
import { Diagnostic } from "./diagnostics";
import { InputFile, readText } from "./discover/discover";
import { DeclaredBuilds } from "./discover/types";
import { StepGraph } from "./graph/graph";
import { UserRule } from "./knowledge/kb";
import { ParsedDockerfile, parseDockerfile } from "./parse/dockerfile";
import { findRaces, ParallelPair, Race } from "./races/races";
import { BuildSpec, HOST_PLATFORM } from "./resolve/build";
import { CacheRun, resolveBuild, ResolvedBuild } from "./resolve/resolve";

export interface AnalyzeOptions {
  target?: string;
  buildArgs?: Record<string, string>;
  platforms?: string[];
  /** Extra knowledge-base rules (config). */
  rules?: UserRule[];
  /** Environment for compose/bake interpolation. */
  env?: Record<string, string>;
  /** Bake targets or groups to build (default: the "default" group, else all). */
  bakeTargets?: string[];
  /** In-memory file contents by absolute path (verifying a rewrite before it is written). */
  overrides?: Map<string, string>;
  /**
   * Progress display: input files done and in all, before each group of builds is analysed
   * and at the end (a compose file and the Dockerfiles it builds are done together).
   */
  onProgress?: (done: number, total: number) => void;
}

export interface FileResult {
  /** Path as given or found (relative paths stay relative). */
  path: string;
  kind: InputFile["kind"];
  parsed?: ParsedDockerfile;
  builds: { name: string; target: string; platforms: string[] }[];
  cacheRuns: CacheRun[];
  pairs: ParallelPair[];
  races: Race[];
  diagnostics: Diagnostic[];
  /** The resolved builds (one per build and platform) this file took part in (for `graph`). */
  resolved?: ResolvedBuild[];
}

export interface AnalysisResult {
  files: FileResult[];
}

/** Loads builds declared by compose/bake files; injected so the core stays independent of YAML/HCL. */
export type BuildLoader = (
  file: InputFile,
  text: string,
  opts: AnalyzeOptions,
) => Promise<DeclaredBuilds>;

export async function analyze(
  inputs: InputFile[],
  opts: AnalyzeOptions = {},
  loadBuilds?: BuildLoader,
): Promise<AnalysisResult> {
  const results = new Map<string, FileResult>();
  const read = (p: string) => {
    const o = opts.overrides?.get(path.resolve(p));
    return o !== undefined ? { text: o } : readText(p);
  };
  const parsedByAbs = new Map<string, ParsedDockerfile | undefined>();
  const resultFor = (p: string, kind: InputFile["kind"]): FileResult => {
    const abs = path.resolve(p);
    let r = results.get(abs);
    if (!r) {
      r = { path: p, kind, builds: [], cacheRuns: [], pairs: [], races: [], diagnostics: [] };
      results.set(abs, r);
    }
    return r;
  };
  const parseOnce = (p: string): ParsedDockerfile | undefined => {
    const abs = path.resolve(p);
    if (parsedByAbs.has(abs)) return parsedByAbs.get(abs);
    const r = resultFor(p, "dockerfile");
    const text = read(p);
    let parsed: ParsedDockerfile | undefined;
    if ("error" in text)
      r.diagnostics.push({ line: text.line ?? 0, message: text.error, severity: "error" });
    else {
      try {
        parsed = parseDockerfile(p, text.text);
        r.parsed = parsed;
        r.diagnostics.push(...parsed.errors);
      } catch (e) {
        r.diagnostics.push(internalError(e));
      }
    }
    parsedByAbs.set(abs, parsed);
    return parsed;
  };

  // Builds declared by compose/bake files run together; their Dockerfiles are analysed there.
  const groups: BuildSpec[][] = [];
  const declaredDockerfiles = new Set<string>();
  for (const input of inputs) {
    if (input.kind === "dockerfile") continue;
    const r = resultFor(input.path, input.kind);
    const content = read(input.path);
    if ("error" in content) {
      r.diagnostics.push({ line: content.line ?? 0, message: content.error, severity: "error" });
      continue;
    }
    if (!loadBuilds) {
      r.diagnostics.push({
        line: 0,
        message: `${input.kind} files are not supported here`,
        severity: "error",
      });
      continue;
    }
    const declared = await loadBuilds(input, content.text, opts);
    r.diagnostics.push(...declared.diagnostics);
    const group: BuildSpec[] = [];
    for (const d of declared.builds) {
      const rel = relativeTo(input.path, d.dockerfile);
      declaredDockerfiles.add(path.resolve(d.dockerfile));
      const parsed = parseOnce(rel);
      if (!parsed) continue;
      group.push({
        name: d.name,
        file: parsed,
        target: d.target,
        buildArgs: d.buildArgs,
        platforms: d.platforms.length ? d.platforms : [HOST_PLATFORM],
        context: d.context,
        definedIn: input.path,
      });
    }
    if (group.length) groups.push(group);
  }
  for (const input of inputs) {
    if (input.kind !== "dockerfile") continue;
    if (declaredDockerfiles.has(path.resolve(input.path))) continue;
    const parsed = parseOnce(input.path);
    if (!parsed) continue;
    groups.push([
      {
        name: "default",
        file: parsed,
        target: opts.target,
        buildArgs: opts.buildArgs ?? {},
        platforms: opts.platforms?.length ? opts.platforms : [HOST_PLATFORM],
        context: path.resolve(path.dirname(input.path)),
      },
    ]);
  }

  const progress = opts.onProgress && inputProgress(inputs, opts.onProgress);
  for (const group of groups) {
    progress?.(group);
    try {
      analyzeGroup(group, opts, (p) => resultFor(p, "dockerfile"));
    } catch (e) {
      // a bug met on one input must not end a bulk run: that group's files report it
      for (const b of group)
        resultFor(b.file.path, "dockerfile").diagnostics.push(internalError(e));
    }
  }
  opts.onProgress?.(inputs.length, inputs.length);

  const files = [...results.values()];
  for (const f of files) {
    f.diagnostics = dedupeDiagnostics(f.diagnostics);
  }
  return { files };
}

/** Analyses builds that run at the same time on one builder, and files the results. */
function analyzeGroup(
  group: BuildSpec[],
  opts: AnalyzeOptions,
  resultFor: (p: string) => FileResult,
): void {
  const resolved: ResolvedBuild[] = [];
  const blocked = new Set<ParsedDockerfile>();
  for (const build of group) {
    if (build.file.errors.some((e) => e.severity === "error")) {
      blocked.add(build.file);
      continue;
    }
    for (const platform of build.platforms) {
      const rb = resolveBuild(build, platform);
      resolved.push(rb);
      const r = resultFor(build.file.path);
      r.diagnostics.push(...rb.diagnostics);
      r.cacheRuns.push(...rb.cacheRuns);
      (r.resolved ??= []).push(rb);
    }
    const r = resultFor(build.file.path);
    const targetStage = resolved[resolved.length - 1]?.targetStage;
    r.builds.push({
      name: build.name,
      target: targetStage ? (targetStage.name ?? String(targetStage.index)) : (build.target ?? ""),
      platforms: build.platforms,
    });
  }
  // A build the engine would reject does not run: leave it out of the schedule.
  const runnable = resolved.filter((rb) => !rb.diagnostics.some((d) => d.severity === "error"));
  const graph = new StepGraph(runnable);
  const { pairs, races } = findRaces(graph, opts.rules);
  for (const p of pairs) {
    if (p.a.build.file !== p.b.build.file) continue;
    resultFor(p.a.build.file.path).pairs.push(p);
  }
  for (const race of races) {
    const filesInRace = new Set(race.uses.map((u) => u.step.build.file.path));
    for (const f of filesInRace) resultFor(f).races.push(race);
  }
  void blocked;
}

function relativeTo(declaringFile: string, target: string): string {
  const rel = path.relative(process.cwd(), target);
  return rel.startsWith("..") || path.isAbsolute(rel) ? target : rel || target;
  void declaringFile;
}

function dedupeDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const raw of ds) {
    // one line per diagnostic: control characters from the input (a lone CR in a mount
    // option, say) are shown escaped, never printed raw
    const d = { ...raw, message: oneLine(raw.message) };
    const k = `${d.line}\u0000${d.severity}\u0000${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out.sort((a, b) => a.line - b.line);
}

function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/g, (c) =>
    c === "\r" ? "\\r" : c === "\n" ? "\\n" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function internalError(e: unknown): Diagnostic {
  const why = e instanceof Error ? e.message : String(e);
  return {
    line: 0,
    message: `internal error while analysing this file (please report it): ${why.split("\n")[0]}`,
    severity: "error",
  };
}

/**
 * Reports the inputs done before each group (`report(group)`): the inputs of the groups
 * reported before it, each counted once.
 */
function inputProgress(
  inputs: InputFile[],
  onProgress: (done: number, total: number) => void,
): (group: BuildSpec[]) => void {
  const wanted = new Set(inputs.map((i) => path.resolve(i.path)));
  const done = new Set<string>();
  let last: BuildSpec[] | undefined;
  const count = (p: string | undefined) => {
    const abs = p === undefined ? undefined : path.resolve(p);
    if (abs !== undefined && wanted.has(abs)) done.add(abs);
  };
  return (group) => {
    for (const b of last ?? []) {
      count(b.file.path);
      count(b.definedIn);
    }
    last = group;
    onProgress(done.size, inputs.length);
  };
}
