/**
 * The work of a bulk run, in pieces a worker thread (or the main thread) can do alone:
 * reading which builds compose and bake files declare, and analysing (or fixing) a chunk of
 * inputs that shares no analysis group with any other chunk. Tasks and results are plain
 * data.
 */
import * as path from "path";
import { planFixes } from "../apply/fix";
import { Strategy } from "../apply/load";
import { InputFile, readText } from "../discover/discover";
import { defaultLoader } from "../discover/load";
import { DeclaredBuilds } from "../discover/types";
import { analyze, AnalyzeOptions, BuildLoader } from "../pipeline";
import { planChunks } from "./plan";
import { ChunkOut, joinChunks, Output, renderChunk } from "./render";

/** Analysis options without functions (they cross to a worker by structured clone). */
export type ChunkOptions = Omit<AnalyzeOptions, "onProgress" | "overrides">;

/** Read compose/bake files and return the builds they declare (undefined: unreadable). */
export interface LoadTask {
  kind: "load";
  files: InputFile[];
  options: ChunkOptions;
}

/** Analyse, or with `strategy` fix, a chunk of inputs, and render it for `output`. */
export interface ChunkTask {
  kind: "chunk";
  inputs: InputFile[];
  options: ChunkOptions;
  /** Builds of the chunk's compose/bake files (by absolute path), as the load task read them. */
  declared: [string, DeclaredBuilds][];
  output: Output;
  fix?: { strategy: Strategy; transformPath?: string };
}

export type Task = LoadTask | ChunkTask;
export type TaskResult = (DeclaredBuilds | undefined)[] | ChunkOut;

export async function runTask(task: Task): Promise<TaskResult> {
  return task.kind === "load" ? loadDeclared(task) : runChunk(task);
}

/** What analyze would get from the loader for each file (undefined where it cannot read it). */
async function loadDeclared(task: LoadTask): Promise<(DeclaredBuilds | undefined)[]> {
  const out: (DeclaredBuilds | undefined)[] = [];
  for (const f of task.files) {
    const text = readText(f.path);
    out.push("error" in text ? undefined : await defaultLoader(f, text.text, task.options));
  }
  return out;
}

/**
 * Analysis groups a chunk analyses at a time. Each piece is analysed and rendered, and its
 * parsed files dropped, before the next: with few files alive, the garbage dies young (a
 * chunk analysed at once runs about 20% slower, and scales worse across cores).
 */
const PIECE = 4;

async function runChunk(task: ChunkTask): Promise<ChunkOut> {
  const byPath = new Map(task.declared);
  // the builds the chunk was planned with (a file the load task could not read: as analyze finds it)
  const loader: BuildLoader = (file, text, opts) => {
    const d = byPath.get(path.resolve(file.path));
    return d ? Promise.resolve(d) : defaultLoader(file, text, opts);
  };
  const outs: ChunkOut[] = [];
  for (const piece of planChunks(task.inputs, new Map(task.declared), PIECE)) {
    if (task.fix) {
      const plan = await planFixes(piece.inputs, { ...task.options, ...task.fix }, loader);
      outs.push(renderChunk(plan.result, plan.fixes, task.output));
    } else
      outs.push(
        renderChunk(await analyze(piece.inputs, task.options, loader), undefined, task.output),
      );
  }
  return joinChunks(outs);
}
