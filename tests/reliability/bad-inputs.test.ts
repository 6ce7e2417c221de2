/**
 * Issue 9: each bad input gets one clear error line (file, and line where known), never a
 * stack trace, exit 2 — and the healthy file next to it is still analysed and fixed, while
 * the bad one is left byte-identical. The built CLI runs as a subprocess in a temp tree.
 * (The JSON `errors` of every case are checked in one bulk run: bulk.test.ts.)
 */
import * as fs from "fs";
import * as path from "path";
import { BAD_CASES } from "./cases";
import { makeTree, RACY, RACY_LOCKED, removeTree, runCli, snapshot, stackTraceLines } from "./cli";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe.each(BAD_CASES.map((c) => [c.name, c]))("%s", (_name, c) => {
  let dir: string;
  beforeAll(() => {
    dir = makeTree({ "good/Dockerfile": RACY, ...c.files });
  });
  afterAll(() => removeTree(dir));
  const args = () => ["good", ...topDirs(c)];

  test("check: one error line with file and line, no stack trace, exit 2, good file still checked", () => {
    const r = runCli(["check", ...args()], dir);
    const out = r.stdout + r.stderr;
    expect(stackTraceLines(out)).toEqual([]);
    const where = c.line ? `${escape(c.path)}:${c.line}` : escape(c.path);
    const lines = out.split("\n").filter((l) => l.startsWith(c.path) && / error: /.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${where}: error: `));
    expect(lines[0]).toMatch(c.message);
    // the healthy file was analysed: its race is reported
    expect(out).toMatch(/good\/Dockerfile:2: unsafe: shared-cache-race/);
    expect(r.status).toBe(2);
  });

  test("fix --write: the good file is rewritten, every other byte stays, exit 2", () => {
    const before = snapshot(dir);
    const r = runCli(["fix", "--write", ...args()], dir);
    const out = r.stdout + r.stderr;
    expect(stackTraceLines(out)).toEqual([]);
    expect(out).toMatch(new RegExp(`^${escape(c.path)}(:\\d+)?: error: `, "m"));
    expect(r.status).toBe(2);
    const after = snapshot(dir);
    expect(fs.readFileSync(path.join(dir, "good/Dockerfile"), "utf8")).toBe(RACY_LOCKED);
    before.delete("good/Dockerfile");
    after.delete("good/Dockerfile");
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) expect(after.get(k)?.equals(v)).toBe(true);
  });
});

/** The paths to give the CLI: the case's top-level directories, or its explicit args. */
function topDirs(c: (typeof BAD_CASES)[number]): string[] {
  if (c.args) return c.args;
  return [...new Set(Object.keys(c.files).map((f) => f.split("/")[0]))];
}
