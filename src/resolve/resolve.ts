/**
 * Resolve stage: one build (file + target + args + platform) → the steps BuildKit would
 * create, each with an operation identity (for de-duplication), its dependencies, and its
 * cache mounts with their effective keys. Mirrors dockerfile2llb: FROM names expanded with
 * global args, target and reachability, ARG/ENV scoping, mount validation only for stages
 * that are dispatched.
 */
import { posix } from "path";
import { Diagnostic } from "../diagnostics";
import { Instruction, Stage } from "../parse/dockerfile";
import { MountSpec, RawMount, validateMount } from "../parse/mount";
import { automaticArgs, BuildSpec } from "./build";
import { imageRefError, normalizeImageRef } from "./imageref";
import { Expanded, expandWord, known, Lookup, Part, VarValue } from "./shell";

export interface ResolvedMount {
  raw: RawMount;
  spec: MountSpec;
  /** Effective id: the explicit id, or the cleaned target as written. */
  id: Expanded;
  explicitId: boolean;
  target: Expanded;
  /** Absolute mount point (target resolved against WORKDIR), when known. */
  mountPoint?: string;
  /** Display key per SPEC §4: NS + "/" + id, plus `:from=..` or `:uid=..,gid=..,mode=..`. */
  key: string;
  /** Identity used to compare keys: the display key with the base's identity. */
  match: Expanded;
}

export interface Step {
  /** Operation identity: equal ids are one vertex, run once (BuildKit de-duplication). */
  sig: string;
  deps: string[];
  instruction: Instruction;
  stage: Stage;
  build: BuildSpec;
  platform: string;
  /** Cache mounts (type=cache) of a RUN. */
  cacheMounts: ResolvedMount[];
}

export interface CacheRun {
  instruction: Instruction;
  stage: Stage;
  build: BuildSpec;
  platform: string;
  built: boolean;
  mounts: ResolvedMount[];
}

/** A stage an instruction reads (`COPY --from`, `--mount from=`); no index when it is an image. */
interface StageRef {
  kind: "copy" | "mount";
  index?: number;
  raw: string;
}

/** A dependency of stage `to` on stage `from`, created by the instruction at `line`. */
export interface StageEdge {
  from: number;
  to: number;
  line: number;
  kind: "from" | "copy" | "mount";
}

export interface ResolvedBuild {
  build: BuildSpec;
  platform: string;
  /** Every stage dependency (FROM, COPY --from, --mount from=), built stages or not. */
  stageEdges?: StageEdge[];
  /** Steps of the stages reachable from the target, in dispatch order (a topological order). */
  steps: Step[];
  targetStage?: Stage;
  built: boolean[];
  cacheRuns: CacheRun[];
  diagnostics: Diagnostic[];
}

/** Well-known ENV of official images, so `$CARGO_HOME` style targets resolve. */
const IMAGE_ENV: { match: RegExp; env: Record<string, string> }[] = [
  {
    match: /^docker\.io\/library\/rust:/,
    env: { CARGO_HOME: "/usr/local/cargo", RUSTUP_HOME: "/usr/local/rustup" },
  },
  { match: /^docker\.io\/library\/golang:/, env: { GOPATH: "/go" } },
];

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

interface StageState {
  env: Map<string, Expanded>;
  /** External image whose ENV we cannot see ("" for scratch or a known image). */
  imageEnv: { image: string; known: Record<string, string> } | null;
  workdir: string;
  user: string;
  shell: string;
  platform: string;
  sig: string;
  /** Digest of the environment as it enters step identities; unset after a change. */
  envKey: string | undefined;
  onbuild: Instruction[];
}

/**
 * Operation identity: a 64-bit hash of the parts joined by NUL (two 32-bit multiplicative
 * lanes, cross-mixed at the end, as cyrb53). Not cryptographic: the inputs are the user's own
 * Dockerfiles, and at 64 bits an accidental collision among the steps of one analysis is
 * negligible (about n^2 / 2^65).
 */
class Digest {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;
  private parts = 0;

  /** Starts a new part with `s`. */
  add(s: string): this {
    if (this.parts++ > 0) {
      // the NUL between parts
      this.h1 = Math.imul(this.h1, 2654435761);
      this.h2 = Math.imul(this.h2, 1597334677);
    }
    return this.more(s);
  }

