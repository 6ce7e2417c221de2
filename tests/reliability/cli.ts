/**
 * Helpers for the reliability tests: build a file tree in a temp dir (text, bytes, symlinks,
 * FIFOs, modes), run the built CLI on it as a subprocess, and snapshot trees byte for byte.
 * The CLI is `bin/buildrace.js` over `dist/` (`npm test` compiles before jest runs).
 */
import { spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "../..");
export const BIN = path.join(ROOT, "bin", "buildrace.js");

export type Entry =
  | string
  | Buffer
  | { symlink: string }
  | { dir: true }
  | { fifo: true }
  | { text: string | Buffer; mode: number };

/** Creates `files` (relative path → entry) under a fresh temp dir and returns the dir. */
export function makeTree(files: Record<string, Entry>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-rel-"));
  fs.chmodSync(dir, 0o755); // readable by the unprivileged user some tests run the CLI as
  for (const [rel, entry] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof entry === "string" || Buffer.isBuffer(entry)) fs.writeFileSync(p, entry);
    else if ("symlink" in entry) fs.symlinkSync(entry.symlink, p);
    else if ("dir" in entry) fs.mkdirSync(p, { recursive: true });
    else if ("fifo" in entry) spawnSync("mkfifo", [p]);
    else {
      fs.writeFileSync(p, entry.text);
      fs.chmodSync(p, entry.mode);
    }
  }
  return dir;
}

export function removeTree(dir: string): void {
  // undo chmod 000 so the cleanup can descend
  spawnSync("chmod", ["-R", "u+rwx", dir]);
  fs.rmSync(dir, { recursive: true, force: true });
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Run as this uid/gid (root only): makes permission bits bite. */
  user?: { uid: number; gid: number };
  timeout?: number;
}

/** Runs the built CLI in `cwd` and waits for it. */
export function runCli(args: string[], cwd: string, opts: RunOptions = {}): RunResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined },
    maxBuffer: 256 * 1024 * 1024,
    timeout: opts.timeout ?? 120_000,
    ...(opts.user ?? {}),
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the built CLI without waiting (for interrupt tests); its output is drained. */
export function startCli(args: string[], cwd: string) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  // an undrained pipe would block the child once it has printed 64 KiB
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<RunResult>((resolve) =>
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Every regular file under `dir` (symlinks not followed) with its bytes. */
export function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Lines of output that look like a JavaScript stack trace or an internal error. */
export function stackTraceLines(s: string): string[] {
  return s
    .split("\n")
    .filter(
      (l) =>
        /^\s+at \S.*(\(.*:\d+:\d+\)|:\d+:\d+)$/.test(l) ||
        /^\w*Error\b/.test(l) ||
        /internal error/.test(l),
    );
}

/** The unprivileged user to run as when the tests run as root (permission bits bite then). */
export const NOBODY = { uid: 65534, gid: 65534 };
export const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** A Dockerfile with one unsafe race (apt between two sibling stages) that `fix` locks. */
export const RACY = [
  "FROM debian:bookworm AS a",
  "RUN --mount=type=cache,target=/var/cache/apt apt-get update",
  "FROM debian:bookworm AS b",
  "RUN --mount=type=cache,target=/var/cache/apt apt-get update && echo b",
  "FROM debian:bookworm",
  "COPY --from=a /x /x",
  "COPY --from=b /y /y",
  "",
].join("\n");

export const RACY_LOCKED = RACY.replace(
  /target=\/var\/cache\/apt /g,
  "target=/var/cache/apt,sharing=locked ",
);
