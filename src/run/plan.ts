/**
 * Splitting a run's inputs into chunks that can be analysed apart. analyze() files its
 * results in this order: each compose/bake file, followed by the Dockerfiles it builds (the
 * first time one is met), then the plain Dockerfiles no compose or bake file builds. A
 * compose/bake file and the Dockerfiles it builds are one analysis group, and groups that
 * share a Dockerfile share its result: such connected inputs stay in one chunk, and a chunk
 * is a run of consecutive results, so the chunks' results, concatenated, are the run's.
 */
import * as path from "path";
import { InputFile } from "../discover/discover";
import { DeclaredBuilds } from "../discover/types";

export interface Chunk {
  /** The chunk's inputs, in input order. */
  inputs: InputFile[];
  /** Builds of its compose/bake files, by absolute path. */
  declared: [string, DeclaredBuilds][];
}

/**
 * `declared`: per compose/bake input (by absolute path) the builds it declares, or undefined
 * when it cannot be read (it then builds nothing). `size`: the number of results a chunk
 * should hold about; chunks only end where no group continues.
 */
export function planChunks(
  inputs: InputFile[],
  declared: Map<string, DeclaredBuilds | undefined>,
  size: number,
): Chunk[] {
  // Results in analyze's order (by absolute path), and the component of each.
  const order: string[] = [];
  const seen = new Set<string>();
  const parent = new Map<string, string>();
  const find = (p: string): string => {
    let r = p;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    for (let x = p; x !== r;) {
      const next = parent.get(x) as string;
      parent.set(x, r);
      x = next;
    }
    return r;
  };
  const entry = (abs: string) => {
    if (seen.has(abs)) return;
    seen.add(abs);
    order.push(abs);
    parent.set(abs, abs);
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(rb, ra);
  };
  const builtByDeclaration = new Set<string>();
  for (const input of inputs) {
    if (input.kind === "dockerfile") continue;
    const abs = path.resolve(input.path);
    entry(abs);
    for (const b of declared.get(abs)?.builds ?? []) {
      const df = path.resolve(b.dockerfile);
      builtByDeclaration.add(df);
      entry(df);
      union(abs, df);
    }
  }
  for (const input of inputs) {
    if (input.kind !== "dockerfile") continue;
    const abs = path.resolve(input.path);
    if (!builtByDeclaration.has(abs)) entry(abs);
  }

  // Where each component's results end; a chunk may end after position i when every
  // component begun by then has ended.
  const lastOf = new Map<string, number>();
  order.forEach((abs, i) => lastOf.set(find(abs), i));
  const chunkOf = new Map<string, number>(); // component root -> chunk index
  let chunks = 0;
  let start = 0;
  let reach = -1;
  for (let i = 0; i < order.length; i++) {
    const root = find(order[i]);
    reach = Math.max(reach, lastOf.get(root) as number);
    chunkOf.set(root, chunks);
    if (reach === i && i + 1 - start >= size) {
      chunks++;
      start = i + 1;
    }
  }
  const out: Chunk[] = [];
  for (const input of inputs) {
    const abs = path.resolve(input.path);
    const c = chunkOf.get(find(abs)) as number;
    while (out.length <= c) out.push({ inputs: [], declared: [] });
    out[c].inputs.push(input);
    const d = declared.get(abs);
    if (input.kind !== "dockerfile" && d) out[c].declared.push([abs, d]);
  }
  return out.filter((c) => c.inputs.length > 0);
}