  /** Appends `s` to the current part. */
  more(s: string): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
    return this;
  }

  /** Adds every string of a list. */
  addAll(list: string[]): this {
    for (let i = 0; i < list.length; i++) this.add(list[i]);
    return this;
  }

  end(): string {
    let h1 = this.h1;
    let h2 = this.h2;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return hex32(h1) + hex32(h2);
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => (i < 16 ? "0" : "") + i.toString(16));

/** 8 hex digits (toString(16) of a number takes a slow, floating-point path). */
function hex32(h: number): string {
  return HEX[h >>> 24] + HEX[(h >>> 16) & 255] + HEX[(h >>> 8) & 255] + HEX[h & 255];
}

/** The automatic args by name, for `name in` tests (the same object every time). */
const AUTOMATIC_ANY_STAGE = automaticArgs("linux/amd64", "");

/** The environment's part of a step identity: a digest of its sorted `K=V` lines. */
function envKeyOf(env: Map<string, Expanded>): string {
  const names = [...env.keys()].sort(); // UTF-16 code unit order
  const d = new Digest();
  for (const k of names) d.add(`${k}=${(env.get(k) as Expanded).text}`);
  return d.end();
}

export function stageLabel(stage: Stage): string {
  return stage.name ?? String(stage.index);
}

/**
 * One build and platform being resolved. The work is split into small functions over this
 * context (rather than closures in one large function): V8 optimises each quickly, and a
 * shape it did not expect deoptimises a small piece only.
 */
interface Ctx {
  build: BuildSpec;
  platform: string;
  file: BuildSpec["file"];
  stages: Stage[];
  diagnostics: Diagnostic[];
  /** Automatic platform args for this platform. */
  auto: Record<string, string>;
  /** Global (meta) args: automatic platform args plus ARGs before the first FROM. */
  meta: Map<string, string>;
  metaLook: Lookup;
  declaredGlobal: Set<string>;
  /** Stage index by (lowercased) name: the last stage of that name. */
  lastByName: Map<string, number>;
  baseOf: (number | undefined)[];
  imageOf: string[];
  /** Each stage's instructions (its base's ONBUILD triggers first) and their stage refs. */
  insOf: Instruction[][];
  refsOf: StageRef[][][];
  built: boolean[];
  /** Stages whose step identities anything built can see (see resolveBuild). */
  identified: boolean[];
  states: StageState[];
  steps: Step[];
  cacheRuns: CacheRun[];
  ns: string;
}

function err(ctx: Ctx, line: number, message: string, built = true): void {
  ctx.diagnostics.push({ line, message, severity: built ? "error" : "warning" });
}

function findStage(ctx: Ctx, name: string): number | undefined {
  return ctx.lastByName.get(name.toLowerCase());
}

