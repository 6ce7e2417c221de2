/**
 * Race stage: from the schedule graph, which cache RUNs may overlap (`parallel`), which
 * overlapping uses share a key while both `shared` (SPEC §2 "When two uses race"), and
 * nested cache mounts in overlapping steps (runc 1.2.0-1.2.2 `mkdirat ... file exists`).
 */
import { posix } from "path";
import { StepGraph } from "../graph/graph";
import { CacheKind, classify, Safety, UserRule } from "../knowledge/kb";
import { keyValues, ResolvedMount, Step } from "../resolve/resolve";
import { mayEqual } from "../resolve/shell";

export type Fix = "lock" | "split" | "none";

export interface RaceUse {
  step: Step;
  mount: ResolvedMount;
}

export interface Race {
  rule: "shared-cache-race" | "nested-cache-mount";
  key: string;
  kind: CacheKind;
  safety: Safety;
  fix: Fix;
  /** Every racing (step, mount) instance. */
  uses: RaceUse[];
  /** The same instruction overlaps with another instance of itself (platform or build). */
  selfRace: { platforms: boolean; builds: boolean };
  /** Locked or private uses of this key that overlap the racing ones (a half-locked group). */
  lockedUses: RaceUse[];
  /** Why this fix (for reports). */
  reason: string;
  /**
   * For a step racing with itself across builds: a build arg declared in its stage whose
   * value differs between every racing build, so `id=...-$ARG` separates them.
   */
  splitArg?: string;
  /** Every racing use but at most one is silenced by `# buildrace-ignore` (see isSuppressed). */
  suppressed?: boolean;
}

export interface ParallelPair {
  a: Step;
  b: Step;
}

export interface RaceAnalysis {
  /** Overlapping cache-step instance pairs (one representative per distinct vertex pair). */
  pairs: ParallelPair[];
  races: Race[];
}

export interface Member {
  vertex: number;
  mount: ResolvedMount;
}

export function findRaces(graph: StepGraph, userRules: UserRule[] = []): RaceAnalysis {
  const pairs: ParallelPair[] = [];
  graph.forEachOverlappingPair((a, b) => {
    for (const sa of graph.vertices[a].steps)
      for (const sb of graph.vertices[b].steps) pairs.push({ a: sa, b: sb });
  });

  // Group mounts by resolved key so only candidates with equal keys are compared.
  const byKey = new Map<string, Member[]>();
  const unresolved: Member[] = [];
  for (const v of graph.cacheVertices) {
    const step = graph.vertices[v].steps[0];
    for (const mount of step.cacheMounts) {
      const m = { vertex: v, mount };
      if (mount.match.value === undefined) unresolved.push(m);
      else {
        const list = byKey.get(mount.match.value);
        if (list) list.push(m);
        else byKey.set(mount.match.value, [m]);
      }
    }
  }

  const groups = new Map<string, { racing: Set<Member>; locked: Set<Member> }>();
  const groupOf = (key: string) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { racing: new Set(), locked: new Set() }));
    return g;
  };
  const consider = (x: Member, y: Member) => {
    if (x.vertex === y.vertex || !graph.overlaps(x.vertex, y.vertex)) return;
    if (!mayEqual(x.mount.match, y.mount.match)) return;
    const g = groupOf(x.mount.match.value !== undefined ? x.mount.key : y.mount.key);
    const xs = x.mount.spec.sharing === "shared";
    const ys = y.mount.spec.sharing === "shared";
    if (xs && ys) {
      g.racing.add(x);
      g.racing.add(y);
    } else {
      if (!xs) g.locked.add(x);
      if (!ys) g.locked.add(y);
    }
  };
  for (const list of byKey.values()) {
    // What the pairwise loop below would add, worked out from the ancestor sets instead
    // when the list is long (a large file: thousands of uses of one cache).
    const fast = list.length > FAST_MIN ? firstAdded(graph, list) : undefined;
    if (fast) {
      if (fast.key === undefined) continue; // no two uses overlap
      const g = groupOf(fast.key);
      for (const m of fast.racing) g.racing.add(m);
      for (const m of fast.locked) g.locked.add(m);
      continue;
    }
    for (let j = 1; j < list.length; j++) for (let i = 0; i < j; i++) consider(list[i], list[j]);
  }
  const all = unresolved.length ? [...byKey.values()].flat() : [];
  for (let j = 0; j < unresolved.length; j++) {
    for (const m of all) consider(unresolved[j], m);
    for (let i = 0; i < j; i++) consider(unresolved[i], unresolved[j]);
  }

  const races: Race[] = [];
  for (const [key, g] of groups) {
    if (g.racing.size === 0) continue;
    const uses = expand(graph, g.racing);
    races.push(describe("shared-cache-race", key, uses, expand(graph, g.locked), userRules));
  }
  races.push(...nestedRaces(graph, userRules));
  races.sort((x, y) => firstLine(x) - firstLine(y) || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  for (const r of races) if (isSuppressed(r)) r.suppressed = true;
  splitWhereLockingSerialises(races);
  return { pairs, races };
}

