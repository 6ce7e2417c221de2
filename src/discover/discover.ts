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

export function discover(paths: string[]): Discovered {
  const files: InputFile[] = [];
  const problems: Discovered["problems"] = [];
  const seen = new Set<string>();
  const add = (p: string, kind: InputKind) => {
    const key = path.resolve(p);
    if (seen.has(key)) return;
    seen.add(key);
    files.push({ path: p, kind });
  };
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      problems.push({ path: p, message: describeFsError(e) });
      continue;
    }
    if (st.isDirectory()) walk(p, add, problems, new Set());
    else add(p, kindOfExplicit(p));
  }
  return { files, problems };
}

function walk(
  dir: string,
  add: (p: string, kind: InputKind) => void,
  problems: Discovered["problems"],
  visiting: Set<string>,
): void {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch (e) {
    problems.push({ path: dir, message: describeFsError(e) });
    return;
  }
  if (visiting.has(real)) {
    problems.push({
      path: dir,
      message: "symlink loop: this directory is already being walked; skipped",
    });
    return;
  }
  visiting.add(real);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    problems.push({ path: dir, message: describeFsError(e) });
    visiting.delete(real);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = fs.statSync(p);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch (err) {
        problems.push({ path: p, message: describeFsError(err) });
        continue;
      }
    }
    if (isDir) {
      if (!SKIP_DIRS.has(e.name)) walk(p, add, problems, visiting);
    } else if (isFile) {
      const kind = kindOfName(e.name);
      if (kind) add(p, kind);
    }
  }
  visiting.delete(real);
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

/** Reads a text input: refuses binary data and invalid UTF-8 with a clear reason. */
export function readText(file: string): { text: string } | { error: string; line?: number } {
  let buf: Buffer;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) return { error: "is a directory, not a file" };
    buf = fs.readFileSync(file);
  } catch (e) {
    return { error: describeFsError(e) };
  }
  const nul = buf.indexOf(0);
  if (nul >= 0)
    return { error: "binary file (contains NUL bytes), not a Dockerfile", line: lineAt(buf, nul) };
  try {
    return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(buf) };
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