export function resolveBuild(build: BuildSpec, platform: string): ResolvedBuild {
  const file = build.file;
  const stages = file.stages;
  const auto = automaticArgs(platform);
  const meta = new Map<string, string>();
  for (const k in auto) meta.set(k, auto[k]);
  const built: boolean[] = [];
  for (let i = 0; i < stages.length; i++) built.push(false);
  // (every field gets its final kind of value here: a field that changes kind makes V8
  // deoptimise the code reading it)
  const ctx: Ctx = {
    build,
    platform,
    file,
    stages,
    diagnostics: [],
    auto,
    meta,
    metaLook: metaLookup(meta),
    declaredGlobal: new Set<string>(),
    lastByName: new Map<string, number>(),
    baseOf: [],
    imageOf: [],
    insOf: [],
    refsOf: [],
    built,
    identified: built,
    states: [],
    steps: [],
    cacheRuns: [],
    ns: build.buildArgs.BUILDKIT_CACHE_MOUNT_NS ?? "",
  };

  // Global (meta) args: automatic platform args plus ARGs before the first FROM.
  for (const ins of file.globalArgs) {
    for (const { name, value } of keyValues(ins, file.escape)) {
      ctx.declaredGlobal.add(name);
      if (name in build.buildArgs) meta.set(name, build.buildArgs[name]);
      else if (value !== undefined) {
        const e = expandWord(value, metaLookup(meta), file.escape);
        meta.set(name, e.value ?? e.text);
      }
    }
  }

  // FROM names, bases and platforms.
  for (const st of stages) if (st.name) ctx.lastByName.set(st.name, st.index);
  const lastBefore = new Map<string, number>(); // stage name -> last index so far
  for (const st of stages) {
    const e = expandWord(st.baseName, ctx.metaLook, file.escape);
    const name = e.value ?? e.text;
    const base = lastBefore.get(name); // the nearest earlier stage of that (exact) name
    if (st.name !== undefined) lastBefore.set(st.name, st.index);
    ctx.baseOf.push(base);
    ctx.imageOf.push(name);
    if (base === undefined && name !== "scratch") {
      const problem = imageRefError(name);
      if (problem)
        err(
          ctx,
          st.from.line,
          name === st.baseName
            ? `FROM ${st.baseName}: ${problem}`
            : `FROM ${st.baseName} (expands to "${name}"): ${problem}`,
        );
    }
  }

  // Dependencies per stage (edges at the instruction that creates them); each stage's
  // instructions and their stage refs are worked out once, the dispatch below reuses them.
  const depsOf: Set<number>[] = stages.map(() => new Set<number>());
  const stageEdges: StageEdge[] = [];
  for (const st of stages) {
    const b = ctx.baseOf[st.index];
    if (b !== undefined)
      stageEdges.push({ from: b, to: st.index, line: st.from.line, kind: "from" });
    const list = instructionsOf(ctx, st);
    const refs: StageRef[][] = [];
    for (const ins of list) {
      const rs = stageRefs(ctx, st, ins);
      refs.push(rs);
      for (const r of rs)
        if (r.index !== undefined) {
          depsOf[st.index].add(r.index);
          stageEdges.push({ from: r.index, to: st.index, line: ins.line, kind: r.kind });
        }
    }
    ctx.insOf.push(list);
    ctx.refsOf.push(refs);
  }

  // Target and reachability.
  let targetStage: Stage | undefined = stages[stages.length - 1];
  if (build.target !== undefined) {
    const idx = findStage(ctx, build.target);
    targetStage = idx === undefined ? undefined : stages[idx];
    if (!targetStage) err(ctx, 1, `target stage "${build.target}" could not be found`);
  }
  if (targetStage) {
    const queue = [targetStage.index];
    while (queue.length) {
      const i = queue.pop() as number;
      if (built[i]) continue;
      built[i] = true;
      const b = ctx.baseOf[i];
      if (b !== undefined) queue.push(b);
      for (const d of depsOf[i]) queue.push(d);
    }
  }
  // A bad ONBUILD trigger (a flag, a mount option) fails the child stages that run it, as
  // BuildKit parses a trigger only then; a base no stage builds on reports nothing.
  for (const st of stages) {
    const b = ctx.baseOf[st.index];
    if (b === undefined) continue;
    for (const ins of stages[b].instructions)
      for (const d of ins.trigger?.errors ?? []) err(ctx, d.line, d.message, built[st.index]);
  }
  // Stages whose step identities anything built can see: built stages, plus any stage a
  // built one mounts `from=` by a field the stage refs above did not follow (a repeated
  // `from`). The others are dispatched for their cache runs and diagnostics only.
  const identified: boolean[] = [];
  for (let i = 0; i < built.length; i++) identified.push(built[i]);
  ctx.identified = identified;
  const queue: number[] = [];
  for (let i = 0; i < built.length; i++) if (built[i]) queue.push(i);
  while (queue.length) {
    const i = queue.pop() as number;
    const more: number[] = [];
    const b = ctx.baseOf[i];
    if (b !== undefined) more.push(b);
    for (const d of depsOf[i]) more.push(d);
    for (const ins of ctx.insOf[i]) {
      if (ins.keyword !== "RUN") continue;
      for (const m of ins.mounts)
        for (const f of m.fields) {
          if (f.key !== "from" || f.value === null) continue;
          const idx = findStage(ctx, f.value);
          if (idx !== undefined && idx < i) more.push(idx);
        }
    }
    for (const j of more)
      if (!identified[j]) {
        identified[j] = true;
        queue.push(j);
      }
  }

  // Dispatch every stage in order; only built stages contribute steps to the graph.
  for (const st of stages) ctx.states.push(dispatchStage(ctx, st));
  return {
    build,
    platform,
    steps: ctx.steps,
    targetStage,
    built,
    cacheRuns: ctx.cacheRuns,
    diagnostics: ctx.diagnostics,
    stageEdges,
  };
}

