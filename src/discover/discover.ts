/**
 * Discover stage: turn the paths a user gave into input files by kind. Directories are
 * walked for Dockerfile-like, compose and bake names (SPEC §3), skipping .git and
 * node_modules, following no symlink loop; results are sorted for deterministic output.
 */
import * as fs from "fs";
import * as path from "path";

export type InputKind = "dockerfile" | "compose" | "bake";

export interface InputFile {
  path: string;
  kind: InputKind;
}

export interface Discovered {
  files: InputFile[];
  /** Paths that could not be used, with the reason. */
  problems: { path: string; message: string }[];
}

const SKIP_DIRS = new Set([".git", "node_modules"]);

/** Kind of a file found while walking a directory, or undefined when it is not an input. */
export function kindOfName(name: string): InputKind | undefined {
  const n = name.toLowerCase();
  if (/^(docker-)?compose.*\.ya?ml$/.test(n)) return "compose";
  if (
    n === "docker-bake.hcl" ||
    n === "docker-bake.json" ||
    /^docker-bake\..*\.(hcl|json)$/.test(n)
  )
    return "bake";
  if (
    n === "dockerfile" ||
    n === "containerfile" ||
    n.endsWith(".dockerfile") ||
    n.startsWith("dockerfile.")
  )
    return "dockerfile";
  return undefined;
}

/** Kind of a file the user named explicitly: by extension, else a Dockerfile. */
export function kindOfExplicit(file: string): InputKind {
  const base = path.basename(file).toLowerCase();
  const byName = kindOfName(base);
  if (byName) return byName;
  if (/\.ya?ml$/.test(base)) return "compose";
  if (base.endsWith(".hcl") || /bake.*\.json$/.test(base)) return "bake";
  return "dockerfile";
}

/**
 * Finds the inputs under `paths`. `onInput` hears of each input as it is found, with the
 * count so far (a bulk run starts its worker threads and loads compose files while the walk
 * goes on); `onDir` hears of each directory walked, with its entries' names, before its
 * inputs (a run finds config files from these listings).
 */
