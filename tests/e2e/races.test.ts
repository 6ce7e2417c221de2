/**
 * Race reproduction on the real engine (issue 6, part 2; SPEC sections 1 and 6).
 *
 * For three racy examples, build a temporary copy N times, each build with fresh cache ids
 * (`id=<unique>-<original id or target>` written into every cache mount: this engine does not
 * expand build args in mount options, and `--no-cache` must not be used), every FROM replaced
 * by a local image derived from buildrace-base, and every cache RUN's command replaced by a
 * workload shaped like the package manager that owns the cache (tests/e2e/workloads.ts):
 *
 * - the racy original fails in at least one of N builds, and every failure is the race, with
 *   the package manager's real error text;
 * - `buildrace fix --write --strategy S` on a fresh copy of the REAL example, then the same
 *   rewrite of the FIXED file (keeping the `sharing`/`id` options the fix wrote): N of N
 *   builds succeed, for S in auto, lock, split and merge (merge falls back to lock where it
 *   cannot apply). A strategy whose fixed file is byte-identical to one already built (e.g.
 *   apt-heavy's auto = lock) reuses those builds: same input, same experiment.
 * - For split, the racing stages' steps still ran at the same time in some build: the fix
 *   removed the race without serialising them.
 *
 * BUILDRACE_RACE_RUNS overrides N. A summary table is written to stderr at the end.
 */
import * as fs from "fs";
import * as path from "path";
import { describeEngine, removeDir, runBuildrace } from "./engine";
import {
  buildRepeatedly,
  copyExample,
  ERRORS,
  fixedCopy,
  overlappingStages,
  RaceRun,
  Strategy,
  summarize,
  tail,
  Timing,
} from "./workloads";

const N = Number(process.env.BUILDRACE_RACE_RUNS || 5);

/**
 * Short windows keep the file near 2 minutes; the check-then-create and lock windows are
 * still an order of magnitude wider than the start skew of sibling stages (~0.1-0.2 s here),
 * so the racy builds fail nearly every time.
 */
const TIMING: Partial<Timing> = {
  crates: 6,
  unpackSeconds: 0.2,
  aptSeconds: 0.75,
  packages: 6,
  packageSeconds: 0.15,
  compileSeconds: 0.4,
};

interface Case {
  example: string;
  /** the sibling stages whose cache RUNs race */
  racing: [string, string];
  /** the error every racy failure must show */
  error: RegExp;
}

const CASES: Case[] = [
  // cargo registry + git + target in two sibling stages (registry: check-then-create unpack)
  { example: "rust-multistage", racing: ["build-api", "build-cli"], error: ERRORS.cargoRegistry },
  // apt lists and archives locks in toolchain and runtime-deps (docs is locked already)
  { example: "apt-heavy", racing: ["runtime-deps", "toolchain"], error: ERRORS.apt },
  // yarn v1 cache (unsafe) and a relative node_modules/.cache (serialising) in web and admin
  { example: "node-monorepo", racing: ["admin", "web"], error: ERRORS.yarn },
];

const STRATEGIES: Strategy[] = ["auto", "lock", "split", "merge"];

const summary: string[] = [];
const startedAt = Date.now();

/** Builds in which the two racing stages' cache RUNs ran at the same time. */
function together(c: Case, runs: RaceRun[]): number {
  const pair = [...c.racing].sort().join("~");
  return runs.filter((r) => overlappingStages(r.spans, r.cacheRuns).includes(pair)).length;
}

function record(c: Case, variant: string, runs: RaceRun[], note = ""): void {
  summary.push(
    `${c.example.padEnd(16)} ${variant.padEnd(6)} ${summarize(runs)}; ` +
      `${c.racing.join(" and ")} ran together in ${together(c, runs)}/${runs.length}` +
      (note ? `; ${note}` : ""),
  );
}

describeEngine(`race reproduction: racy examples fail, fixed ones never do (N=${N})`, () => {
  afterAll(() => {
    process.stderr.write(
      `\nrace reproduction, N=${N} (${((Date.now() - startedAt) / 1000).toFixed(0)} s):\n` +
        summary.map((l) => `  ${l}\n`).join(""),
    );
  });

  for (const c of CASES) {
    describe(c.example, () => {
      /** fixed Dockerfile text -> the strategy that built it, and its runs */
      const built = new Map<string, { strategy: Strategy; runs: RaceRun[] }>();
      let original = "";

      test(`the racy original fails in at least one of ${N} builds, always with the real error`, () => {
        const dir = copyExample(c.example);
        try {
          original = fs.readFileSync(path.join(dir, "Dockerfile"), "utf8");
          const runs = buildRepeatedly(dir, original, N, { timing: TIMING });
          record(c, "racy", runs);
          const failed = runs.filter((r) => r.code !== 0);
          expect(failed.length).toBeGreaterThan(0);
          // A failure for any other reason would prove nothing about the race.
          for (const r of failed) if (!c.error.test(r.log)) throw new Error(tail(r.log, 60));
        } finally {
          removeDir(dir);
        }
      }, 120000);

      for (const s of STRATEGIES) {
        test(`fix --write --strategy ${s}: ${N} of ${N} builds succeed`, () => {
          const f = fixedCopy(c.example, s);
          try {
            expect({ code: f.code, output: f.code === 0 ? "" : f.output }).toEqual({
              code: 0,
              output: "",
            });
            const text = fs.readFileSync(path.join(f.dir, "Dockerfile"), "utf8");
            expect(text).not.toBe(original);
            // The analyzer agrees the fixed file has no race left.
            const check = runBuildrace(["check", f.dir]);
            expect({ code: check.code, out: check.code === 0 ? "" : check.stdout }).toEqual({
              code: 0,
              out: "",
            });

            const same = built.get(text);
            const runs = same ? same.runs : buildRepeatedly(f.dir, text, N, { timing: TIMING });
            if (!same) built.set(text, { strategy: s, runs });
            record(c, s, runs, same ? `same file as ${same.strategy}` : "");

            expect(runs.map((r) => (r.code === 0 ? "ok" : tail(r.log, 60)))).toEqual(
              runs.map(() => "ok"),
            );
            if (s === "split") {
              // Split keeps the stages parallel: the racing steps ran at the same time, on
              // their own caches, and still never failed.
              expect(together(c, runs)).toBeGreaterThan(0);
            }
          } finally {
            removeDir(f.dir);
          }
        }, 120000);
      }
    });
  }
});
