#!/usr/bin/env node
// Regenerates tests/golden/ from examples/: the check JSON and each strategy's fix diff.
// Review `git diff tests/golden` before committing: the expectations are the contract.
// Usage: npm run build && node scripts/golden.js
"use strict";
const fs = require("fs");
const path = require("path");
const goldenCases = require("../tests/golden/cases.json");
const { check, fix } = require("../dist/src/index.js");

async function main() {
  process.chdir(path.join(__dirname, ".."));
  for (const c of goldenCases) {
    const dir = path.join("tests", "golden", c.name);
    fs.mkdirSync(dir, { recursive: true });
    const report = await check(c.paths, c.options || {});
    fs.writeFileSync(path.join(dir, "check.json"), JSON.stringify(report, null, 2) + "\n");
    for (const strategy of ["auto", "lock", "split", "merge"]) {
      const res = await fix(c.paths, { ...(c.options || {}), strategy });
      const errors = res.files
        .filter((f) => f.error)
        .map((f) => `# error: ${f.path}: ${f.error}\n`);
      fs.writeFileSync(path.join(dir, `fix-${strategy}.diff`), errors.join("") + res.diff);
    }
    console.log(`wrote ${dir}`);
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
