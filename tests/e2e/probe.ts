/**
 * The "analyzer vs engine" probe (SPEC section 6, docs/engine.md).
 *
 * makeProbe() rewrites a Dockerfile into a probe Dockerfile with the same step graph:
 * - `FROM <external image>` becomes `FROM buildrace-probe-img-<hash of the normalised
 *   reference>`, a local image built from buildrace-base with distinct content (the engine
 *   merges identical steps on images with equal content even under different tags, so
 *   distinct images must differ in content); `FROM <earlier stage>` stays; `--platform`
 *   is dropped (a non-host platform becomes part of the image key instead);
 * - every RUN with a cache mount becomes a rendezvous step: its cache mounts are replaced
 *   by ONE shared probe cache mount (`id=<probeId>,target=/probe,sharing=shared`), mounts
 *   with `from=` become bind mounts of the same source (dependency edges stay), and the
 *   command is a busybox sh script named by a hash of the ORIGINAL instruction text, so
 *   steps the engine de-duplicates stay de-duplicated;
 * - other RUNs become `RUN <probe cache> [from-binds] touch /probe/tick/<hash>.$RANDOM` (the
 *   tick tells waiting steps that the build is progressing); COPY/ADD from the context become
 *   `COPY --from=buildrace-base /etc/buildrace-probe /buildrace-copy/<hash>`;
 *   `COPY --from=<stage|image>` keeps its edge and copies a file that exists;
 * - USER becomes `USER 0:<gid from hash>` (users may not exist), SHELL becomes a busybox
 *   shell that keeps the original's distinctness; other instructions are kept verbatim
 *   (continuations joined); `# syntax=`/`# check=` directives are dropped; heredoc bodies
 *   are consumed (this engine cannot run them, but the probe models current BuildKit).
 *
 * The rendezvous: a step creates /probe/live/<hash>.<instance>, records every other live
 * marker it sees while it waits (polling every 0.1 s), and waits until every reachable
 * participant has been seen (live or done) or until nothing changed for `idleSeconds`
 * (or `maxSeconds` in all); then prints `PROBE <hash>.<instance> saw <markers>`, writes
 * /probe/done/<hash>.<instance>, removes its live marker and exits 0. Two steps saw each
 * other only if they ran at the same time.
 *
 * Only node's child_process, fs, os and path are used.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BASE_IMAGE, build, BuildResult, DOCKER, removeDir, tmpDir, uniqueId } from "./engine";

// ---------------------------------------------------------------- small utilities

/** 64-bit FNV-1a of the UTF-16 code units, as 16 hex digits. */
function fnv64(s: string): string {
  let h = 0xcbf29ce484222325n;
  const p = 0x100000001b3n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * p) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/** The short hash used in probe text (12 hex digits). */
export function probeHash(text: string): string {
  return fnv64(text).slice(0, 12);
}

/** The host platform as `os/arch`. */
export function hostPlatform(): string {
  const arch: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
    ia32: "386",
  };
  return `linux/${arch[os.arch()] ?? os.arch()}`;
}

function platformArgs(platform: string): Record<string, string> {
  const [pos, parch, pvariant] = platform.split("/");
  return {
    BUILDPLATFORM: platform,
    BUILDOS: pos,
    BUILDARCH: parch ?? "",
    BUILDVARIANT: pvariant ?? "",
    TARGETPLATFORM: platform,
    TARGETOS: pos,
    TARGETARCH: parch ?? "",
    TARGETVARIANT: pvariant ?? "",
  };
}

function normalizePlatform(p: string, host: string): string {
  let s = p.trim().toLowerCase();
  if (s === "") return host;
  const parts = s.split("/");
  if (parts.length === 1) s = `linux/${parts[0]}`;
  if (s === "linux/x86_64") s = "linux/amd64";
  if (s === "linux/aarch64" || s === "linux/arm64/v8") s = "linux/arm64";
  return s;
}

/** Shell-like word expansion as BuildKit does for FROM: $V, ${V}, ${V:-w}, ${V-w}, ${V:+w}, ${V+w}. */
export function expandWord(
  word: string,
  vars: Record<string, string | undefined>,
  escape = "\\",
): string {
  let out = "";
  let i = 0;
  let quote: string | null = null;
  while (i < word.length) {
    const c = word[i];
    if (c === escape && quote !== "'" && i + 1 < word.length) {
      out += word[i + 1];
      i += 2;
      continue;
    }
    if ((c === "'" || c === '"') && (quote === null || quote === c)) {
      quote = quote === null ? c : null;
      i++;
      continue;
    }
    if (c === "$" && quote !== "'") {
      if (word[i + 1] === "{") {
        const end = word.indexOf("}", i + 2);
        if (end < 0) {
          out += word.slice(i);
          break;
        }
        const body = word.slice(i + 2, end);
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$/s.exec(body);
        if (m) {
          const v = vars[m[1]];
          const op = m[2];
          if (op === undefined) out += v ?? "";
          else if (op === ":-")
            out += v === undefined || v === "" ? expandWord(m[3], vars, escape) : v;
          else if (op === "-") out += v === undefined ? expandWord(m[3], vars, escape) : v;
          else if (op === ":+")
            out += v === undefined || v === "" ? "" : expandWord(m[3], vars, escape);
          else if (op === "+") out += v === undefined ? "" : expandWord(m[3], vars, escape);
        }
        i = end + 1;
        continue;
      }
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(word.slice(i + 1));
      if (m) {
        out += vars[m[0]] ?? "";
        i += 1 + m[0].length;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

/**
 * Normalise an image reference the way docker does (`alpine` ->
 * `docker.io/library/alpine:latest`); null when it is not a valid reference (upper case,
 * empty, ...), which fails the build.
 */
export function normalizeImageRef(ref: string): string | null {
  if (ref === "" || ref.length > 512) return null;
  let name = ref;
  let digest: string | undefined;
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/.test(digest)) return null;
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) return null;
  }
  const comps = name.split("/");
  let domain = "docker.io";
  if (comps.length > 1 && (/[.:]/.test(comps[0]) || comps[0] === "localhost")) {
    domain = comps.shift() as string;
    if (!/^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?$/.test(domain)) return null;
  }
  for (const c of comps) if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(c)) return null;
  if (domain === "docker.io" && comps.length === 1) comps.unshift("library");
  if (tag === undefined && digest === undefined) tag = "latest";
  return `${domain}/${comps.join("/")}${tag !== undefined ? ":" + tag : ""}${digest !== undefined ? "@" + digest : ""}`;
}