/**
 * BuildKit holds a `sharing=locked` mount for the whole RUN, so locking an unsafe cache
 * (a cargo registry) in a RUN that also compiles into a split output cache (cargo
 * target/) would serialise the compile as well, undoing the split. Where an id per stage,
 * platform or build arg can separate the uses, split the unsafe cache too: no race, no
 * waiting (at the price of one cache copy per stage).
 */
function splitWhereLockingSerialises(races: Race[]): void {
  const splitSteps = new Set<Step>();
  for (const r of races)
    if (r.fix === "split" && !r.suppressed) for (const u of r.uses) splitSteps.add(u.step);
  for (const r of races) {
    if (r.fix !== "lock" || r.rule !== "shared-cache-race" || r.suppressed) continue;
    if (!r.uses.some((u) => splitSteps.has(u.step))) continue;
    if (r.selfRace.builds && !(r.splitArg = distinguishingArg(r.uses))) continue;
    r.fix = "split";
    r.reason = `${r.kind.why}; locking it would serialise the whole RUN, including the build it runs into a split cache (BuildKit holds a locked mount until the RUN ends), so give it an id per ${r.splitArg ? `build (-$${r.splitArg})` : "stage"} instead`;
  }
}

/** Lists of uses of one key at most this long are compared pair by pair. */
export const FAST_MIN = 16;

/**
 * For a list of uses of one resolved key (in cache-vertex order), the members that
 * `for (j) for (i < j) consider(list[i], list[j])` adds to the group's racing and locked
 * sets, in the order it first adds them, and the group key it files them under; computed
 * per use from the ancestor bitsets (O(n * C/32)) instead of O(n^2) pair tests. Undefined
 * when the list does not fit the shortcut (a step with two uses of the key, or uses whose
 * display keys differ): then the caller compares pairs.
 */
export function firstAdded(
  graph: StepGraph,
  list: Member[],
): { key?: string; racing: Member[]; locked: Member[] } | undefined {
  const words = graph.words;
  const all = new Uint32Array(words); // every use
  const shared = new Uint32Array(words);
  const newShared = new Uint32Array(words); // shared uses not yet in `racing`
  const newLocked = new Uint32Array(words); // locked or private uses not yet in `locked`
  const at = new Map<number, Member>(); // cache index -> use
  const key = list[0].mount.key;
  for (const m of list) {
    const ci = graph.vertices[m.vertex].cacheIndex;
    if (at.has(ci) || m.mount.key !== key) return undefined;
    at.set(ci, m);
    const bit = 1 << (ci & 31);
    all[ci >>> 5] |= bit;
    if (m.mount.spec.sharing === "shared") shared[ci >>> 5] |= bit;
    else newLocked[ci >>> 5] |= bit;
  }
  newShared.set(shared);
  const member = (w: number, low: number) => at.get((w << 5) + 31 - Math.clz32(low)) as Member;
  /**
   * Adds to `out` the uses of word `w` in `q` (those overlapping `m`) that `fresh` says are
   * not in it yet, as the pair loop would: `m`'s first pair adds its other use, then `m`.
   * Returns true (`m` is in `out` now, or never goes there).
   */
  const take = (
    out: Member[],
    fresh: Uint32Array,
    w: number,
    q: number,
    m: Member,
    selfDone: boolean,
  ): boolean => {
    if (!selfDone) {
      const low = q & -q;
      if (fresh[w] & low) {
        out.push(member(w, low));
        fresh[w] ^= low;
      }
      out.push(m);
      const ci = graph.vertices[m.vertex].cacheIndex;
      fresh[ci >>> 5] &= ~(1 << (ci & 31));
    }
    let n = q & fresh[w];
    while (n !== 0) {
      const low = n & -n;
      out.push(member(w, low));
      fresh[w] ^= low;
      n ^= low;
    }
    return true;
  };
  const racing: Member[] = [];
  const locked: Member[] = [];
  let groupKey: string | undefined;
  for (const m of list) {
    // step j = m: the earlier uses that overlap it are the pairs (j, i), i ascending
    const ci = graph.vertices[m.vertex].cacheIndex;
    if (ci === 0) continue;
    const anc = graph.ancestors(m.vertex);
    const isShared = m.mount.spec.sharing === "shared";
    let lockedSelf = isShared; // a shared use is never added to `locked`
    let racingSelf = !isShared; // only a shared use is added to `racing`
    const last = (ci - 1) >>> 5;
    for (let w = graph.fullWords(m.vertex); w <= last; w++) {
      let q = all[w] & ~anc[w];
      const bits = ci - (w << 5);
      if (bits < 32) q &= (1 << bits) - 1;
      if (q === 0) continue;
      if (groupKey === undefined) groupKey = key;
      // locked set: every pair with a locked or private use adds that use (x before y)
      lockedSelf = take(locked, newLocked, w, q, m, lockedSelf);
      // racing set: pairs of shared uses add both (x before y)
      if (isShared) {
        const qs = q & shared[w];
        if (qs !== 0) racingSelf = take(racing, newShared, w, qs, m, racingSelf);
      }
    }
  }
  return { key: groupKey, racing, locked };
}

