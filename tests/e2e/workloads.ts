/**
 * Package-manager-shaped workloads for race reproduction on the local engine (issue 6,
 * parts 2 and 4; SPEC sections 1 and 6; README "Build time").
 *
 * `materialize(text, opts)` turns a real Dockerfile (an example, before or after `buildrace
 * fix`) into one this engine can build, keeping its step graph and every cache mount option
 * that matters (`sharing`, `id`, `target`, `uid`/`gid`/`mode`):
 * - every `FROM <external image>` (also `COPY --from=<external image>`) becomes a local image
 *   derived from buildrace-base, one per distinct normalised reference (the probe's
 *   `buildrace-probe-img-<hash>`, built by `ensureProbeImages`); `FROM <stage>` stays;
 * - every cache mount gets a fresh id written into it: `id=<prefix>-<original id or target>`
 *   (this engine does not expand build args in mount options, and `--no-cache` must not be
 *   used: a unique id per build is the only way to a cold cache);
 * - every RUN with a cache mount runs a busybox workload shaped like the package manager that
 *   owns the cache (by its target, see `cacheKind`): check-then-create unpacking for the cargo
 *   registry and the yarn v1 cache (fails with the real error text when another writer got
 *   there first), apt's lists and archives locks (fails with "Could not get lock"), and for
 *   cargo `target/` and build-output caches a lock the tool waits on ("Blocking waiting for
 *   file lock on build directory"), then a compile: serialises, never fails. Safe caches (npm,
 *   pip, go, ...) get a write that tolerates concurrent writers;
 * - each workload starts with `: <hash of the instruction text>;`, so steps the engine would
 *   de-duplicate stay de-duplicated and steps it would not stay distinct;
 * - other RUNs become `echo` of their hash, `COPY --from=<stage>` copies a file every
 *   buildrace-base image has (the edge stays), context COPY/ADD stay (their sources are
 *   created in the temporary context when missing), `USER x` becomes `USER 0:<gid>`.
 *
 * Mount-option variables: this engine (dockerfile frontend 1.2) keeps `$VAR` in mount options
 * literally; BuildKit's frontend 1.3 and later expands them (SPEC section 2, "Variable
 * expansion"). `buildrace fix` may write such ids (`id=/app/target-$SERVICE`), so
 * `materialize` expands `$VAR`/`${VAR}` in mount option values (not `from`) where VAR is an
 * ARG declared in the stage so far, from the build's args, as the newer frontend does (ENV is
 * not modelled: other variables expand to empty). One Dockerfile per build is the price (see
 * `materializeCompose`).
 *
 * Used by tests/e2e/races.test.ts, tests/e2e/compose.test.ts and bench/build-time.js (which
 * loads this file through TypeScript's transpiler). Only node built-ins and `yaml` are used.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { build, BuildResult, REPO_ROOT, runBuildrace, tmpDir, uniqueId } from "./engine";
import {
  csvFields,
  ensureProbeImages,
  expandWord,
  normalizeImageRef,
  ProbeImage,
  probeHash,
  readDockerfile,
  splitFlags,
} from "./probe";

// ---------------------------------------------------------------- knobs and error texts

export interface Timing {
  /**
   * cargo's download before it unpacks: a random time in [0, downloadSeconds) (network time
   * varies; 0 = none). It spreads the unpacks of concurrent builds apart, so that a short
   * unpack window collides only sometimes, as in the field.
   */
  downloadSeconds: number;
  /** crates each cargo registry unpack walks through */
  crates: number;
  /** seconds between a crate's directory and its `.cargo-ok` (the check-then-create window) */
  unpackSeconds: number;
  /** seconds apt holds the lists lock (update) and then the archives lock (download) */
  aptSeconds: number;
  /** packages each yarn v1 install (and poetry install) unpacks */
  packages: number;
  /** seconds between a package's cache directory and its metadata file */
  packageSeconds: number;
  /** seconds of "compilation" on a serialising cache (cargo `target/`, build output) */
  compileSeconds: number;
}

export const DEFAULT_TIMING: Timing = {
  downloadSeconds: 0,
  crates: 8,
  unpackSeconds: 0.25,
  aptSeconds: 1.5,
  packages: 8,
  packageSeconds: 0.2,
  compileSeconds: 0.5,
};

/**
 * The errors the unsafe workloads print, as the real tools print them, matched only as output
 * lines of a plain progress log (`#12 0.408 <line>`): the log also shows each RUN's command
 * text, which contains the same words.
 */