/** A stage's instructions: its base's ONBUILD triggers first. */
function instructionsOf(ctx: Ctx, st: Stage): Instruction[] {
  const b = ctx.baseOf[st.index];
  if (b === undefined) return st.instructions;
  const triggers: Instruction[] = [];
  for (const i of ctx.stages[b].instructions) if (i.trigger) triggers.push(i.trigger);
  return triggers.length ? [...triggers, ...st.instructions] : st.instructions;
}

function stageRefs(ctx: Ctx, st: Stage, ins: Instruction): StageRef[] {
  const refs: StageRef[] = [];
  const stages = ctx.stages;
  if (ins.keyword === "COPY" || ins.keyword === "ADD") {
    const from = ins.flags.find((f) => f.name === "from");
    if (from && ins.keyword === "ADD") {
      err(ctx, ins.line, "Unknown flag: from (ADD has no --from; use COPY --from)");
    } else if (from && from.value !== null) {
      const v = from.value;
      if (v.includes("$")) {
        err(
          ctx,
          ins.line,
          "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
        );
      } else if (/^[0-9]+$/.test(v)) {
        const n = Number(v);
        if (n >= stages.length) err(ctx, ins.line, `invalid stage index ${n}`);
        else if (n >= st.index)
          err(
            ctx,
            ins.line,
            `cannot copy from stage "${v}", it needs to be defined before current stage "${stageLabel(st)}"`,
          );
        else refs.push({ kind: "copy", index: n, raw: v });
      } else {
        const idx = findStage(ctx, v);
        if (idx !== undefined && idx >= st.index)
          err(
            ctx,
            ins.line,
            `cannot copy from stage "${v}", it needs to be defined before current stage "${stageLabel(st)}"`,
          );
        refs.push({
          kind: "copy",
          index: idx !== undefined && idx < st.index ? idx : undefined,
          raw: v,
        });
      }
    }
  }
  if (ins.keyword === "RUN") {
    for (const m of ins.mounts) {
      const f = m.fields.find((x) => x.key === "from");
      if (!f || f.value === null) continue;
      const v = f.value;
      const dollar = v.indexOf("$");
      if (dollar >= 0 && dollar < v.length - 1) {
        err(ctx, ins.line, "'from' doesn't support variable expansion, define alias stage instead");
        continue;
      }
      const idx = findStage(ctx, v);
      if (idx !== undefined && idx >= st.index)
        err(
          ctx,
          ins.line,
          `cannot mount from stage "${v}", stage needs to be defined before current command`,
        );
      refs.push({
        kind: "mount",
        index: idx !== undefined && idx < st.index ? idx : undefined,
        raw: v,
      });
    }
  }
  return refs;
}

/** The state a stage starts from: its base stage's, or a fresh one for an image (or scratch). */
function initialState(ctx: Ctx, st: Stage): StageState {
  const b = ctx.baseOf[st.index];
  if (b !== undefined) {
    const p = ctx.states[b];
    return {
      env: new Map(p.env),
      imageEnv: p.imageEnv,
      workdir: p.workdir,
      user: p.user,
      shell: p.shell,
      platform: p.platform,
      sig: p.sig,
      envKey: p.envKey,
      onbuild: [],
    };
  }
  const image = ctx.imageOf[st.index];
  const pe =
    st.platform !== undefined ? expandWord(st.platform, ctx.metaLook, ctx.file.escape) : undefined;
  const plat = pe ? (pe.value ?? pe.text) : ctx.platform;
  if (pe && plat === "")
    err(
      ctx,
      st.from.line,
      `empty platform value from expression ${st.platform}`,
      ctx.built[st.index],
    );
  const norm = image === "scratch" ? "scratch" : normalizeImageRef(image);
  const knownEnv = IMAGE_ENV.find((k) => k.match.test(norm))?.env ?? {};
  return {
    env: new Map([["PATH", known(DEFAULT_PATH)]]),
    imageEnv: image === "scratch" ? null : { image, known: knownEnv },
    workdir: "/",
    user: "",
    shell: "/bin/sh -c",
    platform: plat,
    sig: ctx.identified[st.index] ? new Digest().add("image").add(norm).add(plat).end() : "",
    envKey: undefined, // every state has the same shape: no map checks fail
    onbuild: [],
  };
}

