/**
 * Analyzer vs engine, for every build of every example: the pairs of cache RUN steps that
 * the real BuildKit runs at the same time (seen through the rendezvous probe) must be
 * exactly the `parallel` pairs of `buildrace check --format json`. Self-pairs ([n, n]: another
 * platform or build of the same step) cannot be seen in one single-platform build and are
 * covered by the compose race test instead.
 */
import * as path from "path";
import { check } from "../../src/index";
import { describeEngine, REPO_ROOT } from "./engine";
import { formatPairs, LinePair, runProbeFile } from "./probe";

interface Case {
  name: string;
  file: string;
  target?: string;
  buildArgs: Record<string, string>;
}

/**
 * BUILDRACE_E2E_EXHAUSTIVE=1 makes the probe try every pair with a single-pair build, so
 * the engine alone rules out each non-overlapping pair (about 4-5 minutes). By default the
 * probe tries the analyzer's pairs, its own model's and "star" builds where one step
 * waits for all others, which meets every pair that can overlap (about 30 s).
 */
const EXHAUSTIVE = process.env.BUILDRACE_E2E_EXHAUSTIVE === "1";

/** One case per (Dockerfile, build) the analyzer sees in the examples, plus variants. */
async function cases(): Promise<Case[]> {
  process.chdir(REPO_ROOT);
  const out: Case[] = [];
  const variants: { paths: string[]; buildArgs?: Record<string, string>; target?: string }[] = [
    { paths: ["examples"] },
    { paths: ["examples/monorepo-targets/Dockerfile"], buildArgs: { VARIANT: "debug" } },
    { paths: ["examples/monorepo-targets/Dockerfile"], target: "e2e" },
  ];
  const seen = new Set<string>();
  for (const v of variants) {
    const report = await check(v.paths, { buildArgs: v.buildArgs, target: v.target });
    for (const f of report.files)
      for (const b of f.builds) {
        // An unnamed target is the last stage: the engine's default too.
        const target = /^[0-9]+$/.test(b.target) ? undefined : b.target;
        const buildArgs = v.buildArgs ?? {};
        const key = JSON.stringify([f.path, target, buildArgs]);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          name: `${f.path} [${b.name} → ${b.target}] ${JSON.stringify(buildArgs)}`,
          file: f.path,
          target,
          buildArgs,
        });
      }
  }
  return out;
}

describeEngine("analyzer vs engine: parallel pairs of every example", () => {
  let all: Case[] = [];
  beforeAll(async () => {
    all = await cases();
  }, 60000);

  test("there are examples to probe", () => {
    expect(all.length).toBeGreaterThanOrEqual(12);
  });

  test("every build's pairs match the engine", async () => {
    const mismatches: string[] = [];
    for (const c of all) {
      // The analyzer's pairs for exactly this build (file alone, this target and these args).
      const report = await check([c.file], { target: c.target, buildArgs: c.buildArgs });
      const expected = report.files[0].parallel.filter(([a, b]) => a !== b) as LinePair[];
      const r = runProbeFile(path.join(REPO_ROOT, c.file), {
        target: c.target,
        buildArgs: c.buildArgs,
        hypothesis: expected,
        exhaustive: EXHAUSTIVE,
      });
      if (r.code !== 0) {
        mismatches.push(`${c.name}: probe build failed (${r.code})\n${r.log.slice(-2000)}`);
        continue;
      }
      if (formatPairs(r.pairs) !== formatPairs(expected) || r.undecided.length)
        mismatches.push(
          `${c.name}: engine ${formatPairs(r.pairs)} vs analyzer ${formatPairs(expected)}` +
            (r.undecided.length ? `; undecided ${formatPairs(r.undecided)}` : ""),
        );
    }
    expect(mismatches).toEqual([]);
  }, 600000);
});
