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
function hash(parts: string[]): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let p = 0; p < parts.length; p++) {
    if (p > 0) {
      h1 = Math.imul(h1, 2654435761);
      h2 = Math.imul(h2, 1597334677);
    }
    const s = parts[p];
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 >>> 0).toString(36) + "." + (h2 >>> 0).toString(36);
}

/** The automatic args by name, for `name in` tests (the same object every time). */
const AUTOMATIC_ANY_STAGE = automaticArgs("linux/amd64", "");

/** The environment's part of a step identity: a digest of its sorted `K=V` lines. */
function envKeyOf(env: Map<string, Expanded>): string {
  const names = [...env.keys()].sort(); // UTF-16 code unit order
  return hash(names.map((k) => `${k}=${(env.get(k) as Expanded).text}`));
}

export function stageLabel(stage: Stage): string {
  return stage.name ?? String(stage.index);
}

export function resolveBuild(build: BuildSpec, platform: string): ResolvedBuild {
  const file = build.file;
  const stages = file.stages;
  const diagnostics: Diagnostic[] = [];
  const err = (line: number, message: string, built = true) =>
    diagnostics.push({ line, message, severity: built ? "error" : "warning" });

  // Global (meta) args: automatic platform args plus ARGs before the first FROM.
  const auto = automaticArgs(platform);
  const meta = new Map<string, string>();
  for (const k in auto) meta.set(k, auto[k]);
  const declaredGlobal = new Set<string>();
  for (const ins of file.globalArgs) {
    for (const { name, value } of keyValues(ins, file.escape)) {
      declaredGlobal.add(name);
      if (name in build.buildArgs) meta.set(name, build.buildArgs[name]);
      else if (value !== undefined) {
        const e = expandWord(value, metaLookup(meta), file.escape);
        meta.set(name, e.value ?? e.text);
      }
    }
  }
  const metaLook = metaLookup(meta);

  // FROM names, bases and platforms.
  const baseOf: (number | undefined)[] = [];
  const imageOf: string[] = [];
  const lastByName = new Map<string, number>();
  for (const st of stages) if (st.name) lastByName.set(st.name, st.index);
  const findStage = (name: string): number | undefined => lastByName.get(name.toLowerCase());

  const lastBefore = new Map<string, number>(); // stage name -> last index so far
  for (const st of stages) {
    const e = expandWord(st.baseName, metaLook, file.escape);
    const name = e.value ?? e.text;
    const base = lastBefore.get(name); // the nearest earlier stage of that (exact) name
    if (st.name !== undefined) lastBefore.set(st.name, st.index);
    baseOf.push(base);
    imageOf.push(name);
    if (base === undefined && name !== "scratch") {
      const problem = imageRefError(name);
      if (problem)
        err(
          st.from.line,
          name === st.baseName
            ? `FROM ${st.baseName}: ${problem}`
            : `FROM ${st.baseName} (expands to "${name}"): ${problem}`,
        );
    }
  }

  // Dependencies per stage (edges at the instruction that creates them).
  const depsOf: Set<number>[] = stages.map(() => new Set<number>());
  const triggersOf = (b: number): Instruction[] => {
    const out: Instruction[] = [];
    for (const i of stages[b].instructions) if (i.trigger) out.push(i.trigger);
    return out;
  };
  const instructionsOf = (st: Stage): Instruction[] => {
    const b = baseOf[st.index];
    const triggers = b === undefined ? [] : triggersOf(b);
    return triggers.length ? [...triggers, ...st.instructions] : st.instructions;
  };
  const stageRefs = (st: Stage, ins: Instruction): StageRef[] => {
    const refs: StageRef[] = [];
    if (ins.keyword === "COPY" || ins.keyword === "ADD") {
      const from = ins.flags.find((f) => f.name === "from");
      if (from && ins.keyword === "ADD") {
        err(ins.line, "Unknown flag: from (ADD has no --from; use COPY --from)");
      } else if (from && from.value !== null) {
        const v = from.value;
        if (v.includes("$")) {
          err(
            ins.line,
            "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
          );
        } else if (/^[0-9]+$/.test(v)) {
          const n = Number(v);
          if (n >= stages.length) err(ins.line, `invalid stage index ${n}`);
          else if (n >= st.index)
            err(
              ins.line,
              `cannot copy from stage "${v}", it needs to be defined before current stage "${stageLabel(st)}"`,
            );
          else refs.push({ kind: "copy", index: n, raw: v });
        } else {
          const idx = findStage(v);
          if (idx !== undefined && idx >= st.index)
            err(
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
          err(ins.line, "'from' doesn't support variable expansion, define alias stage instead");
          continue;
        }
        const idx = findStage(v);
        if (idx !== undefined && idx >= st.index)
          err(
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
  };
  // Each stage's instructions (ONBUILD triggers of its base first) and their stage refs,
  // worked out once: the dispatch below reuses them.
  const insOf: Instruction[][] = [];
  const refsOf: StageRef[][][] = [];
  const stageEdges: StageEdge[] = [];
  for (const st of stages) {
    const b = baseOf[st.index];
    if (b !== undefined)
      stageEdges.push({ from: b, to: st.index, line: st.from.line, kind: "from" });
    const list = instructionsOf(st);
    const refs: StageRef[][] = [];
    for (const ins of list) {
      const rs = stageRefs(st, ins);
      refs.push(rs);
      for (const r of rs)
        if (r.index !== undefined) {
          depsOf[st.index].add(r.index);
          stageEdges.push({ from: r.index, to: st.index, line: ins.line, kind: r.kind });
        }
    }
    insOf.push(list);
    refsOf.push(refs);
  }

  // Target and reachability.
  let targetStage: Stage | undefined = stages[stages.length - 1];
  if (build.target !== undefined) {
    const idx = findStage(build.target);
    targetStage = idx === undefined ? undefined : stages[idx];
    if (!targetStage) err(1, `target stage "${build.target}" could not be found`);
  }
  const built = stages.map(() => false);
  if (targetStage) {
    const queue = [targetStage.index];
    while (queue.length) {
      const i = queue.pop() as number;
      if (built[i]) continue;
      built[i] = true;
      const b = baseOf[i];
      if (b !== undefined) queue.push(b);
      for (const d of depsOf[i]) queue.push(d);
    }
  }
  // Stages whose step identities anything built can see: built stages, plus any stage a
  // built one mounts `from=` by a field the stage refs above did not follow (a repeated
  // `from`). The others are dispatched for their cache runs and diagnostics only.
  const identified = built.slice();
  {
    const queue = stages.filter((st) => built[st.index]).map((st) => st.index);
    while (queue.length) {
      const i = queue.pop() as number;
      const more: number[] = [];
      const b = baseOf[i];
      if (b !== undefined) more.push(b);
      for (const d of depsOf[i]) more.push(d);
      for (const ins of insOf[i]) {
        if (ins.keyword !== "RUN") continue;
        for (const m of ins.mounts)
          for (const f of m.fields) {
            if (f.key !== "from" || f.value === null) continue;
            const idx = findStage(f.value);
            if (idx !== undefined && idx < i) more.push(idx);
          }
      }
      for (const j of more)
        if (!identified[j]) {
          identified[j] = true;
          queue.push(j);
        }
    }
  }

  // Dispatch every stage in order; only built stages contribute steps to the graph.
  const states: StageState[] = [];
  const steps: Step[] = [];
  const cacheRuns: CacheRun[] = [];
  const ns = build.buildArgs.BUILDKIT_CACHE_MOUNT_NS ?? "";
  for (const st of stages) {
    const isBuilt = built[st.index];
    const hasSig = identified[st.index];
    const b = baseOf[st.index];
    let state: StageState;
    if (b !== undefined) {
      const p = states[b];
      state = {
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
    } else {
      const image = imageOf[st.index];
      const pe =
        st.platform !== undefined ? expandWord(st.platform, metaLook, file.escape) : undefined;
      const plat = pe ? (pe.value ?? pe.text) : platform;
      if (pe && plat === "")
        err(st.from.line, `empty platform value from expression ${st.platform}`, isBuilt);
      const norm = image === "scratch" ? "scratch" : normalizeImageRef(image);
      const knownEnv = IMAGE_ENV.find((k) => k.match.test(norm))?.env ?? {};
      state = {
        env: new Map([["PATH", known(DEFAULT_PATH)]]),
        imageEnv: image === "scratch" ? null : { image, known: knownEnv },
        workdir: "/",
        user: "",
        shell: "/bin/sh -c",
        platform: plat,
        sig: hasSig ? hash(["image", norm, plat]) : "",
        envKey: undefined, // every state has the same shape: no map checks fail
        onbuild: [],
      };
    }
    const lookup: Lookup = (name) => envLookup(state, name, declaredGlobal);
    const step = (
      ins: Instruction,
      extra: string[],
      deps: string[],
      cacheMounts: ResolvedMount[] = [],
    ) => {
      if (!hasSig) return; // nothing built sees this stage's identities
      // The op is the keyword (any case) plus its arguments and heredoc bodies, not the text as written.
      const op =
        ins.keyword +
        ins.logical.text.replace(/^\s*\S+/, "") +
        (ins.heredoc ? file.text.slice(ins.logical.end, ins.end) : "");
      const sig = hash([
        state.sig,
        op,
        (state.envKey ??= envKeyOf(state.env)),
        state.workdir,
        state.user,
        state.shell,
        state.platform,
        ...extra,
      ]);
      if (isBuilt)
        steps.push({
          sig,
          deps: [state.sig, ...deps],
          instruction: ins,
          stage: st,
          build,
          platform,
          cacheMounts,
        });
      state.sig = sig;
    };
    const instructions = insOf[st.index];
    for (let n = 0; n < instructions.length; n++) {
      const ins = instructions[n];
      switch (ins.keyword) {
        case "ARG":
          for (const { name, value } of keyValues(ins, file.escape)) {
            let v: Expanded | undefined;
            if (name in build.buildArgs) v = known(build.buildArgs[name]);
            else if (value !== undefined) v = expandWord(value, lookup, file.escape);
            else if (meta.has(name) && (declaredGlobal.has(name) || name in auto))
              v = known(meta.get(name) as string);
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
          step(ins, ["workdir"], []);
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
          const refs = refsOf[st.index][n];
          const deps: string[] = [];
          const extra: string[] = [];
          for (const r of refs) {
            if (r.index !== undefined) {
              deps.push(states[r.index].sig);
              extra.push(states[r.index].sig);
            } else extra.push(`image:${r.raw}`);
          }
          if (refs.length === 0) extra.push(`context:${build.context}`);
          step(ins, extra, deps);
          break;
        }
        case "RUN": {
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
              const e = (expanded[i] = expandWord(f.value, lookup, file.escape));
              expandError ??= e.error;
              return e.value ?? e.text;
            });
            const validated = validateMount(raw.fields, values);
            const { spec } = validated;
            const error = expandError ?? validated.error;
            if (error) {
              err(ins.line, `invalid --mount: ${error}`, isBuilt);
              continue;
            }
            let fromSig: string | undefined;
            if (spec.from !== undefined && spec.type !== "secret" && spec.type !== "ssh") {
              const idx = findStage(spec.from);
              if (idx !== undefined && idx < st.index) {
                fromSig = states[idx].sig;
                deps.push(fromSig);
              } else fromSig = `image:${spec.from}`;
              extra.push(fromSig);
            }
            if (spec.type !== "cache") continue;
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
            if (mountPoint === "/") {
              err(ins.line, `invalid mount target "/"`, isBuilt);
              continue;
            }
            const explicit = fieldValue("id");
            const explicitId = explicit !== undefined && explicit.value !== "";
            const id = explicitId ? (explicit as Expanded) : cleanPath(target);
            const baseParts: string[] = [];
            let base = "";
            if (spec.from !== undefined) {
              base = `:from=${spec.from}`;
              baseParts.push(fromSig ?? spec.from);
            } else if (
              spec.uid !== undefined ||
              spec.gid !== undefined ||
              spec.mode !== undefined
            ) {
              // Numbers, as BuildKit parses them (uid/gid decimal, mode octal).
              const mode =
                spec.mode !== undefined
                  ? parseInt(spec.mode, 8).toString(8).padStart(4, "0")
                  : "0755";
              base = `:uid=${Number(spec.uid ?? 0)},gid=${Number(spec.gid ?? 0)},mode=${mode}`;
              // DERIVED (BUILDKIT.md §4): the implicit mkdir base takes the target platform.
              baseParts.push(platform);
            }
            const key = `${ns}/${id.text}${base}`;
            const match = prefix(
              `${ns}/`,
              id,
              baseParts.length ? `${base}@${baseParts.join(",")}` : "",
            );
            mounts.push({ raw, spec, id, explicitId, target, mountPoint, key, match });
            extra.push(`${spec.id ?? ""}|${spec.target ?? ""}|${spec.sharing}`);
          }
          // unbuilt stages are still listed (built: false); they race with nothing
          if (mounts.length)
            cacheRuns.push({
              instruction: ins,
              stage: st,
              build,
              platform,
              built: isBuilt,
              mounts,
            });
          step(ins, extra, deps, mounts);
          break;
        }
        default:
          // LABEL, EXPOSE, CMD, ENTRYPOINT, VOLUME, STOPSIGNAL, HEALTHCHECK, MAINTAINER,
          // ONBUILD: image metadata only, no operation in the graph.
          if (ins.keyword === "ONBUILD") state.onbuild.push(ins);
          break;
      }
    }
    states.push(state);
  }
  return { build, platform, steps, targetStage, built, cacheRuns, diagnostics, stageEdges };
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
  if (ins.keyword === "ENV" && words.length > 0 && !words[0].includes("=")) {
    const name = words[0];
    return [{ name, value: text.slice(text.indexOf(name) + name.length).trim() }];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    return eq < 0 ? { name: w } : { name: w.slice(0, eq), value: w.slice(eq + 1) };
  });
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
