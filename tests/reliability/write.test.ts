/**
 * `--write` one file at a time (src/apply/write.ts): atomic (temp file in the same directory,
 * then rename; nothing left behind), keeps the mode and owner, refuses a file reached through
 * a symlink out of the tree, refuses a file that changed on disk since it was read (a stale
 * expected text) or while it was rewritten, and never throws.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TEMP_FILE_PATTERN, tempNameFor, writeAtomic } from "../../src/apply/write";
import { discover } from "../../src/discover/discover";
import { isRoot, makeTree, NOBODY, RACY, RACY_LOCKED, removeTree } from "./cli";
// the module object itself (not an import-star copy), so jest.spyOn can replace its functions
import realFs = require("fs");

let dir: string;
beforeEach(() => {
  dir = makeTree({ "repo/Dockerfile": RACY, "outside/Dockerfile": RACY });
});
afterEach(() => {
  jest.restoreAllMocks();
  removeTree(dir);
});

const repo = () => path.join(dir, "repo");
const file = () => path.join(repo(), "Dockerfile");
const read = (p: string) => fs.readFileSync(p, "utf8");
const leftovers = (d: string) => fs.readdirSync(d).filter((n) => TEMP_FILE_PATTERN.test(n));

test("writes the new text through a temp file in the same directory, then renames", () => {
  const renames: [string, string][] = [];
  const rename = realFs.renameSync;
  jest.spyOn(realFs, "renameSync").mockImplementation((a, b) => {
    renames.push([String(a), String(b)]);
    return rename(a, b);
  });
  expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toBeUndefined();
  expect(read(file())).toBe(RACY_LOCKED);
  expect(renames).toHaveLength(1);
  expect(path.dirname(renames[0][0])).toBe(fs.realpathSync(repo()));
  expect(path.basename(renames[0][0])).toMatch(TEMP_FILE_PATTERN);
  expect(renames[0][1]).toBe(fs.realpathSync(file()));
  expect(leftovers(repo())).toEqual([]);
});

test("temp names are hidden, unique, and recognisable", () => {
  const a = tempNameFor(file());
  const b = tempNameFor(file());
  expect(a).not.toBe(b);
  expect(path.basename(a)).toMatch(TEMP_FILE_PATTERN);
  expect(path.basename(a).startsWith(".Dockerfile.")).toBe(true);
});

test("bytes are written exactly: CRLF, BOM, no final newline, non-ASCII", () => {
  const before = "\uFEFF" + RACY.replace(/\n/g, "\r\n") + "# café ✓";
  const after = "\uFEFF" + RACY_LOCKED.replace(/\n/g, "\r\n") + "# café ✓";
  fs.writeFileSync(file(), before);
  expect(writeAtomic(file(), before, after, repo())).toBeUndefined();
  expect(fs.readFileSync(file()).equals(Buffer.from(after, "utf8"))).toBe(true);
});

test.each([0o644, 0o600, 0o755, 0o640, 0o444].map((m) => [m.toString(8), m] as [string, number]))(
  "keeps the file mode %s",
  (_octal, mode) => {
    fs.chmodSync(file(), mode);
    const old = process.umask(0o077); // a narrow umask must not narrow the result
    try {
      expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toBeUndefined();
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(file()).mode & 0o7777).toBe(mode);
    expect(read(file())).toBe(RACY_LOCKED);
  },
);

(isRoot() ? test : test.skip)("keeps the owner and group (needs root to chown)", () => {
  fs.chownSync(file(), NOBODY.uid, NOBODY.gid);
  expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toBeUndefined();
  const st = fs.statSync(file());
  expect([st.uid, st.gid]).toEqual([NOBODY.uid, NOBODY.gid]);
});

test("refuses a stale expected text (the file changed between read and write)", () => {
  const stale = RACY.replace("echo b", "echo old");
  const problem = writeAtomic(file(), stale, RACY_LOCKED, repo());
  expect(problem).toMatch(/changed on disk since it was read: not written/);
  expect(read(file())).toBe(RACY);
  expect(leftovers(repo())).toEqual([]);
});

test("refuses when the file changes while the new text is being written", () => {
  const fsync = realFs.fsyncSync;
  jest.spyOn(realFs, "fsyncSync").mockImplementation((fd) => {
    fs.appendFileSync(file(), "# saved by an editor meanwhile\n");
    return fsync(fd);
  });
  const problem = writeAtomic(file(), RACY, RACY_LOCKED, repo());
  expect(problem).toMatch(/changed on disk while it was being rewritten: not written/);
  expect(read(file())).toBe(RACY + "# saved by an editor meanwhile\n");
  expect(leftovers(repo())).toEqual([]);
});

test("a failing rename leaves the original and no temp file, and returns (not throws) the error", () => {
  jest.spyOn(realFs, "renameSync").mockImplementation(() => {
    throw Object.assign(new Error("EXDEV: cross-device link not permitted"), { code: "EXDEV" });
  });
  expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toMatch(/could not write: EXDEV/);
  expect(read(file())).toBe(RACY);
  expect(leftovers(repo())).toEqual([]);
});

test("a file deleted since it was read is reported, not recreated", () => {
  fs.unlinkSync(file());
  expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toMatch(/no longer exists/);
  expect(fs.existsSync(file())).toBe(false);
});

test("refuses a symlinked file that points out of the tree", () => {
  fs.unlinkSync(file());
  fs.symlinkSync("../outside/Dockerfile", file());
  const problem = writeAtomic(file(), RACY, RACY_LOCKED, repo());
  expect(problem).toMatch(/resolves through a symlink to .*outside.*: not written/);
  expect(read(path.join(dir, "outside/Dockerfile"))).toBe(RACY);
  expect(fs.lstatSync(file()).isSymbolicLink()).toBe(true);
});

test("refuses a file under a symlinked directory that points out of the tree", () => {
  fs.symlinkSync("../outside", path.join(repo(), "vendor"));
  const viaLink = path.join(repo(), "vendor", "Dockerfile");
  expect(writeAtomic(viaLink, RACY, RACY_LOCKED, repo())).toMatch(/outside/);
  expect(read(path.join(dir, "outside/Dockerfile"))).toBe(RACY);
});

test("the tree defaults to the directory the user named (recorded by discover)", () => {
  fs.symlinkSync("../outside", path.join(repo(), "vendor"));
  const found = discover([repo()]).files.map((f) => f.path);
  const viaLink = path.join(repo(), "vendor", "Dockerfile");
  expect(found).toContain(viaLink);
  expect(writeAtomic(viaLink, RACY, RACY_LOCKED)).toMatch(/outside/);
  expect(read(path.join(dir, "outside/Dockerfile"))).toBe(RACY);
  // the real file inside the tree is written
  expect(writeAtomic(file(), RACY, RACY_LOCKED)).toBeUndefined();
});

test("a symlink inside the tree is followed: the real file is rewritten, the link kept", () => {
  fs.mkdirSync(path.join(repo(), "docker"));
  fs.renameSync(file(), path.join(repo(), "docker", "Dockerfile"));
  fs.symlinkSync("docker/Dockerfile", file());
  expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toBeUndefined();
  expect(fs.lstatSync(file()).isSymbolicLink()).toBe(true);
  expect(read(path.join(repo(), "docker", "Dockerfile"))).toBe(RACY_LOCKED);
});

test("refuses a file with several hard links (a rename would split them)", () => {
  fs.linkSync(file(), path.join(repo(), "Dockerfile.copy"));
  expect(writeAtomic(file(), RACY, RACY_LOCKED, repo())).toMatch(/2 hard links/);
  expect(read(file())).toBe(RACY);
});

test("refuses something that is not a regular file", () => {
  const d = path.join(repo(), "Dockerfile.d");
  fs.mkdirSync(d);
  expect(writeAtomic(d, "", "x", repo())).toMatch(/not a regular file/);
});

test("never throws, whatever the path", () => {
  for (const p of ["", "\0", path.join(os.tmpdir(), "no", "such", "file"), "/"])
    expect(typeof writeAtomic(p, "", "x", repo())).toBe("string");
});