function dispatchStage(ctx: Ctx, st: Stage): StageState {
  const file = ctx.file;
  const state = initialState(ctx, st);
  const lookup: Lookup = (name) => envLookup(state, name, ctx.declaredGlobal);
  const instructions = ctx.insOf[st.index];
  for (let n = 0; n < instructions.length; n++) {
    const ins = instructions[n];
    switch (ins.keyword) {
      case "ARG":
        for (const { name, value } of keyValues(ins, file.escape)) {
          let v: Expanded | undefined;
          if (name in ctx.build.buildArgs) v = known(ctx.build.buildArgs[name]);
          else if (value !== undefined) v = expandWord(value, lookup, file.escape);
          else if (ctx.meta.has(name) && (ctx.declaredGlobal.has(name) || name in ctx.auto))
            v = known(ctx.meta.get(name) as string);
          if (v !== undefined) {
            state.env.set(name, v);
            state.envKey = undefined;
          }
        }
        break;
      case "ENV": {
        // All values are expanded with the environment before this instruction.
        const kvs = keyValues(ins, file.escape).map(
          ({ name, value }) => [name, expandWord(value ?? "", lookup, file.escape)] as const,
        );
        for (const [name, v] of kvs) state.env.set(name, v);
        state.envKey = undefined;
        break;
      }
      case "WORKDIR": {
        const e = expandWord(ins.rest.text.trim(), lookup, file.escape);
        const dir = e.value ?? e.text;
        state.workdir = posix.resolve(state.workdir, dir);
        step(ctx, st, state, ins, ["workdir"], []);
        break;
      }
      case "USER": {
        const e = expandWord(ins.rest.text.trim(), lookup, file.escape);
        state.user = e.text;
        break;
      }
      case "SHELL":
        state.shell = ins.rest.text.trim();
        break;
      case "COPY":
      case "ADD": {
        const refs = ctx.refsOf[st.index][n];
        const deps: string[] = [];
        const extra: string[] = [];
        for (const r of refs) {
          if (r.index !== undefined) {
            deps.push(ctx.states[r.index].sig);
            extra.push(ctx.states[r.index].sig);
          } else extra.push(`image:${r.raw}`);
        }
        if (refs.length === 0) extra.push(`context:${ctx.build.context}`);
        step(ctx, st, state, ins, extra, deps);
        break;
      }
      case "RUN":
        resolveRun(ctx, st, state, ins, lookup);
        break;
      default:
        // LABEL, EXPOSE, CMD, ENTRYPOINT, VOLUME, STOPSIGNAL, HEALTHCHECK, MAINTAINER,
        // ONBUILD: image metadata only, no operation in the graph.
        if (ins.keyword === "ONBUILD") state.onbuild.push(ins);
        break;
    }
  }
  return state;
}

/** Adds the step of `ins` (when its stage is built) and moves the stage's identity on. */
function step(
  ctx: Ctx,
  st: Stage,
  state: StageState,
  ins: Instruction,
  extra: string[],
  deps: string[],
  cacheMounts: ResolvedMount[] = [],
): void {
  if (!ctx.identified[st.index]) return; // nothing built sees this stage's identities
  // The op is the keyword (any case) plus its arguments and heredoc bodies, not the text as written.
  const d = new Digest()
    .add(state.sig)
    .add(ins.keyword)
    .more(ins.logical.text.replace(/^\s*\S+/, ""));
  if (ins.heredoc) d.more(ctx.file.text.slice(ins.logical.end, ins.end));
  const sig = d
    .add((state.envKey ??= envKeyOf(state.env)))
    .add(state.workdir)
    .add(state.user)
    .add(state.shell)
    .add(state.platform)
    .addAll(extra)
    .end();
  if (ctx.built[st.index])
    ctx.steps.push({
      sig,
      deps: [state.sig, ...deps],
      instruction: ins,
      stage: st,
      build: ctx.build,
      platform: ctx.platform,
      cacheMounts,
    });
  state.sig = sig;
}