/** Does a `# buildrace-ignore` above this use's RUN cover this race? */
export function useIgnored(r: Race, u: RaceUse): boolean {
  const ignore = u.step.instruction.ignore;
  if (!ignore) return false;
  if (ignore.length === 0) return true;
  const names = [r.rule, r.kind.tool, r.key, u.mount.id.text, u.mount.key];
  return ignore.some((t) => names.includes(t));
}

/** A race is silenced when fewer than two of its step instances are left unsilenced. */
function isSuppressed(r: Race): boolean {
  const live = new Set(r.uses.filter((u) => !useIgnored(r, u)).map((u) => u.step));
  return live.size < 2;
}

function expand(graph: StepGraph, members: Set<Member>): RaceUse[] {
  const out: RaceUse[] = [];
  for (const m of members) {
    const idx = graph.vertices[m.vertex].steps[0].cacheMounts.indexOf(m.mount);
    for (const step of graph.vertices[m.vertex].steps)
      out.push({ step, mount: step.cacheMounts[idx] });
  }
  return out;
}

function firstLine(r: Race): number {
  return Math.min(...r.uses.map((u) => u.step.instruction.line));
}

function describe(
  rule: Race["rule"],
  key: string,
  uses: RaceUse[],
  lockedUses: RaceUse[],
  userRules: UserRule[],
): Race {
  const kind = raceKind(key, uses, userRules);
  const instances = new Map<string, Set<string>>();
  for (const u of uses) {
    const k = `${u.step.build.file.path}:${u.step.instruction.line}`;
    const s = instances.get(k) ?? new Set<string>();
    s.add(`${u.step.build.name}\u0000${u.step.platform}`);
    instances.set(k, s);
  }
  const platformsOf = new Set(uses.map((u) => u.step.platform));
  const buildsOf = new Set(uses.map((u) => u.step.build.name));
  const selfRace = { platforms: false, builds: false };
  for (const [loc, s] of instances) {
    if (s.size < 2) continue;
    const ps = new Set([...s].map((x) => x.split("\u0000")[1]));
    const bs = new Set([...s].map((x) => x.split("\u0000")[0]));
    if (ps.size > 1) selfRace.platforms = true;
    if (bs.size > 1) selfRace.builds = true;
    void loc;
  }
  const crossPlatform = platformsOf.size > 1;
  let safety: Safety = kind.safety;
  let splitArg: string | undefined;
  let fix: Fix;
  let reason: string;
  if (crossPlatform && (kind.perPlatform || kind.tool === "npm")) {
    if (safety === "safe") safety = "unsafe";
    fix = "split";
    reason = `${kind.tool} contents depend on the platform: locking would still share one cache between ${[...platformsOf].join(" and ")}; give each platform its own id`;
  } else if (safety === "safe") {
    fix = "none";
    reason = `${kind.why}; left shared`;
  } else if (safety === "serialising") {
    if (selfRace.builds && buildsOf.size > 1) {
      splitArg = distinguishingArg(uses);
      fix = splitArg ? "split" : "lock";
      reason = splitArg
        ? `one instruction runs in several builds (${[...buildsOf].join(", ")}) that set ${splitArg} differently; an id per build (-$${splitArg}) keeps them parallel`
        : `one instruction races with itself across builds (${[...buildsOf].join(", ")}); an id per stage cannot separate builds, so lock`;
    } else {
      fix = "split";
      reason = `${kind.why}; an id per stage keeps the parallelism`;
    }
  } else {
    fix = "lock";
    reason = safety === "unknown" ? UNKNOWN_REASON : `${kind.why}; lock it`;
  }
  return { rule, key, kind, safety, fix, uses, selfRace, lockedUses, reason, splitArg };
}

/** Most careful first: a race mixing caches is fixed as its least safe one needs. */
const CAUTION: Record<Safety, number> = { unsafe: 3, unknown: 2, serialising: 1, safe: 0 };