const OUT = String.raw`^#\d+ \d+\.\d+ `;
export const ERRORS = {
  /** cargo: `failed to unpack package ... .cargo-ok ... File exists (os error 17)` (exit 101) */
  cargoRegistry: new RegExp(
    OUT +
      String.raw`error: failed to unpack package ` +
      "`[^`]+`: failed to open `[^`]*/\\.cargo-ok`: " +
      String.raw`File exists \(os error 17\)`,
    "m",
  ),
  /** apt-get update / install (exit 100) */
  apt: new RegExp(
    OUT +
      String.raw`E: Could not get lock /var/(lib/apt/lists|cache/apt/archives)/lock\. It is held by process 0`,
    "m",
  ),
  /** yarn v1 (exit 1) */
  yarn: new RegExp(
    OUT +
      String.raw`error An unexpected error occurred: "EEXIST: file already exists, mkdir '[^']+'"`,
    "m",
  ),
  /** poetry (exit 1) */
  poetry: new RegExp(OUT + String.raw`  \[Errno 17\] File exists: '[^']+'`, "m"),
};

/** What a serialising workload prints while it waits for the tool's own lock. */
export const BLOCKING_TEXT = "Blocking waiting for file lock on build directory";

// ---------------------------------------------------------------- cache kinds and workloads

export type CacheKind =
  | "cargo-registry"
  | "cargo-git"
  | "cargo-target"
  | "apt-lists"
  | "apt-archives"
  | "yarn-v1"
  | "poetry"
  | "build-output"
  | "safe";

/** The package manager behind a cache, by its target (and id), as the knowledge base sees it. */
export function cacheKind(target: string, id?: string): CacheKind {
  const t = target.replace(/\/+$/, "");
  const both = `${t} ${id ?? ""}`;
  if (/(^|\/)(\.?cargo)\/registry$/.test(t)) return "cargo-registry";
  if (/(^|\/)(\.?cargo)\/git$/.test(t)) return "cargo-git";
  if (/^\/var\/lib\/apt(\/lists)?$/.test(t)) return "apt-lists";
  if (/^\/var\/cache\/apt(\/archives)?$/.test(t)) return "apt-archives";
  if (/(^|\/)\.cache\/yarn$/.test(t)) return "yarn-v1";
  if (/pypoetry/.test(both)) return "poetry";
  if (/node_modules\/\.cache$/.test(t)) return "build-output";
  if (/(^|\/)target$/.test(t)) return "cargo-target";
  return "safe";
}

const KIND_ORDER: CacheKind[] = [
  "apt-lists",
  "apt-archives",
  "cargo-registry",
  "cargo-git",
  "yarn-v1",
  "poetry",
  "safe",
  "cargo-target",
  "build-output",
];

const CRATES = [
  "anyhow-1.0.93",
  "serde-1.0.215",
  "serde_derive-1.0.215",
  "tokio-1.41.1",
  "tracing-0.1.40",
  "tracing-subscriber-0.3.18",
  "libc-0.2.164",
  "proc-macro2-1.0.92",
  "quote-1.0.37",
  "syn-2.0.89",
  "bytes-1.8.0",
  "mio-1.0.2",
];
const NPM_PACKAGES = [
  "react-18.3.1",
  "react-dom-18.3.1",
  "next-14.2.18",
  "vite-5.4.11",
  "typescript-5.6.3",
  "zod-3.23.8",
  "scheduler-0.23.2",
  "loose-envify-1.4.0",
  "js-tokens-4.0.0",
  "esbuild-0.21.5",
  "rollup-4.27.4",
  "postcss-8.4.49",
];
const REGISTRY_SRC = "src/index.crates.io-6f17d22bba15001f";

function seconds(s: number): string {
  return String(Math.max(0, Math.round(s * 1000) / 1000));
}

/** `read` of /proc/uptime: one clock for every container on the host (centiseconds). */
const NOW = "$(cut -d' ' -f1 /proc/uptime)";

/**
 * The busybox `sh` script (one line, for a shell-form RUN) a cache RUN runs: one segment per
 * cache mount, unsafe ones first, serialising ones (the compile) last. `mounts` are the
 * resolved mount points. `tag` names the step in its output lines.
 */
export function workloadScript(
  tag: string,
  mounts: { kind: CacheKind; path: string }[],
  timing: Timing,
): string {
  const parts: string[] = [
    `: ${tag}`,
    `n=$RANDOM$RANDOM`,
    `echo "BUILDRACE ${tag} start ${NOW} $n"`,
  ];
  const sorted = [...mounts].sort(
    (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind),
  );
  for (const m of sorted) parts.push(segment(tag, m.kind, m.path, timing));
  parts.push(`echo "BUILDRACE ${tag} end ${NOW} $n"`);
  return parts.join("; ");
}

