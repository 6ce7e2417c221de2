/**
 * Fuzz / property suite: the analyzer and the fixer never throw on odd input, report problems
 * as well-formed diagnostics, print the documented JSON, and produce rewrites that re-parse,
 * are idempotent and touch only `--mount` option text. `npm test` runs a bounded number of
 * cases; `node scripts/fuzz.js N [seed]` runs N per property (BUILDRACE_FUZZ_RUNS/SEED).
 */
import fc from "fast-check";
import { Strategy, STRATEGIES } from "../../src/apply/load";
import { checkAnalysis, checkFix, stats, Workspace } from "./check";
import {
  caseAndSpaceArb,
  dockerfileTextArb,
  lineEndingsArb,
  mountSoupFileArb,
  racyStructArb,
  randomBytesArb,
  seedFiles,
  spliceArb,
  truncatedArb,
} from "./gen";

const RUNS = Number(process.env.BUILDRACE_FUZZ_RUNS) || 0;
const SEED = process.env.BUILDRACE_FUZZ_SEED ? Number(process.env.BUILDRACE_FUZZ_SEED) : undefined;
/** Bounded for `npm test`; scaled by BUILDRACE_FUZZ_RUNS for long runs. */
const runs = (n: number) => ({
  numRuns: RUNS || n,
  ...(SEED !== undefined ? { seed: SEED } : {}),
  endOnFailure: RUNS > 0,
});

const ws = new Workspace();
afterAll(() => {
  ws.dispose();
  if (RUNS)
    process.stdout.write(
      `\nbuildrace fuzz: ${stats.fixCases} fix cases, ${stats.rewrites} rewrites checked, ` +
        `${stats.knownRefusals} refusals and ${stats.knownMerges} merged caches from known ` +
        `transform bugs (tests/reliability/known-issues.test.ts)\n`,
    );
});
if (RUNS) jest.setTimeout(24 * 3600 * 1000);

describe("analyze never throws and reports problems as diagnostics", () => {
  test("every seed file analyses", async () => {
    for (const s of seedFiles()) await checkAnalysis(ws, s.text);
  });
  test.each([
    ["random bytes", randomBytesArb, 60],
    ["truncated real files", truncatedArb, 60],
    ["flipped line endings", lineEndingsArb, 40],
    ["--mount option soup", mountSoupFileArb, 120],
    ["random keyword case and whitespace", caseAndSpaceArb, 40],
    ["punctuation splices", spliceArb, 120],
    ["unicode strings", fc.string({ unit: "binary", maxLength: 120 }), 40],
  ] as [string, fc.Arbitrary<string | Buffer>, number][])("%s", async (_name, arb, n) => {
    await fc.assert(
      fc.asyncProperty(arb, async (content) => checkAnalysis(ws, content)),
      runs(n),
    );
  });
});

describe("planFixes never throws; rewrites re-parse, are idempotent and minimal", () => {
  test.each(STRATEGIES.map((s) => [s]))("strategy %s", async (strategy) => {
    await fc.assert(
      fc.asyncProperty(dockerfileTextArb, async (text) => checkFix(ws, text, strategy as Strategy)),
      runs(60),
    );
  });
  test("option soup, every strategy", async () => {
    await fc.assert(
      fc.asyncProperty(mountSoupFileArb, fc.constantFrom(...STRATEGIES), async (text, strategy) =>
        checkFix(ws, text, strategy),
      ),
      runs(120),
    );
  });
});
