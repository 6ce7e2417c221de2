/**
 * Issue 9, bulk runs: one tree holding every bad input of cases.ts plus several healthy racy
 * Dockerfiles. The run goes on past each bad file, reports it (summary, JSON `errors`),
 * exits 2 at the end, rewrites the healthy files and leaves every failing file byte-identical.
 */
import * as fs from "fs";
import * as path from "path";
import { BAD_CASES } from "./cases";
import {
  Entry,
  makeTree,
  RACY,
  RACY_LOCKED,
  removeTree,
  runCli,
  snapshot,
  stackTraceLines,
} from "./cli";

const GOOD = ["svc-a/Dockerfile", "svc-b/build.Dockerfile", "z-last/Containerfile"];

let dir: string;
const files: Record<string, Entry> = {};
for (const c of BAD_CASES) Object.assign(files, c.files);
for (const g of GOOD) files[g] = RACY;
const extraArgs = BAD_CASES.flatMap((c) => c.args ?? []);

beforeAll(() => {
  dir = makeTree(files);
});
afterAll(() => removeTree(dir));

test("check --format json: every bad file is in files[].errors, every good file analysed, exit 2", () => {
  const r = runCli(["check", ".", ...extraArgs, "--format", "json"], dir);
  expect(stackTraceLines(r.stderr)).toEqual([]);
  interface JsonFile {
    path: string;
    races: { safety: string }[];
    errors: { line: number; message: string; severity: string }[];
  }
  const report: { files: JsonFile[] } = JSON.parse(r.stdout);
  const byPath = new Map(report.files.map((f) => [f.path, f]));
  for (const c of BAD_CASES) {
    const f = byPath.get(c.path);
    expect({ case: c.name, found: f !== undefined }).toEqual({ case: c.name, found: true });
    const errs = f!.errors.filter((e) => e.severity === "error");
    expect({ case: c.name, errors: errs.length }).toEqual({ case: c.name, errors: 1 });
    expect({ case: c.name, line: errs[0].line }).toEqual({ case: c.name, line: c.line });
    expect(errs[0].message).toMatch(c.message);
  }
  for (const g of GOOD) {
    const f = byPath.get(g) as JsonFile;
    expect(f.errors).toEqual([]);
    expect(f.races.map((x) => x.safety)).toEqual(["unsafe"]);
  }
  expect(r.status).toBe(2);
});

test("check (text): one line per bad file, the summary counts them, exit 2", () => {
  const r = runCli(["check", ".", ...extraArgs], dir);
  const out = r.stdout + r.stderr;
  expect(stackTraceLines(out)).toEqual([]);
  for (const c of BAD_CASES)
    expect(out.split("\n").filter((l) => l.startsWith(`${c.path}`) && / error: /.test(l))).toEqual([
      expect.stringMatching(c.message),
    ]);
  // the summary counts the errors, and the healthy files' races are still reported
  expect(out).toMatch(new RegExp(`\\b${BAD_CASES.length} errors\\b`));
  for (const g of GOOD) expect(out).toContain(`${g}:2: unsafe: shared-cache-race`);
  expect(r.status).toBe(2);
});

test("fix --write: good files rewritten, failing files byte-identical, no temp files, exit 2", () => {
  const before = snapshot(dir);
  const r = runCli(["fix", "--write", ".", ...extraArgs], dir);
  const out = r.stdout + r.stderr;
  expect(stackTraceLines(out)).toEqual([]);
  for (const c of BAD_CASES)
    expect(out).toMatch(new RegExp(`^${c.path.replace(/[.]/g, "\\.")}(:\\d+)?: error: `, "m"));
  expect(out).toMatch(new RegExp(`${GOOD.length} files rewritten`));
  expect(r.status).toBe(2);
  const after = snapshot(dir);
  for (const g of GOOD) {
    expect(fs.readFileSync(path.join(dir, g), "utf8")).toBe(RACY_LOCKED);
    before.delete(g);
    after.delete(g);
  }
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [k, v] of before)
    expect({ file: k, same: after.get(k)?.equals(v) }).toEqual({ file: k, same: true });
});

test("a second fix --write changes nothing more and still reports the bad files", () => {
  const before = snapshot(dir);
  const r = runCli(["fix", "--write", ".", ...extraArgs], dir);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/0 files rewritten/);
  const after = snapshot(dir);
  for (const [k, v] of before) expect(after.get(k)?.equals(v)).toBe(true);
});

test("fix --format json: every bad file is listed in `errors`, exit 2", () => {
  const r = runCli(["fix", ".", ...extraArgs, "--format", "json"], dir);
  expect(stackTraceLines(r.stderr)).toEqual([]);
  const doc: { errors: { path: string; errors: { line: number; message: string }[] }[] } =
    JSON.parse(r.stdout);
  for (const c of BAD_CASES) {
    const e = doc.errors.find((x) => x.path === c.path);
    expect({ case: c.name, line: e?.errors[0].line }).toEqual({ case: c.name, line: c.line });
    expect(e!.errors[0].message).toMatch(c.message);
  }
  expect(doc.errors).toHaveLength(BAD_CASES.length);
  expect(r.status).toBe(2);
});