function resolveRun(
  ctx: Ctx,
  st: Stage,
  state: StageState,
  ins: Instruction,
  lookup: Lookup,
): void {
  const isBuilt = ctx.built[st.index];
  const mounts: ResolvedMount[] = [];
  const deps: string[] = [];
  const extra: string[] = [];
  for (const raw of ins.mounts) {
    if (raw.error) continue;
    let expandError: string | undefined;
    const expanded: (Expanded | undefined)[] = [];
    const values = raw.fields.map((f, i) => {
      if (f.value === null) return null;
      if (f.key === "from") return f.value;
      const e = (expanded[i] = expandWord(f.value, lookup, ctx.file.escape));
      expandError ??= e.error;
      return e.value ?? e.text;
    });
    const validated = validateMount(raw.fields, values);
    const { spec } = validated;
    const error = expandError ?? validated.error;
    if (error) {
      err(ctx, ins.line, `invalid --mount: ${error}`, isBuilt);
      continue;
    }
    let fromSig: string | undefined;
    if (spec.from !== undefined && spec.type !== "secret" && spec.type !== "ssh") {
      const idx = findStage(ctx, spec.from);
      if (idx !== undefined && idx < st.index) {
        fromSig = ctx.states[idx].sig;
        deps.push(fromSig);
      } else fromSig = `image:${spec.from}`;
      extra.push(fromSig);
    }
    if (spec.type !== "cache") continue;
    const mount = cacheMount(ctx, state, raw, spec, expanded, fromSig);
    if (!mount) {
      err(ctx, ins.line, `invalid mount target "/"`, isBuilt);
      continue;
    }
    mounts.push(mount);
    extra.push(`${spec.id ?? ""}|${spec.target ?? ""}|${spec.sharing}`);
  }
  // unbuilt stages are still listed (built: false); they race with nothing
  if (mounts.length)
    ctx.cacheRuns.push({
      instruction: ins,
      stage: st,
      build: ctx.build,
      platform: ctx.platform,
      built: isBuilt,
      mounts,
    });
  step(ctx, st, state, ins, extra, deps, mounts);
}

/** A cache mount's id, mount point and key; undefined when it targets `/`. */
function cacheMount(
  ctx: Ctx,
  state: StageState,
  raw: RawMount,
  spec: MountSpec,
  expanded: (Expanded | undefined)[],
  fromSig: string | undefined,
): ResolvedMount | undefined {
  const fieldValue = (k: string) => {
    const i = raw.fields.findIndex((x) => x.key === k);
    return i >= 0 && raw.fields[i].value !== null ? expanded[i] : undefined;
  };
  const target = fieldValue("target") ?? known("");
  const mountPoint =
    target.value === undefined
      ? undefined
      : target.value === ""
        ? state.workdir
        : posix.resolve(state.workdir, target.value);
  if (mountPoint === "/") return undefined;
  const explicit = fieldValue("id");
  const explicitId = explicit !== undefined && explicit.value !== "";
  const id = explicitId ? (explicit as Expanded) : cleanPath(target);
  const baseParts: string[] = [];
  let base = "";
  if (spec.from !== undefined) {
    base = `:from=${spec.from}`;
    baseParts.push(fromSig ?? spec.from);
  } else if (spec.uid !== undefined || spec.gid !== undefined || spec.mode !== undefined) {
    // Numbers, as BuildKit parses them (uid/gid decimal, mode octal).
    const mode =
      spec.mode !== undefined ? parseInt(spec.mode, 8).toString(8).padStart(4, "0") : "0755";
    base = `:uid=${Number(spec.uid ?? 0)},gid=${Number(spec.gid ?? 0)},mode=${mode}`;
    // DERIVED (BUILDKIT.md §4): the implicit mkdir base takes the target platform.
    baseParts.push(ctx.platform);
  }
  const key = `${ctx.ns}/${id.text}${base}`;
  const match = prefix(`${ctx.ns}/`, id, baseParts.length ? `${base}@${baseParts.join(",")}` : "");
  return { raw, spec, id, explicitId, target, mountPoint, key, match };
}