export function discover(
  paths: string[],
  onInput?: (file: InputFile, count: number) => void,
  onDir?: (dir: string, names: string[]) => void,
): Discovered {
  const files: InputFile[] = [];
  const problems: Discovered["problems"] = [];
  // the same file reached twice (a symlinked directory, `. sub/`) is analysed and written once
  const seen = new Set<string>();
  let found = 0;
  const reported = new Set<string>();
  const problem = (p: string, message: string) => {
    const key = `${p}\u0000${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    problems.push({ path: p, message });
  };
  // `real`: the file's real path when the walk knows it (a plain file in a walked directory)
  const add = (p: string, kind: InputKind, real?: string) => {
    found++;
    const key = real ?? realOrResolved(p);
    if (seen.has(key)) return;
    seen.add(key);
    const file = { path: p, kind };
    files.push(file);
    onInput?.(file, files.length);
  };
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      problem(p, describeFsError(e));
      continue;
    }
    registerTreeRoot(st.isDirectory() ? p : path.dirname(p));
    if (!st.isDirectory()) {
      add(p, kindOfExplicit(p));
      continue;
    }
    const before = { found, problems: problems.length };
    walk(p, add, problem, new Set(), onDir);
    // Named explicitly but holds nothing to analyse: say so rather than skip it silently
    // (a lone empty directory is left to the caller's "nothing found" usage error).
    if (found === before.found && problems.length === before.problems) {
      if (kindOfName(path.basename(p)))
        problem(p, "is a directory, not a file (and holds no Dockerfile, compose or bake file)");
      else if (paths.length > 1)
        problem(p, "no Dockerfile, compose or bake file in this directory");
    }
  }
  return { files, problems };
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/**
 * The directories and files' directories the user named: `--write` keeps to these trees and
 * refuses to follow a symlink out of them (see apply/write.ts).
 */
const treeRoots = new Map<string, string>(); // absolute → as the user wrote it

function registerTreeRoot(p: string): void {
  treeRoots.set(path.resolve(p), p);
}

/**
 * The tree a discovered file belongs to, as the user named it: the deepest named root that
 * holds the file lexically, else the file's own directory.
 */
export function treeRootOf(file: string): string {
  const abs = path.resolve(file);
  let best: string | undefined;
  for (const r of treeRoots.keys()) {
    const rel = path.relative(r, abs);
    if (rel.startsWith("..") || path.isAbsolute(rel)) continue;
    if (best === undefined || r.length > best.length) best = r;
  }
  return best !== undefined ? (treeRoots.get(best) as string) : path.dirname(file);
}

/**
 * Walks a directory tree. Symlinks are followed after the real entries of the whole tree, so
 * a file reached both directly and through a link keeps its real path; a link back to a
 * directory it sits in is a loop (reported, not followed); a link to a directory already
 * walked adds nothing.
 */
function walk(
  root: string,
  add: (p: string, kind: InputKind, real?: string) => void,
  problem: (p: string, message: string) => void,
  walked: Set<string>,
  onDir?: (dir: string, names: string[]) => void,
): void {
  const links: string[] = [];
  // Only the roots and the directories symlinks lead to need realpath: below a real path,
  // a plain (non-link) entry's real path is that path joined with its name.
  const walkDir = (dir: string, knownReal?: string): void => {
    let real: string;
    try {
      real = knownReal ?? fs.realpathSync(dir);
    } catch (e) {
      problem(dir, describeFsError(e));
      return;
    }
    if (walked.has(real)) return;
    walked.add(real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      problem(dir, describeFsError(e));
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    onDir?.(
      dir,
      entries.map((e) => e.name),
    );
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isSymbolicLink()) links.push(p);
      else if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walkDir(p, path.join(real, e.name));
      } else if (e.isFile()) {
        const kind = kindOfName(e.name);
        if (kind) add(p, kind, path.join(real, e.name));
      }
    }
  };
  walkDir(root);
  for (let i = 0; i < links.length; i++) {
    const p = links[i];
    const name = path.basename(p);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (err) {
      // a dangling or looping link is only our business when it is named like an input
      if (kindOfName(name)) problem(p, describeFsError(err));
      continue;
    }
    if (st.isFile()) {
      const kind = kindOfName(name);
      if (kind) add(p, kind);
      continue;
    }
    if (!st.isDirectory() || SKIP_DIRS.has(name)) continue;
    const real = realOrResolved(p);
    const rel = path.relative(real, realOrResolved(path.dirname(p)));
    if (!rel.startsWith("..") && !path.isAbsolute(rel)) {
      problem(p, `symlink loop: points to ${real}, a directory it is in; not followed`);
      continue;
    }
    walkDir(p);
  }
}

export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory, not a file";
    case "ELOOP":
      return "too many levels of symbolic links";
    default:
      return err?.message ?? String(e);
  }
}

/** Larger than any real Dockerfile, compose or bake file: refused rather than parsed for minutes. */
export const MAX_INPUT_BYTES = 32 * 1024 * 1024;

/** Reads a text input: refuses non-regular files, binary data and invalid UTF-8 with a clear reason. */
/** Strict UTF-8 (a decoder is reusable: each decode call without `stream` starts afresh). */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function readText(file: string): { text: string } | { error: string; line?: number } {
  let buf: Buffer;
  let fd: number | undefined;
  try {
    // opened without blocking (a FIFO would wait for a writer), then checked by its handle
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) return { error: "is a directory, not a file" };
    // a FIFO or a device would block the read or never end
    if (!st.isFile()) return { error: "not a regular file (a FIFO, socket or device)" };
    if (st.size > MAX_INPUT_BYTES)
      return { error: `${st.size} bytes: too large to be a Dockerfile (limit ${MAX_INPUT_BYTES})` };
    buf = fs.readFileSync(fd);
  } catch (e) {
    return { error: describeFsError(e) };
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const nul = buf.indexOf(0);
  if (nul >= 0)
    return { error: "binary file (contains NUL bytes), not a Dockerfile", line: lineAt(buf, nul) };
  try {
    return { text: UTF8.decode(buf) };
  } catch {
    return { error: "not valid UTF-8", line: firstInvalidUtf8Line(buf) };
  }
}

function lineAt(buf: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (buf[i] === 10) line++;
  return line;
}

function firstInvalidUtf8Line(buf: Buffer): number {
  let start = 0;
  let line = 1;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === 10) {
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(start, i));
      } catch {
        return line;
      }
      start = i + 1;
      line++;
    }
  }
  return 1;
}