function segment(tag: string, kind: CacheKind, p: string, t: Timing): string {
  switch (kind) {
    case "cargo-registry": {
      // cargo's unpack: `if .cargo-ok exists, skip; else unpack, then create .cargo-ok`. A
      // second cargo on the same directory meets a half-unpacked crate and fails (exit 101).
      const crates = CRATES.slice(0, Math.max(1, t.crates)).join(" ");
      return [
        `R=${p}/${REGISTRY_SRC}`,
        `mkdir -p $R ${p}/cache ${p}/index`,
        `echo '    Updating crates.io index'`,
        ...(t.downloadSeconds > 0
          ? [
              `ms=$((RANDOM % ${Math.round(t.downloadSeconds * 1000)}))`,
              `echo "  Downloading crates (\${ms} ms)"`,
              `sleep $((ms / 1000)).$(printf %03d $((ms % 1000)))`,
            ]
          : []),
        `for c in ${crates}; do if [ ! -e $R/$c/.cargo-ok ]; then ` +
          `if mkdir $R/$c 2>/dev/null; then echo "  Downloaded \${c%-*} v\${c##*-}"; sleep ${seconds(t.unpackSeconds)}; echo '{"v":1}' > $R/$c/.cargo-ok; ` +
          `else echo 'error: failed to unpack package \`'"\${c%-*} v\${c##*-}"'\`: failed to open \`'"$R/$c/.cargo-ok"'\`: File exists (os error 17)'; exit 101; fi; fi; done`,
      ].join("; ");
    }
    case "cargo-git":
      // No git dependencies in these workspaces: cargo only creates its directories.
      return `mkdir -p ${p}/db ${p}/checkouts`;
    case "apt-lists": {
      // apt-get update takes /var/lib/apt/lists/lock (fcntl, no waiting); from another
      // container the holder's pid reads as 0.
      const l = /\/lists$/.test(p) ? p : `${p}/lists`;
      return [
        `L=${l}`,
        `mkdir -p $L/partial`,
        `if ! mkdir $L/lock.d 2>/dev/null; then echo 'E: Could not get lock /var/lib/apt/lists/lock. It is held by process 0'; echo 'E: Unable to lock directory /var/lib/apt/lists/'; exit 100; fi`,
        `echo 'Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]'`,
        `sleep ${seconds(t.aptSeconds)}`,
        `echo ${tag} > $L/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages`,
        `rmdir $L/lock.d`,
        `echo 'Reading package lists...'`,
      ].join("; ");
    }
    case "apt-archives": {
      const a = /\/archives$/.test(p) ? p : `${p}/archives`;
      return [
        `A=${a}`,
        `mkdir -p $A/partial`,
        `if ! mkdir $A/lock.d 2>/dev/null; then echo 'E: Could not get lock /var/cache/apt/archives/lock. It is held by process 0'; echo 'E: Unable to lock directory /var/cache/apt/archives/'; exit 100; fi`,
        `echo 'Fetched 48.2 MB in ${seconds(t.aptSeconds)}s'`,
        `sleep ${seconds(t.aptSeconds)}`,
        `echo ${tag} > $A/pkg-${tag}_amd64.deb`,
        `rmdir $A/lock.d`,
      ].join("; ");
    }
    case "yarn-v1": {
      const pkgs = NPM_PACKAGES.slice(0, Math.max(1, t.packages)).join(" ");
      return [
        `V=${p}/v6`,
        `mkdir -p $V`,
        `echo '[2/4] Fetching packages...'`,
        `for q in ${pkgs}; do d=$V/npm-$q-integrity; if [ ! -e $d/node_modules/.yarn-metadata.json ]; then ` +
          `if mkdir $d 2>/dev/null; then sleep ${seconds(t.packageSeconds)}; mkdir -p $d/node_modules; echo '{}' > $d/node_modules/.yarn-metadata.json; ` +
          `else echo 'error An unexpected error occurred: "EEXIST: file already exists, mkdir '"'$d'"'".'; exit 1; fi; fi; done`,
      ].join("; ");
    }
    case "poetry": {
      const pkgs = NPM_PACKAGES.slice(0, Math.max(1, t.packages)).join(" ");
      return [
        `P=${p}/artifacts`,
        `mkdir -p $P`,
        `for q in ${pkgs}; do if [ ! -e $P/$q/.done ]; then ` +
          `if mkdir $P/$q 2>/dev/null; then sleep ${seconds(t.packageSeconds)}; touch $P/$q/.done; ` +
          `else echo "  [Errno 17] File exists: '$P/$q'"; exit 1; fi; fi; done`,
      ].join("; ");
    }
    case "cargo-target":
    case "build-output": {
      // The tool's own lock on its output directory (cargo: flock on target/): a second
      // build waits, then compiles. Serialises; never fails.
      const what = kind === "cargo-target" ? "release" : "build";
      return [
        `T=${p}`,
        `mkdir -p $T`,
        `w=0; until mkdir $T/.buildrace-lock 2>/dev/null; do if [ $w = 0 ]; then echo '    ${BLOCKING_TEXT}'; w=1; fi; sleep 0.1; done`,
        `echo "   Compiling ${tag} at ${NOW}"`,
        `sleep ${seconds(t.compileSeconds)}`,
        `mkdir -p $T/${what}`,
        `echo ${tag} > $T/${what}/${tag}`,
        `rmdir $T/.buildrace-lock`,
        `echo '    Finished ${what} in ${seconds(t.compileSeconds)}s'`,
      ].join("; ");
    }
    default:
      // npm/pip/go/...: content-addressed writes through a temporary file and a rename.
      return [
        `S=${p}/buildrace`,
        `mkdir -p $S/tmp`,
        `x=$S/tmp/${tag}.$RANDOM$RANDOM; echo ${tag} > $x && mv -f $x $S/${tag}`,
      ].join("; ");
  }
}

