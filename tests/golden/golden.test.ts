/**
 * Golden tests: for every example (tests/golden/cases.json), the check JSON and the fix
 * diff of each strategy must equal the reviewed files in tests/golden/<case>/.
 * Regenerate with `npm run build && node scripts/golden.js`, then review the diff.
 */
import * as fs from "fs";
import * as path from "path";
import { check, fix } from "../../src/index";

const root = path.join(__dirname, "..", "..");
const cases: { name: string; paths: string[]; options?: Record<string, unknown> }[] = JSON.parse(
  fs.readFileSync(path.join(__dirname, "cases.json"), "utf8"),
);

beforeAll(() => process.chdir(root));

describe.each(cases)("$name", (c) => {
  const dir = path.join(__dirname, c.name);
  test("check JSON matches", async () => {
    const report = await check(c.paths, c.options ?? {});
    const expected = JSON.parse(fs.readFileSync(path.join(dir, "check.json"), "utf8"));
    expect(report).toEqual(expected);
  });
  test.each(["auto", "lock", "split", "merge"])("fix --strategy %s diff matches", async (strategy) => {
    const res = await fix(c.paths, { ...(c.options ?? {}), strategy: strategy as "auto" });
    const errors = res.files.filter((f) => f.error).map((f) => `# error: ${f.path}: ${f.error}\n`);
    expect(errors.join("") + res.diff).toBe(fs.readFileSync(path.join(dir, `fix-${strategy}.diff`), "utf8"));
  });
});
