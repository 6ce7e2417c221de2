/**
 * The benchmark (bench/run.js, issue 7) must keep working: its tiny size generates a few
 * dozen files and a 20-stage "large" file, runs every case once through the built CLI, and
 * prints the table. Only that it runs and prints every row is asserted here, never a timing.
 * Needs dist/ (npm test builds first).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

describe("bench/run.js --size tiny", () => {
  it("exits 0 and prints one table with the five cases", () => {
    expect(fs.existsSync(path.join(ROOT, "dist/src/cli/main.js"))).toBe(true);
    const r = spawnSync(process.execPath, [path.join(ROOT, "bench/run.js"), "--size", "tiny"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      maxBuffer: 16 << 20,
    });
    if (r.status !== 0) throw new Error(`exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    const rows = r.stdout.split("\n").filter((l) => /^\| \d /.test(l));
    const row = (n: number) => rows.filter((l) => l.startsWith(`| ${n} `)).join("\n");
    expect(row(1)).toMatch(/bulk check .*files\/s.*parse-only: .*files\/s/);
    // the reference rows: one thread, the baseline on every core, the baseline with the memo
    expect(r.stdout).toMatch(/^\| 1a +\| bulk check as row 1, one thread.*files\/s/m);
    expect(r.stdout).toMatch(/^\| 1b +\| parse-only on \d+ threads.*files\/s/m);
    expect(r.stdout).toMatch(
      /^\| 1c +\| parse-only, one thread, with the dockerfile-ast memo.*files\/s/m,
    );
    // part of the tree, by default and on two threads (why threads start at 5,000 inputs)
    expect(r.stdout).toMatch(
      /^\| 1d +\| bulk check of \d+ of the files.*files\/s.*2 worker threads: \d+ files\/s.*threads would give \d/m,
    );
    expect(row(2)).toMatch(/fix --write.*files\/s.*\bok: \d+ rewritten/);
    expect(row(3)).toMatch(/large 1\/2: .*large 1x: .*large 2x: .*growth per doubling/s);
    expect(row(4)).toMatch(/cold start: .* ms .*node -e 0: \d+ ms/);
    expect(row(5)).toMatch(/peer: dockerfile-utils .*dockerfile-utils: .*files\/s/);
    expect(r.stdout).not.toMatch(/FAILED/);
  }, 180_000);
});