// ---------------------------------------------------------------- materialising a Dockerfile

export interface MaterializeOptions {
  /** written in front of every cache id: `id=<prefix>-<original id or target>` */
  prefix: string;
  /** build args of this build (for FROM names and for mount-option expansion) */
  buildArgs?: Record<string, string>;
  /**
   * Expand `$VAR`/`${VAR}` in mount options as BuildKit's frontend >= 1.3 does (default true;
   * this engine's 1.2 would keep them literally).
   */
  expandMountVars?: boolean;
  timing?: Partial<Timing>;
}

export interface MaterializedRun {
  line: number;
  stage: string;
  tag: string;
  mounts: { kind: CacheKind; id: string; path: string; sharing: string }[];
}

export interface Materialized {
  dockerfile: string;
  /** local base images it needs (`ensureProbeImages`) */
  images: ProbeImage[];
  /** context paths COPY/ADD read (relative; a trailing `/` means a directory) */
  contextSources: string[];
  cacheRuns: MaterializedRun[];
}

const IMAGE_PREFIX = "buildrace-probe-img-";
const COPY_SOURCE = "/etc/buildrace-probe";

interface StageState {
  name: string;
  workdir: string;
  /** ARGs declared in the stage so far: name -> value (undefined when unset) */
  args: Map<string, string | undefined>;
}

function posixJoin(base: string, p: string): string {
  return path.posix.normalize(p.startsWith("/") ? p : path.posix.join(base, p));
}

/** Split JSON-form or whitespace-form COPY arguments into words. */
function copyWords(args: string): string[] {
  const t = args.trim();
  if (t.startsWith("[")) {
    try {
      const a = JSON.parse(t);
      if (Array.isArray(a)) return a.map(String);
    } catch {
      /* fall through */
    }
  }
  return t.split(/\s+/).filter((w) => w !== "");
}