/** Split one `--mount` value as a single CSV line (BuildKit's csvvalue rules); null on error. */
export function csvFields(s: string): string[] | null {
  if (s === "") return null;
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (s[i] === '"') {
      let v = "";
      i++;
      let closed = false;
      while (i < s.length) {
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        v += s[i++];
      }
      if (!closed) return null;
      out.push(v);
      if (i >= s.length) break;
      if (s[i] !== ",") return null;
      i++;
    } else {
      const k = s.indexOf(",", i);
      const f = k < 0 ? s.slice(i) : s.slice(i, k);
      if (f.includes('"')) return null;
      out.push(f);
      if (k < 0) break;
      i = k + 1;
    }
  }
  return out;
}

const MOUNT_KEY_ALIASES: Record<string, string> = {
  src: "source",
  dst: "target",
  destination: "target",
  readonly: "ro",
  readwrite: "rw",
};

export interface ParsedMount {
  type: string;
  from?: string;
  id?: string;
  target?: string;
  /** canonical `k=v` fields, sorted (for hashing) */
  canonical: string;
}

/** Parse a `--mount` value; null when BuildKit would reject its CSV. */
export function parseMount(value: string): ParsedMount | null {
  const fields = csvFields(value);
  if (!fields) return null;
  const kv: Record<string, string> = {};
  for (const f of fields) {
    const eq = f.indexOf("=");
    let k = (eq < 0 ? f : f.slice(0, eq)).toLowerCase();
    k = MOUNT_KEY_ALIASES[k] ?? k;
    let v = eq < 0 ? "" : f.slice(eq + 1);
    if (k === "type" || k === "sharing") v = v.toLowerCase();
    kv[k] = v;
  }
  const type = kv.type ?? "bind";
  kv.type = type;
  const canonical = Object.keys(kv)
    .sort()
    .map((k) => `${k}=${kv[k]}`)
    .join(",");
  return { type, from: kv.from, id: kv.id, target: kv.target, canonical };
}

// ---------------------------------------------------------------- Dockerfile reader

export interface Instruction {
  /** 1-based line where the instruction starts */
  line: number;
  /** 1-based last line (continuations, heredoc bodies) */
  endLine: number;
  /** upper-case keyword */
  keyword: string;
  /** logical text after the keyword (continuations joined), leading blanks removed */
  rest: string;
  /** heredoc bodies, in order */
  heredocs: string[];
}

