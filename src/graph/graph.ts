/**
 * Schedule graph: the union of every concurrently solved DAG (all builds, all platforms),
 * one vertex per distinct operation, as BuildKit's solver de-duplicates identical ops.
 * Two vertices may run at the same time exactly when neither is an ancestor of the other.
 * This module is the only place that answers "can these overlap?".
 */
import { ResolvedBuild, Step } from "../resolve/resolve";

export interface Vertex {
  sig: string;
  deps: number[];
  /** Every build/platform instance that maps to this operation. */
  steps: Step[];
  /** Index among cache vertices, or -1 when the step mounts no cache. */
  cacheIndex: number;
}

export class StepGraph {
  readonly vertices: Vertex[] = [];
  /** Vertex ids of steps with cache mounts, in topological order. */
  readonly cacheVertices: number[] = [];
  private readonly bySig = new Map<string, number>();
  /** For each vertex, the set of cache-vertex indices among its ancestors. */
  private anc: Uint32Array[] = [];
  /** For each vertex, how many leading words of its ancestor set are all ones. */
  private full: number[] = [];

  constructor(builds: ResolvedBuild[]) {
    for (const b of builds) for (const s of b.steps) this.add(s);
    this.computeAncestors();
  }

  private add(step: Step): void {
    const existing = this.bySig.get(step.sig);
    if (existing !== undefined) {
      this.vertices[existing].steps.push(step);
      return;
    }
    const deps: number[] = [];
    for (const d of step.deps) {
      const v = this.bySig.get(d);
      if (v !== undefined && !deps.includes(v)) deps.push(v);
    }
    const id = this.vertices.length;
    const cacheIndex = step.cacheMounts.length ? this.cacheVertices.length : -1;
    if (cacheIndex >= 0) this.cacheVertices.push(id);
    this.vertices.push({ sig: step.sig, deps, steps: [step], cacheIndex });
    this.bySig.set(step.sig, id);
  }

  private computeAncestors(): void {
    const words = Math.ceil(this.cacheVertices.length / 32) || 1;
    const empty = new Uint32Array(words);
    // Vertices were added in dependency order, so every dep is computed before its user.
    for (const v of this.vertices) {
      if (v.deps.length === 0) {
        this.anc.push(empty);
        this.full.push(0);
        continue;
      }
      if (v.deps.length === 1 && this.vertices[v.deps[0]].cacheIndex < 0) {
        this.anc.push(this.anc[v.deps[0]]); // a chain without cache steps shares its set
        this.full.push(this.full[v.deps[0]]);
        continue;
      }
      // the words every dep has all ones in (a long chain's past) need no OR
      let from = 0;
      for (const d of v.deps) from = Math.max(from, this.full[d]);
      const set = new Uint32Array(words);
      set.fill(0xffffffff, 0, from);
      for (const d of v.deps) {
        const a = this.anc[d];
        for (let w = from; w < words; w++) set[w] |= a[w];
        const ci = this.vertices[d].cacheIndex;
        if (ci >= 0) set[ci >>> 5] |= 1 << (ci & 31);
      }
      let f = from;
      while (f < words && set[f] === 0xffffffff) f++;
      this.anc.push(set);
      this.full.push(f);
    }
  }

  /** 32-bit words in an ancestor set (one bit per cache vertex, by cache index). */
  get words(): number {
    return Math.ceil(this.cacheVertices.length / 32) || 1;
  }

  /**
   * The cache vertices among the ancestors of vertex `v`, as a bitset by cache index. Every
   * ancestor was added before `v`, so a cache vertex added after `v` never is one. Read only.
   */
  ancestors(v: number): Uint32Array {
    return this.anc[v];
  }

  /** How many leading words of `ancestors(v)` are all ones (no overlap can be found there). */
  fullWords(v: number): number {
    return this.full[v];
  }

  /** Is cache vertex `a` (by vertex id) an ancestor of vertex `b`? */
  private isAncestor(a: number, b: number): boolean {
    const ci = this.vertices[a].cacheIndex;
    return (this.anc[b][ci >>> 5] & (1 << (ci & 31))) !== 0;
  }

  /** Can two distinct cache vertices run at the same time? */
  overlaps(a: number, b: number): boolean {
    if (a === b) return false;
    return !this.isAncestor(a, b) && !this.isAncestor(b, a);
  }

  /**
   * Calls `fn` for every pair of cache vertices that may run at the same time, in the order
   * (b ascending, then a ascending) of their cache indices. Whole words of ancestors (a chain
   * of steps) are skipped at once.
   */
  forEachOverlappingPair(fn: (a: number, b: number) => void): void {
    const cv = this.cacheVertices;
    for (let j = 1; j < cv.length; j++) {
      // cv[i] (i < j) was added before cv[j], so cv[j] cannot be an ancestor of cv[i]:
      // they overlap when bit i of cv[j]'s ancestors is clear.
      const aj = this.anc[cv[j]];
      const last = (j - 1) >>> 5;
      for (let w = this.full[cv[j]]; w <= last; w++) {
        let free = ~aj[w];
        const bits = j - (w << 5); // indices w*32 .. j-1 are candidates
        if (bits < 32) free &= (1 << bits) - 1;
        while (free !== 0) {
          const low = free & -free;
          fn(cv[(w << 5) + 31 - Math.clz32(low)], cv[j]);
          free ^= low;
        }
      }
    }
  }
}