function metaLookup(meta: Map<string, string>): Lookup {
  return (name) => {
    const v = meta.get(name);
    return v === undefined ? { kind: "unset" } : { kind: "set", value: v };
  };
}

function envLookup(state: StageState, name: string, declaredGlobal: Set<string>): VarValue {
  const v = state.env.get(name);
  if (v !== undefined)
    return v.value !== undefined
      ? { kind: "set", value: v.value }
      : { kind: "unknown", why: v.why ?? "" };
  if (state.imageEnv === null) return { kind: "unset" };
  if (name in state.imageEnv.known) return { kind: "set", value: state.imageEnv.known[name] };
  // Global and automatic args are out of scope unless re-declared: they expand to empty.
  if (declaredGlobal.has(name) || name in AUTOMATIC_ANY_STAGE) return { kind: "unset" };
  return {
    kind: "unknown",
    why: `$${name} is not set in the Dockerfile and may come from the ENV of base image ${state.imageEnv.image}`,
  };
}

/** path.Clean on an expanded target (holes kept as they are). */
function cleanPath(e: Expanded): Expanded {
  if (e.value !== undefined) {
    const c = e.value === "" ? "." : posix.normalize(e.value);
    const cleaned = c.length > 1 && c.endsWith("/") ? c.slice(0, -1) : c;
    return known(cleaned);
  }
  // Unknown holes stay; clean what is safe in the literal parts (`//` and `/./` become `/`,
  // a trailing `/` goes), so the result may still match every value path.Clean could give.
  const parts = e.parts.map((x) =>
    typeof x === "string" ? x.replace(/\/(\.?\/)+/g, "/").replace(/\/\.$/, "/") : x,
  );
  const last = parts[parts.length - 1];
  if (typeof last === "string" && parts.length > 1 && last.endsWith("/")) {
    const trimmed = last.replace(/\/+$/, "");
    if (trimmed === "") parts.pop();
    else parts[parts.length - 1] = trimmed;
  }
  return {
    parts,
    text: parts.map((x) => (typeof x === "string" ? x : `\${${x.unknown}}`)).join(""),
    why: e.why,
    error: e.error,
  };
}

function prefix(p: string, e: Expanded, suffix: string): Expanded {
  // Adjacent literals are merged: mayEqual compares the leading and trailing literal parts.
  const parts: Part[] = [];
  for (const x of [p, ...e.parts, suffix]) {
    if (x === "") continue;
    const last = parts[parts.length - 1];
    if (typeof x === "string" && typeof last === "string") parts[parts.length - 1] = last + x;
    else parts.push(x);
  }
  const text = p + e.text + suffix;
  return e.value !== undefined ? { parts, value: text, text } : { parts, text, why: e.why };
}

/** ARG/ENV words: `NAME`, `NAME=value` (several per line), or legacy `ENV NAME value`. */
export function keyValues(ins: Instruction, escape: string): { name: string; value?: string }[] {
  const text = ins.rest.text.trim();
  const words = shellWords(text, escape);
  // (one kind of array and one shape of entry every time: V8 optimises the callers once)
  const out: { name: string; value?: string }[] = [];
  if (ins.keyword === "ENV" && words.length > 0 && !words[0].includes("=")) {
    const name = words[0];
    out.push({ name, value: text.slice(text.indexOf(name) + name.length).trim() });
    return out;
  }
  for (const w of words) {
    const eq = w.indexOf("=");
    out.push(
      eq < 0 ? { name: w, value: undefined } : { name: w.slice(0, eq), value: w.slice(eq + 1) },
    );
  }
  return out;
}

/** Splits on unquoted whitespace, keeping quotes and escapes for later expansion. */
function shellWords(s: string, escape: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      cur += c;
      if (c === escape && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = null;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    cur += c;
    if (c === escape && i + 1 < s.length) cur += s[++i];
    else if (c === '"' || c === "'") quote = c;
  }
  if (inWord) out.push(cur);
  return out;
}
