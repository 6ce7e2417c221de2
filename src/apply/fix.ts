/**
 * Apply stage: run a transform over every file with races, merge its edits, and verify the
 * result before anything is written — the new text re-parses, re-analyses with no race
 * left that needed fixing, and a second run changes nothing.
 */
import * as path from "path";
import { InputFile } from "../discover/discover";
import { analyze, AnalysisResult, AnalyzeOptions, BuildLoader, FileResult } from "../pipeline";
import { asResult, createApi } from "./api";
import { applyEdits } from "./edits";
import { findingsFor, transformFile } from "./findings";
import { loadTransform, Strategy } from "./load";
import { Transform } from "./types";

export interface FixOptions extends AnalyzeOptions {
  strategy: Strategy;
  /** Path of a user transform module; replaces the strategy. */
  transformPath?: string;
}

export interface FileFix {
  path: string;
  before: string;
  after: string;
  notes: string[];
  /** Set when the rewrite failed or failed verification: the file must not be written. */
  error?: string;
}

export interface FixPlan {
  result: AnalysisResult;
  fixes: FileFix[];
}

/** Races a fix must remove: not safe by design, not silenced by `# buildrace-ignore`. */
const needsFix = (f: FileResult) => f.races.filter((r) => r.safety !== "safe" && !r.suppressed);

function runTransform(
  transform: Transform,
  f: FileResult,
): { text: string; notes: string[] } | { error: string } {
  try {
    return transformOnce(transform, f);
  } catch (e) {
    // a bug met on one file must not end a bulk run: that file is reported and left alone
    const why = e instanceof Error ? e.message : String(e);
    return { error: `internal error while fixing this file (please report it): ${firstLine(why)}` };
  }
}

const firstLine = (s: string) => s.split(/\r\n|\r|\n/)[0];

function transformOnce(
  transform: Transform,
  f: FileResult,
): { text: string; notes: string[] } | { error: string } {
  if (!f.parsed) return { error: "not parsed" };
  const races = needsFix(f);
  if (races.length === 0) return { text: f.parsed.text, notes: [] };
  const tf = transformFile(f, f.parsed);
  const findings = findingsFor(f, tf, races);
  let out;
  try {
    out = transform(tf, findings, createApi(tf));
  } catch (e) {
    return { error: `transform failed: ${firstLine(String((e as Error)?.message ?? e))}` };
  }
  const res = asResult(out);
  if (!res || !Array.isArray(res.edits))
    return { error: "transform must return edits (Edit[] or { edits })" };
  const applied = applyEdits(f.parsed.text, res.edits);
  if ("error" in applied) return { error: applied.error };
  return { text: applied.text, notes: res.notes ?? [] };
}

export async function planFixes(
  inputs: InputFile[],
  opts: FixOptions,
  loader?: BuildLoader,
): Promise<FixPlan> {
  const transform = loadTransform(opts.strategy, opts.transformPath);
  const result = await analyze(inputs, opts, loader);
  const fixes: FileFix[] = [];
  for (const f of result.files) {
    if (!f.parsed || needsFix(f).length === 0) continue;
    if (f.diagnostics.some((d) => d.severity === "error")) continue;
    const r = runTransform(transform, f);
    if ("error" in r)
      fixes.push({
        path: f.path,
        before: f.parsed.text,
        after: f.parsed.text,
        notes: [],
        error: r.error,
      });
    else fixes.push({ path: f.path, before: f.parsed.text, after: r.text, notes: r.notes });
  }
  const changed = fixes.filter((x) => !x.error && x.after !== x.before);
  if (changed.length) await verify(inputs, opts, loader, result, changed, transform);
  return { result, fixes };
}

/**
 * The inputs whose analysis groups hold a changed file: the file itself when it is a plain
 * Dockerfile, else every compose or bake file that builds it. A file's result depends only
 * on the groups it is built in, so re-analysing these re-verifies it exactly; everything
 * else is left out. All the inputs when a changed file's groups are not known.
 */
function groupsWith(inputs: InputFile[], before: AnalysisResult, changed: FileFix[]): InputFile[] {
  const byPath = new Map(before.files.map((f) => [path.resolve(f.path), f]));
  const keep = new Set<string>();
  for (const c of changed) {
    const f = byPath.get(path.resolve(c.path));
    if (!f?.resolved?.length) return inputs;
    for (const rb of f.resolved) keep.add(path.resolve(rb.build.definedIn ?? f.path));
  }
  return inputs.filter((i) => keep.has(path.resolve(i.path)));
}

async function verify(
  inputs: InputFile[],
  opts: FixOptions,
  loader: BuildLoader | undefined,
  before: AnalysisResult,
  changed: FileFix[],
  transform: Transform,
): Promise<void> {
  const overrides = new Map(changed.map((c) => [path.resolve(c.path), c.after]));
  const after = await analyze(
    groupsWith(inputs, before, changed),
    { ...opts, overrides, onProgress: undefined },
    loader,
  );
  const byPath = new Map(after.files.map((f) => [path.resolve(f.path), f]));
  const oldByPath = new Map(before.files.map((f) => [path.resolve(f.path), f]));
  for (const c of changed) {
    const f = byPath.get(path.resolve(c.path));
    const old = oldByPath.get(path.resolve(c.path));
    const fail = (why: string) => {
      c.error = `rewrite failed verification: ${why}; file left unchanged`;
    };
    if (!f || !f.parsed) {
      fail("the new text could not be read back");
      continue;
    }
    const errs = f.diagnostics.filter((d) => d.severity === "error");
    if (errs.length) {
      fail(`the new text does not parse or build: line ${errs[0].line}: ${errs[0].message}`);
      continue;
    }
    const remaining = needsFix(f);
    const limit = opts.transformPath ? needsFix(old as FileResult).length : 0;
    if (remaining.length > limit) {
      const r = remaining[0];
      fail(
        `a race remains on ${r.key} (line ${r.uses.map((u) => u.step.instruction.line).join(", ")})`,
      );
      continue;
    }
    const again = runTransform(transform, f);
    if ("error" in again || again.text !== c.after)
      fail("a second run would change the file again (not idempotent)");
  }
}
