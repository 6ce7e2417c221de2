/**
 * The workflow a new user follows on a git repository (issue 4): dry-run diff applied with
 * `git apply` and `patch -p1`, `fix --check` as a CI gate, `fix --write` in place and
 * idempotent — with the documented exit codes.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BIN, ensureBuilt, ROOT } from "./run";

let repo: string;
const sh = (cmd: string, args: string[], input?: string) =>
  spawnSync(cmd, args, { cwd: repo, encoding: "utf8", input });
const buildrace = (...args: string[]) => sh(process.execPath, [BIN, ...args]);

beforeAll(() => ensureBuilt());
beforeEach(() => {
  repo = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-workflow-"));
  for (const ex of ["rust-multistage", "apt-heavy", "no-race"])
    fs.cpSync(path.join(ROOT, "examples", ex), path.join(repo, ex), { recursive: true });
  // a CRLF file without a final newline must survive git apply too
  const crlf = fs
    .readFileSync(path.join(repo, "apt-heavy", "Dockerfile"), "utf8")
    .replace(/\n/g, "\r\n")
    .replace(/\r\n$/, "");
  fs.writeFileSync(path.join(repo, "apt-heavy", "Dockerfile"), crlf);
  sh("git", ["init", "-q"]);
  sh("git", ["add", "-A"]);
  sh("git", ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"]);
});
afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

test("the dry-run diff applies with git apply, and the result checks clean", () => {
  const dry = buildrace("fix", ".");
  expect(dry.status).toBe(0);
  expect(dry.stdout).toMatch(/^diff --git a\/apt-heavy\/Dockerfile b\/apt-heavy\/Dockerfile$/m);
  expect(sh("git", ["status", "--porcelain"]).stdout).toBe(""); // nothing written
  expect(buildrace("check", ".").status).toBe(1);
  expect(buildrace("fix", "--check", ".").status).toBe(1);
  const applied = sh("git", ["apply", "-"], dry.stdout);
  expect(applied.stderr).toBe("");
  expect(applied.status).toBe(0);
  expect(buildrace("check", ".").status).toBe(0);
  expect(buildrace("fix", "--check", ".").status).toBe(0);
});

test("the dry-run diff applies with patch -p1", () => {
  const dry = buildrace("fix", ".");
  const patched = sh("patch", ["-p1", "--binary"], dry.stdout);
  expect(patched.status).toBe(0);
  expect(buildrace("fix", "--check", ".").status).toBe(0);
});

test("fix --write equals applying the diff, and a second --write changes nothing", () => {
  const dry = buildrace("fix", ".").stdout;
  sh("git", ["apply", "-"], dry);
  const viaPatch = sh("git", ["diff"]).stdout;
  sh("git", ["checkout", "-q", "."]);
  const w = buildrace("fix", "--write", ".");
  expect(w.status).toBe(0);
  expect(w.stderr).toMatch(/2 files rewritten/);
  expect(sh("git", ["diff"]).stdout).toBe(viaPatch);
  const again = buildrace("fix", "--write", ".");
  expect(again.status).toBe(0);
  expect(again.stderr).toMatch(/0 files rewritten/);
  expect(sh("git", ["diff"]).stdout).toBe(viaPatch);
  // the CRLF file kept its line endings and its missing final newline
  const apt = fs.readFileSync(path.join(repo, "apt-heavy", "Dockerfile"), "utf8");
  expect(apt.replace(/\r\n/g, "").includes("\n")).toBe(false);
  expect(apt.endsWith("\n")).toBe(false);
  expect(apt).toContain("sharing=locked");
});

test("in a script: fix --check gates, --write fixes, exit codes as documented", () => {
  const script = [
    `B="${process.execPath} ${BIN}"`,
    "$B fix --check . > /dev/null 2>&1; a=$?",
    "$B fix --write . > /dev/null 2>&1; b=$?",
    "$B fix --check . > /dev/null 2>&1; c=$?",
    "$B check nope/ > /dev/null 2>&1; d=$?",
    'echo "$a $b $c $d"',
  ].join("\n");
  expect(sh("bash", ["-c", script]).stdout.trim()).toBe("1 0 0 2");
});

test("fix --format json reports each file's change, notes and diff for scripts", () => {
  const r = buildrace("fix", "--format", "json", ".");
  expect(r.status).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.version).toBe(1);
  const byPath = Object.fromEntries(doc.files.map((f: { path: string }) => [f.path, f]));
  expect(byPath["apt-heavy/Dockerfile"]).toMatchObject({ changed: true, written: false });
  expect(byPath["apt-heavy/Dockerfile"].diff).toMatch(/^diff --git a\/apt-heavy\/Dockerfile/);
  expect(byPath["apt-heavy/Dockerfile"].notes.join("\n")).toMatch(/apt.*lock/);
  expect(doc.errors).toEqual([]);
  const w = buildrace("fix", "--format", "json", "--write", ".");
  expect(JSON.parse(w.stdout).files.every((f: { written: boolean }) => f.written)).toBe(true);
});

test("no progress bar when stderr is not a terminal (scripts see clean output)", () => {
  for (let i = 0; i < 60; i++)
    fs.cpSync(path.join(repo, "apt-heavy"), path.join(repo, "many", `s${i}`), { recursive: true });
  const r = buildrace("check", "--format", "json", "many");
  expect(r.status).toBe(1);
  expect(r.stderr).not.toMatch(/files/);
  expect(JSON.parse(r.stdout).files).toHaveLength(60);
});
