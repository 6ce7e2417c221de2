#!/usr/bin/env node
/**
 * Long fuzz run: `node scripts/fuzz.js [N] [seed]` runs the properties of tests/fuzz with
 * about N generated cases in all (split evenly over the properties; default 20000) and the
 * given seed (default: random). It prints the seed first so a run can be repeated; a failure
 * prints fast-check's counterexample (the reproducing input), its seed and path, and the
 * script exits 1.
 */
"use strict";
const { spawnSync } = require("child_process");
const path = require("path");

const PROPERTIES = 13; // property tests in tests/fuzz/fuzz.test.ts that take a case count
const total = Number(process.argv[2] || 20000);
if (!Number.isInteger(total) || total <= 0) {
  process.stderr.write("usage: node scripts/fuzz.js [N cases] [seed]\n");
  process.exit(2);
}
const seed =
  process.argv[3] !== undefined ? Number(process.argv[3]) : (Date.now() ^ process.pid) | 0;
const perProperty = Math.max(1, Math.ceil(total / PROPERTIES));
process.stdout.write(
  `buildrace fuzz: seed ${seed}, ${perProperty} cases per property (${perProperty * PROPERTIES} in all)\n` +
    `repeat with: node scripts/fuzz.js ${total} ${seed}\n`,
);
const root = path.resolve(__dirname, "..");
const started = Date.now();
const r = spawnSync(
  process.execPath,
  [require.resolve("jest/bin/jest", { paths: [root] }), "tests/fuzz", "--testTimeout=86400000"],
  {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      BUILDRACE_FUZZ_RUNS: String(perProperty),
      BUILDRACE_FUZZ_SEED: String(seed),
    },
  },
);
const secs = ((Date.now() - started) / 1000).toFixed(0);
process.stdout.write(
  `buildrace fuzz: ${r.status === 0 ? "no failure" : "FAILED"} after ${secs}s (seed ${seed})\n`,
);
process.exit(r.status === 0 ? 0 : 1);
