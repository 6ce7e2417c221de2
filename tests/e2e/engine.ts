/**
 * Helpers for end-to-end tests against the local Docker engine (Docker 20.10, built-in
 * BuildKit 0.8, dockerfile frontend 1.2). Start the engine with `bash scripts/engine.sh`
 * (see docs/engine.md). Only node's child_process, fs, os and path are used.
 *
 * Rules for tests that use the engine (SPEC section 6):
 * - never pull: every base image must be local (`buildrace-base:latest` or an image built
 *   from it, see probe.ts); `# syntax=` lines cannot be used;
 * - never `--no-cache`: it empties the cache mounts of the steps it rebuilds and disturbs
 *   other builds' shared mounts. Use a fresh cache id (uniqueId) in a temporary copy of
 *   the Dockerfile instead;
 * - identical steps are de-duplicated by the engine: give steps that must both run
 *   different command text.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * Debian's 20.10 client. /usr/local/bin/docker may be a newer client: do not use it.
 * BUILDRACE_DOCKER overrides it (tests of the engine gate point it at a fake client).
 */
export const DOCKER = process.env.BUILDRACE_DOCKER || "/usr/bin/docker";
/** The imported busybox root filesystem (scripts/engine.sh). */
export const BASE_IMAGE = "buildrace-base:latest";
/** Repository root (tests/e2e/../..). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
/** The CLI entry point, built by `npm test` (tsc) before jest runs. */
export const CLI = path.join(REPO_ROOT, "bin", "buildrace.js");

const MAX_BUFFER = 256 * 1024 * 1024;

let available: boolean | undefined;

/** True when `/usr/bin/docker info` answers and the base image exists. Cached per process. */
export function engineAvailable(): boolean {
  if (available === undefined) {
    const info = spawnSync(DOCKER, ["info", "--format", "{{.ServerVersion}}"], {
      encoding: "utf8",
      timeout: 15000,
    });
    if (info.status !== 0) {
      available = false;
    } else {
      const img = spawnSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", BASE_IMAGE], {
        encoding: "utf8",
        timeout: 15000,
      });
      available = img.status === 0;
    }
  }
  return available;
}

/** Why the engine is unavailable, for messages. */
function unavailableReason(): string {
  const info = spawnSync(DOCKER, ["info"], { encoding: "utf8", timeout: 15000 });
  if (info.error) return `${DOCKER}: ${info.error.message}`;
  if (info.status !== 0) {
    const msg = (info.stderr || "").trim().split("\n").pop();
    return `${DOCKER} info: ${msg || `exit code ${info.status}`}`;
  }
  return `image ${BASE_IMAGE} missing`;
}

function inCI(): boolean {
  const v = (process.env.CI ?? "").trim().toLowerCase();
  return v !== "" && v !== "0" && v !== "false";
}

let warned = false;

/**
 * `describe` for suites that need the engine. Without an engine: in CI (env CI set) the
 * suite FAILS with "engine required in CI"; elsewhere it is skipped with one loud line.
 */
export function describeEngine(name: string, fn: () => void): void {
  if (engineAvailable()) {
    describe(name, fn);
    return;
  }
  const reason = unavailableReason();
  if (inCI()) {
    describe(name, () => {
      test("engine required in CI", () => {
        throw new Error(`engine required in CI: ${reason}; run \`bash scripts/engine.sh\` first`);
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    // One line, straight to stderr (jest would wrap console.warn in a code frame).
    process.stderr.write(
      `!!!!! SKIPPING engine e2e tests: no Docker engine (${reason}). Run \`sudo bash scripts/engine.sh\` to enable them. !!!!!\n`,
    );
  }
  describe.skip(name, fn);
}

export interface BuildOptions {
  /** `--target T` */
  target?: string;
  /** `-f file` (relative to the current directory of the docker client, or absolute) */
  file?: string;
  /** `--build-arg K=V` for each entry */
  buildArgs?: Record<string, string>;
  /** `-t tag` */
  tag?: string;
  /**
   * `--network=<mode>`; default "none" (the engine may run with `--bridge=none`, where the
   * default network fails with "network bridge not found"; builds here need no network).
   * Pass null to omit the flag.
   */
  network?: string | null;
  /** Kill the build after this many ms (default 300000). */
  timeoutMs?: number;
}

export interface BuildResult {
  /** exit code of `docker build` (-1 when killed on timeout) */
  code: number;
  /** stdout + stderr: the plain progress log */
  log: string;
  /** wall-clock duration */
  ms: number;
}

/** The argument vector of `docker build` for these options (exported for tests). */
export function buildArgv(dir: string, opts: BuildOptions = {}): string[] {
  const argv = ["build", "--progress=plain"];
  const network = opts.network === undefined ? "none" : opts.network;
  if (network !== null) argv.push(`--network=${network}`);
  if (opts.target !== undefined) argv.push("--target", opts.target);
  if (opts.file !== undefined) argv.push("-f", opts.file);
  if (opts.tag !== undefined) argv.push("-t", opts.tag);
  for (const [k, v] of Object.entries(opts.buildArgs ?? {})) argv.push("--build-arg", `${k}=${v}`);
  argv.push(dir);
  return argv;
}

function buildEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_BUILDKIT: "1", BUILDKIT_PROGRESS: "plain" };
}

/**
 * `DOCKER_BUILDKIT=1 /usr/bin/docker build --progress=plain [--target T] [-f file] dir`.
 * Never passes --no-cache.
 */
export function build(dir: string, opts: BuildOptions = {}): BuildResult {
  const t0 = Date.now();
  const r = spawnSync(DOCKER, buildArgv(dir, opts), {
    encoding: "utf8",
    env: buildEnv(),
    timeout: opts.timeoutMs ?? 300000,
    maxBuffer: MAX_BUFFER,
  });
  const log = (r.stdout ?? "") + (r.stderr ?? "") + (r.error ? `\n${r.error.message}\n` : "");
  return { code: r.status ?? -1, log, ms: Date.now() - t0 };
}

/** Like build(), without blocking: use it to run several builds at the same time. */
export function buildAsync(dir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(DOCKER, buildArgv(dir, opts), { env: buildEnv() });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.on("data", (d: Buffer) => chunks.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 300000);
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

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node bin/buildrace.js <args>` from the repository root (or opts.cwd). */
export function runBuildrace(
  args: string[],
  opts: { cwd?: string; input?: string; timeoutMs?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    encoding: "utf8",
    input: opts.input,
    timeout: opts.timeoutMs ?? 60000,
    maxBuffer: MAX_BUFFER,
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? "",
    stderr: (r.stderr ?? "") + (r.error ? `\n${r.error.message}\n` : ""),
  };
}

/** A fresh temporary directory (removed by removeDir / the OS). */
export function tmpDir(prefix = "buildrace-e2e-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Remove a directory tree, ignoring errors. */
export function removeDir(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    /* ignore */
  }
}

let counter = 0;
/** A string unique to this call (for cache ids and command text): `<prefix>-<time>-<pid>-<n>`. */
export function uniqueId(prefix = "br"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${counter}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Write files (relative path -> content) into a new temporary build context; returns its path. */
export function makeContext(files: Record<string, string>, prefix?: string): string {
  const dir = tmpDir(prefix);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return dir;
}

/** True when a local image with this reference exists. */
export function imageExists(ref: string): boolean {
  const r = spawnSync(DOCKER, ["image", "inspect", "--format", "{{.Id}}", ref], {
    encoding: "utf8",
    timeout: 15000,
  });
  return r.status === 0;
}