/** Rewrite a Dockerfile for the engine (see the file comment). */
export function materialize(text: string, opts: MaterializeOptions): Materialized {
  const timing: Timing = { ...DEFAULT_TIMING, ...(opts.timing ?? {}) };
  const buildArgs = opts.buildArgs ?? {};
  const expandVars = opts.expandMountVars !== false;
  const df = readDockerfile(text);
  const out: string[] = [];
  if (df.directives.escape) out.push(`# escape=${df.directives.escape}`);
  const images = new Map<string, ProbeImage>();
  const contextSources: string[] = [];
  const cacheRuns: MaterializedRun[] = [];
  const stages: StageState[] = [];
  const globalArgs = new Map<string, string | undefined>();
  let cur: StageState | null = null;

  const imageTag = (ref: string): string => {
    const key = normalizeImageRef(ref);
    if (key === null) return ref; // invalid: keep it, the build fails like the real one
    const tag = IMAGE_PREFIX + probeHash(key);
    images.set(tag, { tag, key });
    return tag;
  };
  const stageByName = (name: string): StageState | undefined => {
    for (let i = stages.length - 1; i >= 0; i--) if (stages[i].name === name) return stages[i];
    return undefined;
  };

  for (const ins of df.instructions) {
    const kw = ins.keyword;
    const hash = probeHash(`${kw} ${ins.rest}\n${ins.heredocs.join("\n")}`);
    if (kw === "ARG" && cur === null) {
      for (const w of ins.rest.split(/\s+/).filter((x) => x !== "")) {
        const eq = w.indexOf("=");
        const name = eq < 0 ? w : w.slice(0, eq);
        const def = eq < 0 ? undefined : w.slice(eq + 1).replace(/^(["'])(.*)\1$/, "$2");
        globalArgs.set(name, buildArgs[name] ?? def);
      }
      out.push(`ARG ${ins.rest}`);
      continue;
    }
    if (kw === "FROM") {
      const { args } = splitFlags(ins.rest, df.escape); // --platform is dropped
      const words = args.split(/\s+/).filter((w) => w !== "");
      const vars: Record<string, string | undefined> = {};
      for (const [k, v] of globalArgs) vars[k] = v;
      const ref = expandWord(words[0] ?? "", vars, df.escape);
      const asName = words.length >= 3 && words[1].toLowerCase() === "as" ? words[2] : null;
      const parent = ref === "scratch" ? undefined : stageByName(ref);
      const base = parent ? parent.name : ref === "scratch" ? "scratch" : imageTag(ref);
      const st: StageState = {
        name: asName ? asName.toLowerCase() : `stage-${stages.length}`,
        workdir: parent ? parent.workdir : "/",
        args: new Map(),
      };
      stages.push(st);
      cur = st;
      out.push(`FROM ${base}${asName ? ` AS ${asName}` : ""}`);
      continue;
    }
    if (cur === null) throw new Error(`line ${ins.line}: ${kw} before the first FROM`);
    switch (kw) {
      case "ARG": {
        for (const w of ins.rest.split(/\s+/).filter((x) => x !== "")) {
          const eq = w.indexOf("=");
          const name = eq < 0 ? w : w.slice(0, eq);
          const def = eq < 0 ? undefined : w.slice(eq + 1).replace(/^(["'])(.*)\1$/, "$2");
          cur.args.set(name, buildArgs[name] ?? globalArgs.get(name) ?? def);
        }
        out.push(`ARG ${ins.rest}`);
        break;
      }
      case "WORKDIR":
        cur.workdir = posixJoin(cur.workdir, ins.rest.trim());
        out.push(`WORKDIR ${ins.rest}`);
        break;
      case "USER":
        out.push(`USER 0:${1000 + (parseInt(hash.slice(0, 6), 16) % 50000)}`);
        break;
      case "SHELL":
        out.push(`SHELL ["/bin/env", "BUILDRACE_SHELL=${hash}", "/bin/sh", "-c"]`);
        break;
      case "ONBUILD":
        out.push(`ONBUILD RUN true # ${hash}`);
        break;
      case "COPY":
      case "ADD": {
        const { flags, args } = splitFlags(ins.rest, df.escape);
        const from = flags.find((f) => f.name === "from");
        if (from) {
          let src = from.value;
          if (!/^[0-9]+$/.test(src) && !stageByName(src.toLowerCase())) src = imageTag(src);
          out.push(`COPY --from=${src} ${COPY_SOURCE} /buildrace-copy/${hash}`);
          break;
        }
        const ws = copyWords(args);
        for (const s of ws.slice(0, -1)) if (!/^https?:\/\//.test(s)) contextSources.push(s);
        const keep = flags.filter(
          (f) => f.name !== "chown" && f.name !== "chmod" && f.name !== "link",
        );
        out.push([kw, ...keep.map((f) => f.raw), args].join(" "));
        break;
      }
      case "RUN": {
        const { flags } = splitFlags(ins.rest, df.escape);
        const kept: string[] = [];
        const mounts: MaterializedRun["mounts"] = [];
        let fromBinds = 0;
        for (const f of flags) {
          if (f.name !== "mount") {
            if (f.name !== "network" && f.name !== "security") kept.push(f.raw);
            continue;
          }
          const fields = csvFields(f.value);
          if (!fields) throw new Error(`line ${ins.line}: bad --mount ${f.value}`);
          const kv: [string, string][] = fields.map((x) => {
            const eq = x.indexOf("=");
            return eq < 0 ? [x, ""] : [x.slice(0, eq), x.slice(eq + 1)];
          });
          const get = (...keys: string[]) => {
            const e = kv.find(([k]) => keys.includes(k.toLowerCase()));
            return e ? e[1] : undefined;
          };
          const type = (get("type") ?? "bind").toLowerCase();
          if (type !== "cache") {
            const from = get("from");
            if (from !== undefined)
              kept.push(`--mount=type=bind,from=${from},target=/buildrace-from/${fromBinds++}`);
            continue;
          }
          // BuildKit >= 1.3: every value but `from` is expanded with the stage's ARGs.
          const scope: Record<string, string | undefined> = {};
          for (const [k, v] of cur.args) scope[k] = v;
          const expanded = kv.map(([k, v]): [string, string] => [
            k,
            expandVars && k.toLowerCase() !== "from" && v.includes("$")
              ? expandWord(v, scope, df.escape)
              : v,
          ]);
          const target = expanded.find(([k]) =>
            ["target", "dst", "destination"].includes(k.toLowerCase()),
          )?.[1];
          if (target === undefined) throw new Error(`line ${ins.line}: cache mount without target`);
          const oldId = expanded.find(([k]) => k.toLowerCase() === "id")?.[1];
          const newId = `${opts.prefix}-${oldId || target}`;
          const fieldsOut = expanded.filter(([k]) => k.toLowerCase() !== "id");
          fieldsOut.push(["id", newId]);
          for (const [k, v] of fieldsOut)
            if (/[,"\s]/.test(v)) throw new Error(`line ${ins.line}: cannot re-quote ${k}=${v}`);
          const bare = new Set(fields.filter((x) => !x.includes("=")));
          kept.push(
            `--mount=${fieldsOut.map(([k, v]) => (bare.has(k) ? k : `${k}=${v}`)).join(",")}`,
          );
          const sharing = (
            expanded.find(([k]) => k.toLowerCase() === "sharing")?.[1] ?? "shared"
          ).toLowerCase();
          mounts.push({
            kind: cacheKind(target, oldId),
            id: newId,
            path: posixJoin(cur.workdir, target),
            sharing,
          });
        }
        if (mounts.length === 0) {
          out.push(["RUN", ...kept, `echo buildrace-step-${hash}`].join(" "));
          break;
        }
        cacheRuns.push({ line: ins.line, stage: cur.name, tag: hash, mounts });
        out.push(["RUN", ...kept, workloadScript(hash, mounts, timing)].join(" "));
        break;
      }
      default:
        out.push(`${kw} ${ins.rest}`);
    }
  }
  return {
    dockerfile: out.join("\n") + "\n",
    images: [...images.values()],
    contextSources,
    cacheRuns,
  };
}

/** Create the context paths COPY/ADD read that do not exist (directories for `.` and `x/`). */
export function prepareContext(dir: string, sources: string[]): void {
  for (const s of sources) {
    if (/[*?[]/.test(s)) continue;
    const p = path.join(dir, s);
    if (fs.existsSync(p)) continue;
    if (s === "." || s.endsWith("/")) {
      fs.mkdirSync(p, { recursive: true });
      fs.writeFileSync(path.join(p, ".buildrace-placeholder"), `${s}\n`);
    } else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, `${s}\n`);
    }
  }
}

// ---------------------------------------------------------------- examples and fixes

/** A temporary copy of `examples/<name>`. */
export function copyExample(name: string, prefix = "buildrace-race-"): string {
  const dir = tmpDir(prefix);
  fs.cpSync(path.join(REPO_ROOT, "examples", name), dir, { recursive: true });
  return dir;
}

export type Strategy = "auto" | "lock" | "split" | "merge";

export interface FixedCopy {
  dir: string;
  /** what `buildrace fix --write` printed (stdout + stderr) */
  output: string;
  code: number;
}

/** A fresh copy of the example with `buildrace fix --write --strategy S` applied (the real CLI). */
export function fixedCopy(name: string, strategy: Strategy): FixedCopy {
  const dir = copyExample(name, `buildrace-fix-${strategy}-`);
  const r = runBuildrace(["fix", "--write", "--strategy", strategy, dir]);
  return { dir, output: r.stdout + r.stderr, code: r.code };
}

export interface Span {
  /** the workload's tag: a hash of the instruction text */
  tag: string;
  /** a random number the execution drew (tells two executions of one step apart) */
  nonce: string;
  /** host uptime in seconds (one clock for every container) */
  start: number;
  /** missing when the step failed or was cancelled */
  end?: number;
}

export interface RaceRun extends BuildResult {
  prefix: string;
  /** every workload execution seen in the log */
  spans: Span[];
  /** the cache RUNs of the materialised Dockerfile (tags, stages, mounts) */
  cacheRuns: MaterializedRun[];
}

/**
 * The executions of workload steps in a plain progress log (`BUILDRACE <tag> start|end <t>
 * <nonce>` lines). A step shared by several concurrent builds (de-duplicated) runs once, but
 * its output appears in each build's log: it counts once.
 */
export function parseSpans(log: string): Span[] {
  const byKey = new Map<string, Span>();
  const re = /BUILDRACE ([0-9a-f]+) (start|end) ([0-9.]+) ([0-9]+)/g;
  for (const m of log.matchAll(re)) {
    const [, tag, what, t, nonce] = m;
    const key = `${tag}.${nonce}`;
    let s = byKey.get(key);
    if (what === "start" && !s) byKey.set(key, (s = { tag, nonce, start: Number(t) }));
    if (what === "end" && s) s.end = Number(t);
  }
  return [...byKey.values()].sort((a, b) => a.start - b.start);
}

/**
 * Pairs of executions that ran at the same time, named by the stages of their steps
 * (`"build-api~build-cli"`, sorted; `"x~x"` for two executions of one step).
 */
export function overlappingStages(spans: Span[], runs: MaterializedRun[]): string[] {
  const stageOf = new Map(runs.map((r) => [r.tag, r.stage]));
  const out = new Set<string>();
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i];
      const b = spans[j];
      if (a.start < (b.end ?? Infinity) && b.start < (a.end ?? Infinity)) {
        const names = [stageOf.get(a.tag) ?? a.tag, stageOf.get(b.tag) ?? b.tag].sort();
        out.add(names.join("~"));
      }
    }
  return [...out].sort();
}

/**
 * Build `dockerfileText` (materialised with a fresh cache id prefix each time) from context
 * `dir`, `n` times, one after the other. The materialised Dockerfile is written outside the
 * context (`-f`), and missing COPY sources are created in `dir`.
 */
export function buildRepeatedly(
  dir: string,
  dockerfileText: string,
  n: number,
  opts: { timing?: Partial<Timing>; buildArgs?: Record<string, string>; target?: string } = {},
): RaceRun[] {
  const files = tmpDir("buildrace-df-");
  const runs: RaceRun[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const prefix = uniqueId("race");
      const m = materialize(dockerfileText, {
        prefix,
        buildArgs: opts.buildArgs,
        timing: opts.timing,
      });
      ensureProbeImages(m.images);
      prepareContext(dir, m.contextSources);
      const file = path.join(files, `Dockerfile.${i}`);
      fs.writeFileSync(file, m.dockerfile);
      const r = build(dir, { file, buildArgs: opts.buildArgs, target: opts.target });
      runs.push({ ...r, prefix, spans: parseSpans(r.log), cacheRuns: m.cacheRuns });
    }
  } finally {
    fs.rmSync(files, { recursive: true, force: true });
  }
  return runs;
}

// ---------------------------------------------------------------- compose

export interface ComposeBuild {
  service: string;
  /** absolute context directory */
  context: string;
  /** Dockerfile path relative to the context */
  dockerfile: string;
  args: Record<string, string>;
  target?: string;
}

/** The builds a compose file defines (services with `build:`), in file order. */
export function readComposeBuilds(file: string): ComposeBuild[] {
  const doc = parseYaml(fs.readFileSync(file, "utf8"), { merge: true }) ?? {};
  const out: ComposeBuild[] = [];
  for (const [service, def] of Object.entries<Record<string, unknown>>(doc.services ?? {})) {
    const b = def?.build;
    if (b === undefined || b === null) continue;
    const spec: Record<string, unknown> = typeof b === "string" ? { context: b } : (b as never);
    const args: Record<string, string> = {};
    const a = spec.args;
    if (Array.isArray(a))
      for (const x of a) {
        const s = String(x);
        const eq = s.indexOf("=");
        if (eq > 0) args[s.slice(0, eq)] = s.slice(eq + 1);
      }
    else if (a && typeof a === "object")
      for (const [k, v] of Object.entries(a)) args[k] = v === null ? "" : String(v);
    out.push({
      service,
      context: path.resolve(path.dirname(file), String(spec.context ?? ".")),
      dockerfile: String(spec.dockerfile ?? "Dockerfile"),
      args,
      target: spec.target === undefined ? undefined : String(spec.target),
    });
  }
  return out;
}

/**
 * Materialise a compose project for the engine: ONE Dockerfile per service (its build args
 * expand `$VAR` in mount options, as dockerfile frontend >= 1.3 would; this engine's 1.2
 * would not), all with the same cache id prefix (the services must share caches to race),
 * written to `<context>/.buildrace/<service>.Dockerfile` (ignored by `.dockerignore`), and a
 * compose file pointing each service's `build.dockerfile` at its copy, with
 * `network: none` and a local image name. Returns the compose file's path.
 */
export function materializeCompose(
  composeFile: string,
  opts: { prefix: string; timing?: Partial<Timing>; imagePrefix?: string },
): {
  file: string;
  builds: ComposeBuild[];
  dockerfiles: Record<string, string>;
  /** the cache RUNs of the services' Dockerfiles (one entry per distinct step text) */
  cacheRuns: MaterializedRun[];
} {
  const builds = readComposeBuilds(composeFile);
  const outDir = path.join(path.dirname(composeFile), ".buildrace");
  fs.mkdirSync(outDir, { recursive: true });
  const services: Record<string, unknown> = {};
  const dockerfiles: Record<string, string> = {};
  const cacheRuns: MaterializedRun[] = [];
  for (const b of builds) {
    const text = fs.readFileSync(path.join(b.context, b.dockerfile), "utf8");
    const m = materialize(text, { prefix: opts.prefix, buildArgs: b.args, timing: opts.timing });
    ensureProbeImages(m.images);
    prepareContext(b.context, m.contextSources);
    const ignore = path.join(b.context, ".dockerignore");
    const ign = fs.existsSync(ignore) ? fs.readFileSync(ignore, "utf8") : "";
    if (!/^\.buildrace\/?$/m.test(ign))
      fs.writeFileSync(
        ignore,
        `${ign}${ign === "" || ign.endsWith("\n") ? "" : "\n"}.buildrace/\n`,
      );
    const df = path.join(b.context, ".buildrace", `${b.service}.Dockerfile`);
    fs.mkdirSync(path.dirname(df), { recursive: true });
    fs.writeFileSync(df, m.dockerfile);
    dockerfiles[b.service] = m.dockerfile;
    for (const r of m.cacheRuns) if (!cacheRuns.some((x) => x.tag === r.tag)) cacheRuns.push(r);
    const build: Record<string, unknown> = {
      context: b.context,
      dockerfile: path.relative(b.context, df),
      network: "none",
    };
    if (Object.keys(b.args).length) build.args = b.args;
    if (b.target !== undefined) build.target = b.target;
    services[b.service] = {
      build,
      image: `${opts.imagePrefix ?? "buildrace-e2e-compose"}-${b.service}:latest`,
    };
  }
  const file = path.join(outDir, "compose.yaml");
  fs.writeFileSync(file, stringifyYaml({ version: "3.8", services }));
  return { file, builds, dockerfiles, cacheRuns };
}

/** Debian's docker-compose 1.29 (Python), which runs `docker build` per service. */
export const DOCKER_COMPOSE = process.env.BUILDRACE_DOCKER_COMPOSE || "/usr/bin/docker-compose";

/**
 * The environment for docker-compose 1.29: `COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1`,
 * plain progress, and PATH with /usr/bin first, so that the `docker` it runs is Debian's 20.10
 * client (/usr/local/bin/docker on these machines is a newer one).
 */
export function composeEnv(): NodeJS.ProcessEnv {
  const rest = (process.env.PATH ?? "").split(":").filter((p) => p !== "/usr/bin" && p !== "/bin");
  return {
    ...process.env,
    PATH: ["/usr/bin", "/bin", ...rest].join(":"),
    COMPOSE_DOCKER_CLI_BUILD: "1",
    DOCKER_BUILDKIT: "1",
    BUILDKIT_PROGRESS: "plain",
  };
}

/** The `docker` docker-compose will run (resolved on composeEnv's PATH). */
export function composeDockerClient(): string {
  const r = spawnSync("/bin/sh", ["-c", "command -v docker"], {
    env: composeEnv(),
    encoding: "utf8",
  });
  return r.stdout.trim();
}

/** `docker-compose -f <file> -p <project> build --parallel`, without blocking. */
export function composeBuild(
  file: string,
  project: string,
  timeoutMs = 600000,
): Promise<BuildResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(DOCKER_COMPOSE, ["-f", file, "-p", project, "build", "--parallel"], {
      env: composeEnv(),
    });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.on("data", (d: Buffer) => chunks.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => chunks.push(Buffer.from(`\n${e.message}\n`)));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        log: Buffer.concat(chunks).toString("utf8"),
        ms: Date.now() - t0,
      });
    });
  });
}