export interface ParsedDockerfile {
  escape: string;
  /** directives found in the leading comment block (lower-case keys) */
  directives: Record<string, string>;
  instructions: Instruction[];
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A small Dockerfile reader: directives, continuations, comments, heredocs, CRLF, BOM. */
export function readDockerfile(text: string): ParsedDockerfile {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  const directives: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(lines[i]);
    if (!m) break;
    const k = m[1].toLowerCase();
    if (k !== "syntax" && k !== "escape" && k !== "check") break;
    directives[k] = m[2];
  }
  const escape = directives.escape === "`" ? "`" : "\\";
  const E = escapeRe(escape);
  const contRe = new RegExp(`([^${E}])${E}[ \\t]*$|^${E}[ \\t]*$`);
  const isComment = (l: string) => /^\s*#/.test(l);
  const isBlank = (l: string) => /^\s*$/.test(l);
  const instructions: Instruction[] = [];
  for (i = 0; i < lines.length; i++) {
    const first = lines[i];
    if (isBlank(first) || isComment(first)) continue;
    const start = i;
    let buf = "";
    for (;;) {
      const l = lines[i];
      const m = contRe.exec(l);
      if (!m) {
        buf += l;
        break;
      }
      buf += l.slice(0, m.index) + (m[1] ?? "");
      i++;
      while (i < lines.length && (isComment(lines[i]) || isBlank(lines[i]))) i++;
      if (i >= lines.length) {
        i = lines.length - 1;
        break;
      }
    }
    const trimmed = buf.replace(/^\s+/, "");
    const km = /^(\S+)\s*/.exec(trimmed);
    const keyword = km ? km[1].toUpperCase() : "";
    const rest = km ? trimmed.slice(km[0].length) : "";
    const heredocs: string[] = [];
    let hk = keyword;
    let hrest = rest;
    if (hk === "ONBUILD") {
      const m2 = /^(\S+)\s*/.exec(hrest);
      hk = m2 ? m2[1].toUpperCase() : "";
      hrest = m2 ? hrest.slice(m2[0].length) : "";
    }
    if ((hk === "RUN" || hk === "COPY" || hk === "ADD") && hrest.includes("<<")) {
      for (const w of hrest.split(/\s+/)) {
        const hm = /^(\d*)<<(-?)\s*([^<]*)$/.exec(w);
        if (!hm) continue;
        const delim = hm[3].replace(/^(["'])(.*)\1$/, "$2");
        if (delim === "") continue;
        const body: string[] = [];
        while (i + 1 < lines.length) {
          i++;
          const bl = hm[2] === "-" ? lines[i].replace(/^\t+/, "") : lines[i];
          if (bl === delim) break;
          body.push(lines[i]);
        }
        heredocs.push(body.join("\n"));
      }
    }
    instructions.push({
      line: start + 1,
      endLine: i + 1,
      keyword,
      rest: rest.replace(/\s+$/, ""),
      heredocs,
    });
  }
  return { escape, directives, instructions };
}

/** Split the leading `--flag` words (quotes removed) from the rest of an instruction. */
export function splitFlags(
  rest: string,
  escape = "\\",
): { flags: { name: string; value: string; raw: string }[]; args: string } {
  const flags: { name: string; value: string; raw: string }[] = [];
  let pos = 0;
  for (;;) {
    while (pos < rest.length && /\s/.test(rest[pos])) pos++;
    if (!rest.startsWith("--", pos)) break;
    let word = "";
    let raw = "";
    let quote: string | null = null;
    let j = pos;
    for (; j < rest.length; j++) {
      const c = rest[j];
      if (quote === null && /\s/.test(c)) break;
      raw += c;
      if (c === escape && quote !== "'" && j + 1 < rest.length) {
        j++;
        raw += rest[j];
        word += rest[j];
        continue;
      }
      if ((c === "'" || c === '"') && (quote === null || quote === c)) {
        quote = quote === null ? c : null;
        continue;
      }
      word += c;
    }
    pos = j;
    if (word === "--") break;
    const eq = word.indexOf("=");
    flags.push({
      name: (eq < 0 ? word.slice(2) : word.slice(2, eq)).toLowerCase(),
      value: eq < 0 ? "" : word.slice(eq + 1),
      raw,
    });
  }
  while (pos < rest.length && /\s/.test(rest[pos])) pos++;
  return { flags, args: rest.slice(pos) };
}

/** Whitespace-separated words with simple quote removal (ARG/FROM arguments). */
function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => w !== "");
}

function unquote(s: string): string {
  const m = /^(["'])(.*)\1$/s.exec(s);
  return m ? m[2] : s;
}

// ---------------------------------------------------------------- the probe plan

export type LinePair = [number, number];

export interface ProbeOptions {
  /** `--target` (case-insensitive); default the last stage */
  target?: string;
  /** `--build-arg` values (also passed to the probe build) */
  buildArgs?: Record<string, string>;
  /** cache id of the probe mount; default a fresh unique id */
  probeId?: string;
  /**
   * Pairs of RUN lines whose steps wait for each other in this build (default: the
   * probe's own model, `modelPairs`). A step exits as soon as it has seen all its partners.
   */
  waitPairs?: LinePair[];
  /** after nothing changed for this long, ONE waiting step gives up (default 2 s) */
  idleSeconds?: number;
  /** a step never waits longer than this in all (default 30 s) */
  maxSeconds?: number;
  /** default hostPlatform() */
  platform?: string;
}

export interface ProbeStage {
  index: number;
  /** lower-cased `AS` name, or null */
  name: string | null;
  /** how the engine names it in progress output: the name or `stage-<index>` */
  display: string;
  line: number;
  /** index of the earlier stage it is built FROM, or null */
  baseStage: number | null;
  /** normalised external image (plus `|platform` when not the host's), or null */
  image: string | null;
  scratch: boolean;
  /** the FROM name is not a valid reference: the build fails */
  invalidBase: boolean;
  /** stages it reads from (base, COPY --from, RUN --mount from=) */
  deps: number[];
  reachable: boolean;
}

export interface ProbeParticipant {
  hash: string;
  /** lines of the original RUN instructions with this hash (identical instructions) */
  lines: number[];
  /** the subset in stages reachable from the target */
  reachableLines: number[];
}

export interface ProbeStep {
  /** original line */
  line: number;
  stage: number;
  /** `[display step/..]` index in the engine's progress output */
  step: number;
  hash: string;
  participant: boolean;
  /** the probe's model of the engine's vertex (equal for steps it expects to be de-duplicated) */
  node: number;
}

export interface ProbeImage {
  /** local tag, `buildrace-probe-img-<hash>` */
  tag: string;
  /** normalised original reference (plus `|platform`) */
  key: string;
}

export interface ProbePlan {
  /** the probe Dockerfile */
  dockerfile: string;
  probeId: string;
  /** local images the probe needs (ensureProbeImages builds them) */
  images: ProbeImage[];
  stages: ProbeStage[];
  /** stage index of the target, or -1 when the target does not exist */
  target: number;
  participants: ProbeParticipant[];
  /** step-creating instructions (RUN, COPY, ADD, WORKDIR) */
  steps: ProbeStep[];
  /**
   * The probe's own model of which cache RUN pairs may overlap (a small step DAG: stage
   * chains, FROM/COPY --from/--mount from= edges, de-duplication of identical chains). Only
   * used to choose which pairs to try to meet; the engine decides.
   */
  modelPairs: LinePair[];
  /** the pairs whose steps wait for each other in this build */
  waitPairs: LinePair[];
  buildArgs: Record<string, string>;
  idleSeconds: number;
  maxSeconds: number;
}

const PROBE_IMAGE_PREFIX = "buildrace-probe-img-";
const COPY_SOURCE = "/etc/buildrace-probe";
const STEP_KEYWORDS = new Set(["RUN", "COPY", "ADD", "WORKDIR"]);
/** instructions that change the identity of later steps (the others create nothing) */
const IDENTITY_KEYWORDS = new Set(["RUN", "COPY", "ADD", "WORKDIR", "ENV", "USER", "SHELL", "ARG"]);

function probeImageTag(key: string): string {
  return PROBE_IMAGE_PREFIX + probeHash(key);
}

/** Canonical text of an instruction for hashing (keyword case, mount field order and aliases do not matter). */
function canonicalInstruction(ins: Instruction, escape: string): string {
  const { flags, args } = splitFlags(ins.rest, escape);
  const mounts: string[] = [];
  const others: string[] = [];
  for (const f of flags) {
    if (f.name === "mount") {
      const m = parseMount(f.value);
      mounts.push("mount:" + (m ? m.canonical : f.value));
    } else others.push(`${f.name}=${f.value}`);
  }
  mounts.sort();
  const a = ins.keyword === "RUN" ? args.trim() : words(args).join(" ");
  return [ins.keyword, ...others, ...mounts, a, ...ins.heredocs.map((h) => "<<" + h)].join("\n");
}

/**
 * The rendezvous command of a participant (busybox sh, one line, no backslashes).
 * `wait` maps a hash to the number of distinct executions of it (markers) to meet,
 * counting this step itself when it is the same hash.
 */
export function rendezvousScript(
  hash: string,
  wait: Map<string, number>,
  idleTicks: number,
  maxTicks: number,
): string {
  // idleTicks: after this many 0.1 s polls with no change, this step may give up (one
  // step at a time); steps that block nothing get a larger value (see render()).
  const checks: string[] = [];
  for (const [h, n] of [...wait.entries()].sort()) {
    if (h === hash && n <= 1) continue;
    if (n <= 1) checks.push(`case "$got" in *${h}.*) ;; *) ok=0;; esac;`);
    else checks.push(`[ $(echo "$got" | grep -c "^${h}[.]") -ge ${n} ] || ok=0;`);
  }
  return [
    `PATH=/bin:/usr/bin:$PATH; d=/probe; h=${hash};`,
    `mkdir -p $d/live $d/done $d/tick;`,
    `i=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo $RANDOM$RANDOM); me=$h.\${i%%-*};`,
    `touch $d/live/$me; saw=; prev=; idle=0; n=0;`,
    `while :; do`,
    `for f in $d/live/*; do b=\${f##*/}; case " $me$saw " in *" $b "*) ;; *) [ -e $f ] && saw="$saw $b";; esac; done;`,
    `dn=$(ls $d/done); st="$(ls $d/live $d/tick) $dn"; [ "$st" != "$prev" ] && prev=$st && idle=0;`,
    checks.length ? `got=$( (ls $d/done; for x in $me $saw; do echo $x; done) | sort -u);` : "",
    `ok=1; ${checks.join(" ")}`,
    `[ $ok = 1 ] && break; [ $n -ge ${maxTicks} ] && break;`,
    // On a stall, only one step gives up at a time (the others then see what its exit unblocks).
    // The lock is named after the done-set this step saw: if another step gave up since,
    // the name is taken and this step waits on (and then sees the change).
    `if [ $idle -ge ${idleTicks} ]; then mkdir $d/exit.$(echo "$dn" | wc -w) 2>/dev/null && break; idle=0; fi;`,
    `sleep 0.1; idle=$((idle+1)); n=$((n+1));`,
    `done;`,
    `echo "PROBE $me saw$saw"; touch $d/done/$me; rm -f $d/live/$me`,
  ]
    .filter((s) => s !== "")
    .join(" ");
}

interface StageWork extends ProbeStage {
  instrs: Instruction[];
  fromText: string;
  asText: string;
}

/** Everything about a Dockerfile that does not depend on the probe round. */
interface Model {
  esc: string;
  preamble: Instruction[];
  stages: StageWork[];
  target: number;
  hashOf: Map<Instruction, string>;
  /** marker hash of each participant RUN (by line) */
  markerOfLine: Map<number, string>;
  participants: ProbeParticipant[];
  steps: ProbeStep[];
  /** ancestors of each node */
  anc: Set<number>[];
  nodeHash: Map<number, string>;
  modelPairs: LinePair[];
  resolveFrom(ref: string, allowIndex: boolean): number | null;
  rootScratch(s: number): boolean;
}

function analyze(text: string, opts: ProbeOptions): Model {
  const df = readDockerfile(text);
  const esc = df.escape;
  const platform = opts.platform ?? hostPlatform();
  const buildArgs = opts.buildArgs ?? {};

  // Global ARGs (before the first FROM) with the automatic platform args.
  const globalVars: Record<string, string | undefined> = { ...platformArgs(platform) };
  let firstFrom = df.instructions.findIndex((x) => x.keyword === "FROM");
  if (firstFrom < 0) firstFrom = df.instructions.length;
  for (const ins of df.instructions.slice(0, firstFrom)) {
    if (ins.keyword !== "ARG") continue;
    for (const w of words(ins.rest)) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w : w.slice(0, eq);
      const def = eq < 0 ? undefined : expandWord(unquote(w.slice(eq + 1)), globalVars, esc);
      globalVars[name] = name in buildArgs ? buildArgs[name] : def;
    }
  }

  // Stages.
  const stages: StageWork[] = [];
  for (let k = firstFrom; k < df.instructions.length; k++) {
    const ins = df.instructions[k];
    if (ins.keyword === "FROM") {
      const { flags, args } = splitFlags(ins.rest, esc);
      const w = words(args);
      const baseRaw = w[0] ?? "";
      const name = w.length >= 3 && w[1].toLowerCase() === "as" ? w[2].toLowerCase() : null;
      const index = stages.length;
      const expanded = expandWord(baseRaw, globalVars, esc);
      let baseStage: number | null = null;
      for (let s = stages.length - 1; s >= 0; s--) {
        if (stages[s].name !== null && stages[s].name === expanded) {
          baseStage = s;
          break;
        }
      }
      let image: string | null = null;
      let scratch = false;
      let invalidBase = false;
      if (baseStage === null) {
        if (expanded === "scratch") scratch = true;
        else {
          const norm = normalizeImageRef(expanded);
          if (norm === null) invalidBase = true;
          else {
            const pf = flags.find((f) => f.name === "platform");
            const plat = pf
              ? normalizePlatform(expandWord(pf.value, globalVars, esc), platform)
              : platform;
            image = plat === platform ? norm : `${norm}|${plat}`;
          }
        }
      }
      stages.push({
        index,
        name,
        display: name ?? `stage-${index}`,
        line: ins.line,
        baseStage,
        image,
        scratch,
        invalidBase,
        deps: baseStage === null ? [] : [baseStage],
        reachable: false,
        instrs: [],
        fromText: baseRaw,
        asText: w.length >= 3 ? `${w[1]} ${w[2]}` : "",
      });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instrs.push(ins);
    }
  }
  const lastByName = (n: string): number | null => {
    const l = n.toLowerCase();
    for (let s = stages.length - 1; s >= 0; s--) if (stages[s].name === l) return s;
    return null;
  };
  /** A `from` reference: a stage index (for COPY, a number is an index) or null (image). */
  const resolveFrom = (ref: string, allowIndex: boolean): number | null => {
    if (allowIndex && /^[0-9]+$/.test(ref)) {
      const n = parseInt(ref, 10);
      return n < stages.length ? n : null;
    }
    return lastByName(ref);
  };
  /** Earlier stages an instruction reads from (COPY --from, RUN --mount from=). */
  const fromStages = (ins: Instruction, current: number): number[] => {
    const kw = ins.keyword;
    if (kw !== "RUN" && kw !== "COPY") return [];
    const out: number[] = [];
    for (const f of splitFlags(ins.rest, esc).flags) {
      let ref: string | undefined;
      if (kw === "COPY" && f.name === "from") ref = f.value;
      if (kw === "RUN" && f.name === "mount") ref = parseMount(f.value)?.from;
      if (ref === undefined) continue;
      const s = resolveFrom(ref, kw === "COPY");
      if (s !== null && s < current && !out.includes(s)) out.push(s);
    }
    return out;
  };

  // Dependencies and reachability.
  for (const st of stages) {
    for (const ins of st.instrs)
      for (const s of fromStages(ins, st.index)) if (!st.deps.includes(s)) st.deps.push(s);
  }
  let target = stages.length - 1;
  if (opts.target !== undefined) target = lastByName(opts.target) ?? -1;
  if (target >= 0) {
    const todo = [target];
    while (todo.length) {
      const s = todo.pop() as number;
      if (stages[s].reachable) continue;
      stages[s].reachable = true;
      todo.push(...stages[s].deps);
    }
  }
  const rootScratch = (s: number): boolean => {
    const st = stages[s];
    return st.baseStage === null ? st.scratch || st.invalidBase : rootScratch(st.baseStage);
  };

  const hashOf = new Map<Instruction, string>();
  for (const ins of df.instructions) hashOf.set(ins, probeHash(canonicalInstruction(ins, esc)));

  // The step DAG. A node stands for one vertex of the engine: steps whose whole history
  // (base, identity-changing instructions, sources) is equal are one node.
  const nodeBySig = new Map<string, number>();
  const nodeSig: string[] = [];
  const preds: Set<number>[] = [];
  const nodeHash = new Map<number, string>();
  const node = (sig: string): number => {
    let n = nodeBySig.get(sig);
    if (n === undefined) {
      n = preds.length;
      nodeBySig.set(sig, n);
      nodeSig.push(sig);
      preds.push(new Set());
    }
    return n;
  };
  const stageSig: string[] = [];
  const stageLast: number[] = [];
  const steps: ProbeStep[] = [];
  for (const st of stages) {
    let sig: string;
    let cur: number;
    let step: number;
    if (st.baseStage !== null) {
      sig = stageSig[st.baseStage];
      cur = stageLast[st.baseStage];
      step = 0; // the engine does not count `FROM <stage>` (nor `FROM scratch`)
    } else {
      sig = `image:${st.image ?? (st.scratch ? "scratch" : st.fromText)}`;
      cur = node(sig);
      step = st.scratch || st.invalidBase ? 0 : 1;
    }
    for (const ins of st.instrs) {
      const h = hashOf.get(ins) as string;
      const froms = fromStages(ins, st.index);
      if (IDENTITY_KEYWORDS.has(ins.keyword)) {
        let extra = froms.map((s) => `\nfrom:${stageSig[s]}`).join("");
        let creates = true;
        if (ins.keyword === "ARG") {
          // An ARG with no value creates nothing; a valued one changes the environment.
          creates = false;
          for (const w of words(ins.rest)) {
            const eq = w.indexOf("=");
            const n = eq < 0 ? w : w.slice(0, eq);
            const v = n in buildArgs ? buildArgs[n] : eq >= 0 ? w.slice(eq + 1) : globalVars[n];
            if (v !== undefined) {
              creates = true;
              extra += `\n${n}=${v}`;
            }
          }
        }
        if (creates) sig = fnv64(`${sig}\n${h}${extra}`);
      }
      if (STEP_KEYWORDS.has(ins.keyword)) {
        step++;
        const n = node(sig);
        nodeHash.set(n, h);
        if (n !== cur) preds[n].add(cur);
        for (const s of froms) preds[n].add(stageLast[s]);
        const participant =
          ins.keyword === "RUN" &&
          splitFlags(ins.rest, esc).flags.some(
            (f) => f.name === "mount" && parseMount(f.value)?.type === "cache",
          );
        steps.push({ line: ins.line, stage: st.index, step, hash: h, participant, node: n });
        cur = n;
      }
    }
    stageSig[st.index] = sig;
    stageLast[st.index] = cur;
  }
  const anc: Set<number>[] = [];
  const ancestors = (n: number): Set<number> => {
    if (anc[n]) return anc[n];
    const s = new Set<number>();
    anc[n] = s; // the graph is acyclic; this only guards against surprises
    for (const p of preds[n]) {
      s.add(p);
      for (const q of ancestors(p)) s.add(q);
    }
    return s;
  };
  for (let n = 0; n < preds.length; n++) ancestors(n);

  // Identical cache RUN text on different nodes (the model says they cannot be one
  // vertex): the marker hash also names the node, so that a step can wait for one
  // particular execution. Steps the model de-duplicates keep one text: the engine decides.
  const markerOfLine = new Map<number, string>();
  const nodesOfHash = new Map<string, Set<number>>();
  for (const st of steps) {
    if (!st.participant) continue;
    const set = nodesOfHash.get(st.hash) ?? new Set<number>();
    set.add(st.node);
    nodesOfHash.set(st.hash, set);
  }
  for (const st of steps) {
    if (!st.participant) continue;
    if ((nodesOfHash.get(st.hash) as Set<number>).size > 1) {
      st.hash = probeHash(`${st.hash}@${nodeSig[st.node]}`);
      nodeHash.set(st.node, st.hash);
    }
    markerOfLine.set(st.line, st.hash);
  }

  // Participants: RUNs with a cache mount.
  const partMap = new Map<string, ProbeParticipant>();
  for (const s of steps) {
    if (!s.participant) continue;
    const p = partMap.get(s.hash) ?? { hash: s.hash, lines: [], reachableLines: [] };
    p.lines.push(s.line);
    if (stages[s.stage].reachable) p.reachableLines.push(s.line);
    partMap.set(s.hash, p);
  }
  const participants = [...partMap.values()];

  const reach = steps.filter((s) => s.participant && stages[s.stage].reachable);
  const modelPairs: LinePair[] = [];
  for (let i = 0; i < reach.length; i++)
    for (let j = i + 1; j < reach.length; j++) {
      const a = reach[i].node;
      const b = reach[j].node;
      if (a === b || anc[a].has(b) || anc[b].has(a)) continue;
      modelPairs.push([reach[i].line, reach[j].line]);
    }

  return {
    esc,
    preamble: df.instructions.slice(0, firstFrom),
    stages,
    target,
    hashOf,
    markerOfLine,
    participants,
    steps,
    anc,
    nodeHash,
    modelPairs: sortPairs(modelPairs),
    resolveFrom,
    rootScratch,
  };
}

function sortPairs(pairs: LinePair[]): LinePair[] {
  const seen = new Set<string>();
  const out: LinePair[] = [];
  for (const [a, b] of pairs) {
    const p: LinePair = a <= b ? [a, b] : [b, a];
    const k = `${p[0]},${p[1]}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
  }
  return out.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}

/** For each participant hash, how many executions of which hashes it waits to meet. */
function waitLists(model: Model, waitPairs: LinePair[]): Map<string, Map<string, number>> {
  const nodeOfLine = new Map<number, number>();
  for (const s of model.steps) if (s.participant) nodeOfLine.set(s.line, s.node);
  const partners = new Map<string, Set<number>>();
  const add = (h: string, n: number) => {
    const s = partners.get(h) ?? new Set<number>();
    s.add(n);
    partners.set(h, s);
  };
  for (const [x, y] of waitPairs) {
    const a = nodeOfLine.get(x);
    const b = nodeOfLine.get(y);
    if (a === undefined || b === undefined || a === b) continue;
    const ha = model.nodeHash.get(a) as string;
    const hb = model.nodeHash.get(b) as string;
    add(ha, b);
    add(hb, a);
    if (ha === hb) {
      add(ha, a);
      add(hb, b);
    }
  }
  const out = new Map<string, Map<string, number>>();
  for (const [h, nodes] of partners) {
    const m = new Map<string, number>();
    for (const n of nodes) {
      const hn = model.nodeHash.get(n) as string;
      m.set(hn, (m.get(hn) ?? 0) + 1);
    }
    out.set(h, m);
  }
  return out;
}

function render(
  model: Model,
  probeId: string,
  waitPairs: LinePair[],
  idleSeconds: number,
  maxSeconds: number,
): { dockerfile: string; images: ProbeImage[] } {
  const { esc, stages } = model;
  const idleTicks = Math.max(1, Math.round(idleSeconds * 10));
  const maxTicks = Math.max(2 * idleTicks, Math.round(maxSeconds * 10));
  const waits = waitLists(model, waitPairs);
  // On a stall, a step whose exit can let a waited-for step start ("blocker": some step in
  // waitPairs comes after it in the model) gives up first; the others wait twice as long.
  const waited = new Set(waitPairs.flat());
  const blockers = new Set<string>();
  for (const a of model.steps) {
    if (!a.participant) continue;
    for (const b of model.steps)
      if (b.participant && waited.has(b.line) && model.anc[b.node].has(a.node))
        blockers.add(a.hash);
  }
  const images = new Map<string, ProbeImage>();
  const imageRef = (key: string): string => {
    const tag = probeImageTag(key);
    images.set(tag, { tag, key });
    return tag;
  };
  /** Map a `from` value (stage or image) for the probe. */
  const mapFrom = (ref: string, allowIndex: boolean): { text: string; source: string } => {
    const s = model.resolveFrom(ref, allowIndex);
    if (s !== null) return { text: ref, source: model.rootScratch(s) ? "/" : COPY_SOURCE };
    const norm = normalizeImageRef(ref);
    if (norm === null) return { text: ref, source: COPY_SOURCE }; // the engine fails as it would
    return { text: imageRef(norm), source: COPY_SOURCE };
  };
  const rewriteRunFlags = (rest: string): { mounts: string[]; cache: boolean; bad: string[] } => {
    const { flags } = splitFlags(rest, esc);
    const mounts: string[] = [];
    const bad: string[] = [];
    let cache = false;
    let k = 0;
    for (const f of flags) {
      if (f.name !== "mount") continue;
      const m = parseMount(f.value);
      if (!m) {
        bad.push(f.raw); // the engine rejects it: keep it so that the probe fails the same way
        continue;
      }
      if (m.type === "cache") cache = true;
      if (m.from !== undefined && m.type !== "secret" && m.type !== "ssh") {
        const mf = mapFrom(m.from, false);
        mounts.push(`--mount=type=bind,from=${mf.text},target=/buildrace-from/${k++}`);
      }
    }
    return { mounts, cache, bad };
  };

  const out: string[] = [];
  out.push(`# escape=${esc}`);
  out.push(`# buildrace probe ${probeId}: generated by tests/e2e/probe.ts`);
  for (const ins of model.preamble) out.push(`${ins.keyword} ${ins.rest}`);
  for (const st of stages) {
    let base: string;
    if (st.baseStage !== null) base = stages[st.baseStage].name as string;
    else if (st.scratch) base = "scratch";
    else if (st.invalidBase || st.image === null) base = st.fromText;
    else base = imageRef(st.image);
    out.push(`FROM ${base}${st.asText ? " " + st.asText : ""}`);
    for (const ins of st.instrs) {
      const h = model.hashOf.get(ins) as string;
      switch (ins.keyword) {
        case "RUN": {
          const r = rewriteRunFlags(ins.rest);
          const flags = [...r.bad, ...r.mounts];
          if (r.cache) {
            const mh = model.markerOfLine.get(ins.line) ?? h;
            const probeMount = `--mount=type=cache,id=${probeId},target=/probe,sharing=shared`;
            const script = rendezvousScript(
              mh,
              waits.get(mh) ?? new Map(),
              blockers.has(mh) ? idleTicks : 2 * idleTicks,
              maxTicks,
            );
            out.push(`RUN ${[probeMount, ...flags].join(" ")} ${script}`);
          } else {
            // A tick in the probe cache: waiting steps see that the build is progressing.
            const probeMount = `--mount=type=cache,id=${probeId},target=/probe,sharing=shared`;
            out.push(
              `RUN ${[probeMount, ...flags].join(" ")} mkdir -p /probe/tick && touch /probe/tick/${h}.$RANDOM`,
            );
          }
          break;
        }
        case "COPY":
        case "ADD": {
          const { flags } = splitFlags(ins.rest, esc);
          const from = flags.find((f) => f.name === "from");
          if (from && ins.keyword === "ADD") {
            out.push(`${ins.keyword} ${ins.rest}`); // an error on the engine, as in the original
          } else if (from) {
            const mf = mapFrom(from.value, true);
            out.push(`COPY --from=${mf.text} ${mf.source} /buildrace-copy/${h}`);
          } else {
            out.push(`COPY --from=${BASE_IMAGE} ${COPY_SOURCE} /buildrace-copy/${h}`);
          }
          break;
        }
        case "USER":
          out.push(`USER 0:${1000 + (parseInt(h.slice(0, 8), 16) % 50000)}`);
          break;
        case "SHELL":
          out.push(`SHELL ["/bin/env", "BUILDRACE_SHELL=${h}", "/bin/sh", "-c"]`);
          break;
        case "ONBUILD":
          out.push(`ONBUILD RUN true # ${h}`);
          break;
        default:
          out.push(`${ins.keyword} ${ins.rest}`);
      }
    }
  }
  return { dockerfile: out.join("\n") + "\n", images: [...images.values()] };
}

/** Rewrite a Dockerfile into a probe Dockerfile for one build (no engine needed). */
export function makeProbe(text: string, opts: ProbeOptions = {}): ProbePlan {
  return planFor(analyze(text, opts), opts, opts.waitPairs);
}

function planFor(
  model: Model,
  opts: ProbeOptions,
  waitPairs: LinePair[] | undefined,
  probeId?: string,
): ProbePlan {
  const id = probeId ?? opts.probeId ?? uniqueId("probe");
  const idleSeconds = opts.idleSeconds ?? 2;
  const maxSeconds = opts.maxSeconds ?? 30;
  const wp = sortPairs(waitPairs ?? model.modelPairs);
  const { dockerfile, images } = render(model, id, wp, idleSeconds, maxSeconds);
  return {
    dockerfile,
    probeId: id,
    images,
    stages: model.stages.map(({ instrs: _i, fromText: _f, asText: _a, ...s }) => s),
    target: model.target,
    participants: model.participants,
    steps: model.steps,
    modelPairs: model.modelPairs,
    waitPairs: wp,
    buildArgs: opts.buildArgs ?? {},
    idleSeconds,
    maxSeconds,
  };
}

// ---------------------------------------------------------------- reading the engine's log

export interface ProbeInstance {
  /** `<hash>.<instance>` */
  marker: string;
  hash: string;
  /** progress vertex number */
  vertex: number;
  /** `[stage step/n]` of the vertex, when found */
  stage?: string;
  step?: number;
  /** original lines this execution stands for (several when de-duplicated) */
  lines: number[];
  /** the attribution to lines is a guess (over-approximation) */
  ambiguous: boolean;
  /** markers of other steps seen live while this one ran */
  saw: string[];
}

export interface ProbeObservation {
  instances: ProbeInstance[];
  /** line pairs (smaller first, sorted, unique) whose steps ran at the same time */
  pairs: LinePair[];
  /** participant lines that ran (through some execution) */
  ran: number[];
  /** reachable participant lines that did not run (build failure, or the model is wrong) */
  missing: number[];
  /** participant lines in stages the probe thinks unreachable that ran anyway */
  unexpectedLines: number[];
}

/** Parse a plain progress log of a probe build. */
export function parseProbeLog(log: string, plan: ProbePlan): ProbeObservation {
  const vertexName = new Map<number, { stage: string; step: number }>();
  const raw: { vertex: number; marker: string; saw: string[] }[] = [];
  for (const l of log.split(/\r?\n/)) {
    let m = /^#(\d+) \[(\S+) (\d+)\/(\d+)\] /.exec(l);
    if (m) {
      vertexName.set(parseInt(m[1], 10), { stage: m[2], step: parseInt(m[3], 10) });
      continue;
    }
    m = /^#(\d+) [0-9.]+ PROBE (\S+) saw(.*)$/.exec(l);
    if (m) raw.push({ vertex: parseInt(m[1], 10), marker: m[2], saw: words(m[3]) });
  }
  const partByHash = new Map(plan.participants.map((p) => [p.hash, p]));
  const stageByDisplay = new Map(plan.stages.map((s) => [s.display, s.index]));
  const reachable = (line: number) =>
    plan.participants.some((p) => p.reachableLines.includes(line));
  const groupLines = (h: string): number[] => {
    const p = partByHash.get(h);
    if (!p) return [];
    return p.reachableLines.length ? p.reachableLines : p.lines;
  };
  const instances: ProbeInstance[] = raw.map((r) => {
    const hash = r.marker.split(".")[0];
    const vn = vertexName.get(r.vertex);
    const si = vn ? stageByDisplay.get(vn.stage) : undefined;
    const st = plan.steps.find((s) => s.stage === si && s.step === vn?.step && s.hash === hash);
    let lines: number[];
    let ambiguous = false;
    if (st) {
      // The vertex is named after one of the steps it stands for; the others are the
      // steps the model de-duplicates with it.
      lines = plan.steps
        .filter(
          (s) => s.participant && s.node === st.node && (s.line === st.line || reachable(s.line)),
        )
        .map((s) => s.line);
    } else {
      lines = groupLines(hash);
      ambiguous = lines.length > 1;
    }
    return {
      marker: r.marker,
      hash,
      vertex: r.vertex,
      stage: vn?.stage,
      step: vn?.step,
      lines,
      ambiguous,
      saw: r.saw,
    };
  });
  const byMarker = new Map(instances.map((x) => [x.marker, x]));
  const pairs: LinePair[] = [];
  for (const a of instances) {
    for (const m of a.saw) {
      const b = byMarker.get(m);
      const bl = b ? b.lines : groupLines(m.split(".")[0]);
      for (const x of a.lines) for (const y of bl) if (x !== y) pairs.push([x, y]);
    }
  }
  const ran = [...new Set(instances.flatMap((x) => x.lines))].sort((p, q) => p - q);
  const reach = plan.participants.flatMap((p) => p.reachableLines);
  const missing = reach.filter((l) => !ran.includes(l)).sort((p, q) => p - q);
  const unexpectedLines = ran.filter((l) => !reach.includes(l));
  return { instances, pairs: sortPairs(pairs), ran, missing, unexpectedLines };
}

// ---------------------------------------------------------------- running it

let baseId: string | undefined;

/**
 * Build the local probe images the plan needs (distinct content per image key). An image
 * is rebuilt when buildrace-base changed since it was built (label buildrace.probe.base).
 */
export function ensureProbeImages(images: ProbeImage[]): void {
  if (images.length === 0) return;
  if (baseId === undefined) {
    const r = spawnSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE], {
      encoding: "utf8",
      timeout: 15000,
    });
    if (r.status !== 0) throw new Error(`${BASE_IMAGE} is missing: run \`bash scripts/engine.sh\``);
    baseId = r.stdout.trim();
  }
  for (const img of images) {
    const have = spawnSync(
      DOCKER,
      ["image", "inspect", "--format", '{{index .Config.Labels "buildrace.probe.base"}}', img.tag],
      { encoding: "utf8", timeout: 15000 },
    );
    if (have.status === 0 && have.stdout.trim() === baseId) continue;
    const dir = tmpDir("buildrace-probe-img-");
    try {
      fs.writeFileSync(path.join(dir, "image"), img.key + "\n");
      fs.writeFileSync(
        path.join(dir, "Dockerfile"),
        `FROM ${BASE_IMAGE}\nLABEL buildrace.probe.base=${baseId}\nCOPY image /etc/buildrace-image\n`,
      );
      const r = build(dir, { tag: img.tag });
      if (r.code !== 0)
        throw new Error(`building probe image ${img.tag} (${img.key}) failed:\n${r.log}`);
    } finally {
      removeDir(dir);
    }
  }
}

export type ProbeBuildKind = "all" | "star" | "pair";

export interface ProbeBuild {
  /** "all": every model pair waits; "star": one step and its unmet partners; "pair": one pair */
  kind: ProbeBuildKind;
  probeId: string;
  /** pairs whose steps waited for each other */
  waitPairs: LinePair[];
  code: number;
  ms: number;
  /** pairs seen in this build */
  pairs: LinePair[];
  log: string;
}

export interface RunProbeOptions extends ProbeOptions {
  /**
   * More pairs to try to meet (e.g. the analyzer's `parallel`); the probe's own model
   * pairs are always tried.
   */
  hypothesis?: LinePair[];
  /**
   * Try every pair of reachable cache RUNs, not only the model's and the hypothesis's, so
   * the engine alone decides each pair. Slow: each pair that cannot overlap costs a
   * single-pair build with a timeout (about starIdleSeconds).
   */
  exhaustive?: boolean;
  /** at most this many builds (default 16); pairs left open are reported as `undecided` */
  maxBuilds?: number;
  /**
   * Idle timeout in star and single-pair builds (default 4 s; larger than idleSeconds so a
   * slow start is not taken for "cannot overlap").
   */
  starIdleSeconds?: number;
}

export interface ProbeResult {
  /** the plan of the first build */
  plan: ProbePlan;
  builds: ProbeBuild[];
  /** first non-zero exit code of the builds, else 0 */
  code: number;
  /** log of the first failed build, else of the first build */
  log: string;
  /** wall-clock time of all probe builds (ms), without image preparation */
  ms: number;
  /** every pair seen at the same time in some build (smaller line first, sorted) */
  pairs: LinePair[];
  /** the pairs the probe tried to meet: its model, the hypothesis, or all (exhaustive) */
  tried: LinePair[];
  /** tried pairs not seen although a single-pair build waited for them: they cannot overlap */
  unconfirmed: LinePair[];
  /** tried pairs neither seen nor decided (maxBuilds reached, or a build failed) */
  undecided: LinePair[];
  /** seen pairs the probe's model does not predict */
  surprises: LinePair[];
  /** executions of the first build */
  instances: ProbeInstance[];
  ran: number[];
  missing: number[];
  unexpectedLines: number[];
}

const key = (p: LinePair) => `${p[0]},${p[1]}`;

/**
 * Probe one Dockerfile's text for one target on the engine.
 * 1. "all": every pair of the probe's model waits for each other (usually the only build).
 * 2. "star": for model pairs not met (orders no single schedule can show, like two
 *    parallel chains of two), one step waits for its unmet partners, each partner for it.
 * 3. "pair": each pair still not met (and each hypothesis pair the model orders) gets a
 *    build where only those two steps wait: nothing else can hold them up, so a pair not
 *    met there cannot run at the same time (`unconfirmed`).
 * A pair seen in any build ran at the same time (`pairs`).
 */
export function runProbe(text: string, opts: RunProbeOptions = {}): ProbeResult {
  const model = analyze(text, opts);
  const reachLines = new Set(model.participants.flatMap((p) => p.reachableLines));
  const extra: LinePair[] = [];
  if (opts.exhaustive) {
    const reach = model.steps.filter((s) => s.participant && model.stages[s.stage].reachable);
    for (const a of reach)
      for (const b of reach) if (a.line < b.line && a.node !== b.node) extra.push([a.line, b.line]);
  }
  for (const [a, b] of opts.hypothesis ?? [])
    if (a !== b && reachLines.has(a) && reachLines.has(b)) extra.push([a, b]);
  const modelKeys = new Set(model.modelPairs.map(key));
  const tried = sortPairs([...model.modelPairs, ...extra]);
  const maxBuilds = opts.maxBuilds ?? 16;
  const builds: ProbeBuild[] = [];
  const seen = new Set<string>();
  const starred = new Set<string>(); // pairs a star build has waited for
  const decided = new Set<string>(); // pairs a single-pair build has waited for
  // Pairs the model orders would only stall "all" and "star" builds: straight to "pair".
  for (const p of tried) if (!modelKeys.has(key(p))) starred.add(key(p));
  let firstPlan: ProbePlan | undefined;
  let firstObs: ProbeObservation | undefined;
  let kind: ProbeBuildKind = "all";
  let waitPairs: LinePair[] = opts.waitPairs ?? model.modelPairs;
  for (;;) {
    const plan = planFor(
      model,
      kind === "all" ? opts : { ...opts, idleSeconds: opts.starIdleSeconds ?? 4 },
      waitPairs,
      uniqueId(opts.probeId ?? "probe"), // every build needs a fresh, empty probe cache
    );
    ensureProbeImages(plan.images);
    const dir = tmpDir("buildrace-probe-");
    let r: BuildResult;
    try {
      fs.writeFileSync(path.join(dir, "Dockerfile"), plan.dockerfile);
      r = build(dir, { target: opts.target, buildArgs: plan.buildArgs });
    } finally {
      removeDir(dir);
    }
    const obs = parseProbeLog(r.log, plan);
    builds.push({
      kind,
      probeId: plan.probeId,
      waitPairs,
      code: r.code,
      ms: r.ms,
      pairs: obs.pairs,
      log: r.log,
    });
    if (!firstPlan) {
      firstPlan = plan;
      firstObs = obs;
    }
    for (const p of obs.pairs) seen.add(key(p));
    if (r.code !== 0) break;
    if (kind === "star") for (const p of waitPairs) starred.add(key(p));
    if (kind === "pair") for (const p of waitPairs) decided.add(key(p));
    if (builds.length >= maxBuilds) break;
    const open = tried.filter((p) => !seen.has(key(p)));
    const forStar = open.filter((p) => !starred.has(key(p)));
    const forPair = open.filter((p) => starred.has(key(p)) && !decided.has(key(p)));
    if (forStar.length > 0) {
      // A star around the line with the most pairs still to meet.
      const count = new Map<number, number>();
      for (const [a, b] of forStar) {
        count.set(a, (count.get(a) ?? 0) + 1);
        count.set(b, (count.get(b) ?? 0) + 1);
      }
      const anchor = [...count.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0][0];
      kind = "star";
      waitPairs = forStar.filter(([a, b]) => a === anchor || b === anchor);
    } else if (forPair.length > 0) {
      kind = "pair";
      waitPairs = [forPair[0]];
    } else break;
  }
  const pairs = sortPairs([...seen].map((s) => s.split(",").map(Number) as LinePair));
  const failed = builds.find((b) => b.code !== 0);
  const first = firstObs as ProbeObservation;
  return {
    plan: firstPlan as ProbePlan,
    builds,
    code: failed ? failed.code : 0,
    log: failed ? failed.log : builds[0].log,
    ms: builds.reduce((s, b) => s + b.ms, 0),
    pairs,
    tried,
    unconfirmed: tried.filter((p) => !seen.has(key(p)) && decided.has(key(p))),
    undecided: tried.filter((p) => !seen.has(key(p)) && !decided.has(key(p))),
    surprises: pairs.filter((p) => !modelKeys.has(key(p))),
    instances: first.instances,
    ran: first.ran,
    missing: first.missing,
    unexpectedLines: first.unexpectedLines,
  };
}

/** `[[a,b],...]` as `a-b a-b ...`, for readable assertions. */
export function formatPairs(pairs: LinePair[]): string {
  return pairs.map(([a, b]) => `${a}-${b}`).join(" ");
}

/** runProbe on a Dockerfile read from disk (line numbers are that file's lines). */
export function runProbeFile(file: string, opts: RunProbeOptions = {}): ProbeResult {
  return runProbe(fs.readFileSync(file, "utf8"), opts);
}
