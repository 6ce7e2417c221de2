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
        continue;
      }
      if (v.deps.length === 1 && this.vertices[v.deps[0]].cacheIndex < 0) {
        this.anc.push(this.anc[v.deps[0]]); // a chain without cache steps shares its set
        continue;
      }
      const set = new Uint32Array(words);
      for (const d of v.deps) {
        const a = this.anc[d];
        for (let w = 0; w < words; w++) set[w] |= a[w];
        const ci = this.vertices[d].cacheIndex;
        if (ci >= 0) set[ci >>> 5] |= 1 << (ci & 31);
      }
      this.anc.push(set);
    }
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

  /** Calls `fn` for every pair of cache vertices that may run at the same time. */
  forEachOverlappingPair(fn: (a: number, b: number) => void): void {
    const cv = this.cacheVertices;
    for (let j = 1; j < cv.length; j++) {
      const aj = this.anc[cv[j]];
      for (let i = 0; i < j; i++) {
        // cv[i] was added before cv[j], so cv[j] cannot be an ancestor of cv[i].
        if ((aj[i >>> 5] & (1 << (i & 31))) === 0) fn(cv[i], cv[j]);
      }
    }
  }
}