/** Materialise with a fresh prefix and run compose, `n` times one after the other. */
export async function composeRepeatedly(
  composeFile: string,
  n: number,
  opts: { timing?: Partial<Timing>; project?: string } = {},
): Promise<RaceRun[]> {
  const runs: RaceRun[] = [];
  for (let i = 0; i < n; i++) {
    const prefix = uniqueId("compose");
    const { file, cacheRuns } = materializeCompose(composeFile, { prefix, timing: opts.timing });
    const r = await composeBuild(file, opts.project ?? "buildrace-e2e");
    runs.push({ ...r, prefix, spans: parseSpans(r.log), cacheRuns });
  }
  return runs;
}

// ---------------------------------------------------------------- summaries

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const k = Math.floor(s.length / 2);
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}

/** `3/5 ok, median 4.2 s (3.9-5.0)` */
export function summarize(runs: BuildResult[]): string {
  const ok = runs.filter((r) => r.code === 0).length;
  const ms = runs.map((r) => r.ms);
  const f = (x: number) => (x / 1000).toFixed(1);
  return `${ok}/${runs.length} ok, median ${f(median(ms))} s (${f(Math.min(...ms))}-${f(Math.max(...ms))})`;
}

/** The last lines of a log, for failure messages. */
export function tail(log: string, lines = 40): string {
  return log.split("\n").slice(-lines).join("\n");
}