/**
 * What a race's cache is. The uses of one key are one cache: the first use the knowledge
 * base knows names it (`id=gocache` mounted at /root/.cache/go-build and at /tmp/gocache).
 * A race can also hold uses of other keys, unresolved ids that may equal it
 * (`id=${CACHE_ID}`), which may be other tools' caches: then it is the least safe of them,
 * or a safe cache would be left shared with an unknown one writing into it.
 */
function raceKind(key: string, uses: RaceUse[], userRules: UserRule[]): CacheKind {
  const byKey = new Map<string, RaceUse[]>([[key, []]]);
  for (const u of uses) byKey.set(u.mount.key, [...(byKey.get(u.mount.key) ?? []), u]);
  let kind: CacheKind | undefined;
  for (const list of byKey.values()) {
    if (!list.length) continue;
    let k = classify(list[0].mount.mountPoint, list[0].mount.id.text, userRules);
    for (const u of list) {
      const c = classify(u.mount.mountPoint, u.mount.id.text, userRules);
      if (c.safety !== "unknown") {
        k = c;
        break;
      }
    }
    if (!kind || CAUTION[k.safety] > CAUTION[kind.safety]) kind = k;
  }
  return kind as CacheKind;
}

/**
 * An ARG declared in the racing step's stage (before the step) that every build of the
 * step sets through a build arg, to a value no other racing build of it uses.
 */
export function distinguishingArg(uses: RaceUse[]): string | undefined {
  const byLine = new Map<string, RaceUse[]>();
  for (const u of uses) {
    const k = `${u.step.build.file.path}:${u.step.instruction.line}`;
    byLine.set(k, [...(byLine.get(k) ?? []), u]);
  }
  let candidates: string[] | undefined;
  for (const group of byLine.values()) {
    const first = group[0].step;
    const declared = first.stage.instructions
      .filter((i) => i.keyword === "ARG" && i.line < first.instruction.line)
      .flatMap((i) => keyValues(i, first.build.file.escape).map((kv) => kv.name));
    const builds = new Map(group.map((u) => [u.step.build.name, u.step.build.buildArgs]));
    const ok = declared.filter((name) => {
      const values = [...builds.values()].map((a) => a[name]);
      return (
        values.every((v) => v !== undefined && v !== "") && new Set(values).size === values.length
      );
    });
    candidates = candidates ? candidates.filter((c) => ok.includes(c)) : ok;
  }
  return candidates?.[0];
}

const UNKNOWN_REASON =
  "unknown cache: locked to be correct first (configure it as safe to keep it shared)";

function nestedRaces(graph: StepGraph, userRules: UserRule[]): Race[] {
  // Steps with a cache mount nested inside another cache mount of the same step.
  const nested: { vertex: number; outer: ResolvedMount; inner: ResolvedMount; rel: string }[] = [];
  for (const v of graph.cacheVertices) {
    const mounts = graph.vertices[v].steps[0].cacheMounts;
    for (const outer of mounts)
      for (const inner of mounts) {
        if (outer === inner || !outer.mountPoint || !inner.mountPoint) continue;
        const rel = posix.relative(outer.mountPoint, inner.mountPoint);
        if (rel && !rel.startsWith("..") && !posix.isAbsolute(rel))
          nested.push({ vertex: v, outer, inner, rel });
      }
  }
  const byKey = new Map<string, { uses: Set<RaceUse>; outerKey: string }>();
  for (let j = 1; j < nested.length; j++)
    for (let i = 0; i < j; i++) {
      const x = nested[i];
      const y = nested[j];
      if (x.rel !== y.rel || x.outer.spec.sharing !== "shared" || y.outer.spec.sharing !== "shared")
        continue;
      if (!graph.overlaps(x.vertex, y.vertex) || !mayEqual(x.outer.match, y.outer.match)) continue;
      const g = byKey.get(x.outer.key) ?? { uses: new Set<RaceUse>(), outerKey: x.outer.key };
      for (const n of [x, y])
        for (const step of graph.vertices[n.vertex].steps)
          g.uses.add({
            step,
            mount: step.cacheMounts[graph.vertices[n.vertex].steps[0].cacheMounts.indexOf(n.outer)],
          });
      byKey.set(x.outer.key, g);
    }
  return [...byKey.values()].map((g) => {
    const uses = [...g.uses];
    const kind = classify(uses[0].mount.mountPoint, uses[0].mount.id.text, userRules);
    return {
      rule: "nested-cache-mount" as const,
      key: g.outerKey,
      kind,
      safety: "unsafe" as const,
      fix: "lock" as const,
      uses,
      selfRace: { platforms: false, builds: false },
      lockedUses: [],
      reason:
        "parallel steps create a nested mount point inside one shared cache directory: runc 1.2.0-1.2.2 fails with 'mkdirat ... file exists' (fixed in runc 1.2.3); lock the outer cache or upgrade runc",
    };
  });
}
