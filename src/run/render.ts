/**
 * Bulk runs split their inputs into chunks (worker threads analyse them, see run.ts); a
 * chunk comes back as plain data: its files already rendered for the output the caller asked
 * for, or, for `fix`, the files' diagnostics and the fixes. The chunks are assembled in input
 * order into exactly what rendering the whole run at once gives.
 */
import { FileFix } from "../apply/fix";
import { AnalysisResult, FileResult } from "../pipeline";
import { toJson } from "../report/json";
import { Counts, countsOf, exitOf, summaryLine, toText } from "../report/text";

/** What the caller does with a run's result, so a bulk run may hand back only that. */
export type Output =
  /** `check --format json`: the JSON report. */
  | { format: "json" }
  /** `check` (text): the text report (the elapsed time is added when it is printed). */
  | { format: "text"; color: boolean; quiet?: boolean; verbose?: boolean }
  /** `fix`: the fixes, and per file only its path, kind, builds and diagnostics. */
  | { format: "fix" };

/** The report of a run, rendered. */
export interface Rendered {
  /** The text to print (`elapsedMs` goes into the text report's summary line). */
  render(elapsedMs?: number): string;
  /** `check`'s exit code: 2 when a file has an error, 1 when a race needs fixing, else 0. */
  exit: number;
}

/** One chunk, rendered (plain data: it crosses from a worker thread by structured clone). */
export interface ChunkOut {
  counts: Counts;
  /** The files without their analysis details (path, kind, builds, diagnostics). */
  files: FileResult[];
  /** json: the files' JSON, each indented as an element of the report's `files`, comma-joined. */
  json?: string;
  /** text: the per-file lines (errors, race blocks), and the `--verbose` lines, or "". */
  blocks?: string;
  verbose?: string;
  /** fix: the fixes. */
  fixes?: FileFix[];
}

/**
 * The files' part of `JSON.stringify(report, null, 2)`: each file as an element of the
 * report's `files` (indented 4), comma-joined. (JSON text has no raw newline but its own.)
 */
function filesJson(files: unknown[]): string {
  if (!files.length) return "";
  // nested two deep, the files are indented as in the report: "[\n  [\n    {...},\n    {...}\n  ]\n]"
  const s = JSON.stringify([files], null, 2);
  return s.slice("[\n  [\n    ".length, s.length - "\n  ]\n]".length);
}

/** The lines toText prints before its summary (and the blank line), as one string. */
function head(text: string): string {
  const cut = text.lastIndexOf("\n", text.length - 2); // the summary is the last line
  return cut < 0 ? "" : text.slice(0, cut - 1); // drop the blank line before it
}

/** Renders one chunk's analysis (the files in their run order) for `output`. */
export function renderChunk(
  result: AnalysisResult,
  fixes: FileFix[] | undefined,
  output: Output,
): ChunkOut {
  const counts = countsOf(result.files);
  const files = result.files.map(light);
  if (output.format === "json") return { counts, files, json: filesJson(toJson(result).files) };
  if (output.format === "text") {
    const opts = { color: output.color, quiet: output.quiet };
    const blocks = head(toText(result, opts));
    let verbose = "";
    if (output.verbose) {
      const both = head(toText(result, { ...opts, verbose: true }));
      verbose = blocks ? both.slice(blocks.length + 1) : both;
    }
    return { counts, files, blocks, verbose };
  }
  return { counts, files, fixes };
}

/** A file's result with only what `fix` reads (path, kind, builds, diagnostics). */
function light(f: FileResult): FileResult {
  return {
    path: f.path,
    kind: f.kind,
    builds: f.builds,
    cacheRuns: [],
    pairs: [],
    races: [],
    diagnostics: f.diagnostics,
  };
}

/** Consecutive chunks as one (what rendering their inputs as one chunk gives). */
export function joinChunks(chunks: ChunkOut[]): ChunkOut {
  if (chunks.length === 1) return chunks[0];
  const counts: Counts = { files: 0, errors: 0, warnings: 0, races: 0, failing: 0, suppressed: 0 };
  for (const c of chunks)
    for (const k of Object.keys(counts) as (keyof Counts)[]) counts[k] += c.counts[k];
  const joined = (k: "json" | "blocks" | "verbose", sep: string) =>
    chunks.some((c) => c[k] !== undefined)
      ? chunks
          .map((c) => c[k] ?? "")
          .filter((t) => t !== "")
          .join(sep)
      : undefined;
  const out: ChunkOut = { counts, files: chunks.flatMap((c) => c.files) };
  const json = joined("json", ",\n    ");
  if (json !== undefined) out.json = json;
  const blocks = joined("blocks", "\n");
  if (blocks !== undefined) out.blocks = blocks;
  const verbose = joined("verbose", "\n");
  if (verbose !== undefined) out.verbose = verbose;
  if (chunks.some((c) => c.fixes)) out.fixes = chunks.flatMap((c) => c.fixes ?? []);
  return out;
}

/** Puts the chunks (in input order) together into the run's report. */
export function assemble(chunks: ChunkOut[], output: Output): Rendered {
  const all = joinChunks(chunks);
  const total = all.counts;
  const exit = exitOf(total);
  if (output.format === "json") {
    const empty = JSON.stringify(toJson({ files: [] }), null, 2);
    const text = all.json
      ? empty.replace('\n  "files": []', `\n  "files": [\n    ${all.json}\n  ]`)
      : empty;
    return { exit, render: () => text + "\n" };
  }
  if (output.format === "text") {
    const parts = [all.blocks ?? "", all.verbose ?? ""].filter((p) => p !== "");
    const body = parts.length ? parts.join("\n") + "\n\n" : "";
    return { exit, render: (elapsedMs) => body + summaryLine(total, elapsedMs) + "\n" };
  }
  return { exit, render: () => "" };
}
