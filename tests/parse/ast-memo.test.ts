/**
 * src/parse/ast-memo.ts keeps each dockerfile-ast instruction's argument split, and gives
 * vscode-languageserver-types' Range.create a fast path. They must change nothing but speed: every Dockerfile of examples/ and the corpus, and broken ones from
 * the fuzz generators, parse to the same dockerfile-ast instructions (arguments, flags,
 * ranges, ONBUILD triggers, heredocs) and to the same buildrace parse, with and without it.
 */
import fc from "fast-check";
import { DockerfileParser, Instruction } from "dockerfile-ast";
import { Range } from "vscode-languageserver-types";
import { applyAstMemo, removeAstMemo } from "../../src/parse/ast-memo";
import { parseDockerfile } from "../../src/parse/dockerfile";
import {
  caseAndSpaceArb,
  lineEndingsArb,
  mountSoupFileArb,
  seedFiles,
  spliceArb,
  truncatedArb,
} from "../fuzz/gen";

/** Everything dockerfile-ast says about an instruction that goes through its argument split. */
function dumpInstruction(i: Instruction): unknown {
  const any = i as unknown as Record<string, unknown>;
  const call = (name: string) =>
    typeof any[name] === "function" ? (any[name] as () => unknown).call(i) : undefined;
  const flags = call("getFlags") as
    | {
        getName(): string;
        getValue(): string | null;
        getRange(): unknown;
        getNameRange(): unknown;
      }[]
    | undefined;
  const trigger = call("getTriggerInstruction") as Instruction | null | undefined;
  return {
    keyword: i.getKeyword(),
    range: i.getRange(),
    args: i.getArguments().map((a) => [a.getValue(), a.getRange()]),
    rawArgs: (call("getRawArguments") as { getValue(): string }[]).map((a) => a.getValue()),
    argsRange: i.getArgumentsRange(),
    argsRanges: i.getArgumentsRanges(),
    argsContent: i.getArgumentsContent(),
    rawContent: i.getRawArgumentsContent(),
    expanded: i.getExpandedArguments().map((a) => a.getValue()),
    flags: flags?.map((f) => [f.getName(), f.getValue(), f.getRange(), f.getNameRange()]),
    json: call("getJSONStrings"),
    heredocs: (
      call("getHeredocs") as { getName(): string; getContentRange(): unknown }[] | undefined
    )?.map((h) => [h.getName(), h.getContentRange()]),
    trigger: trigger ? dumpInstruction(trigger) : trigger,
  };
}

function dumpAst(text: string): string {
  const df = DockerfileParser.parse(text);
  return JSON.stringify({
    instructions: df.getInstructions().map(dumpInstruction),
    froms: df.getFROMs().map((f) => [f.getImageName(), f.getBuildStage()]),
  });
}

const dumpOurs = (text: string) => JSON.stringify(parseDockerfile("Dockerfile", text));

/** Both dumps of `text` without the memo and with it. */
function both(text: string): { off: string[]; on: string[] } {
  removeAstMemo();
  const off = [dumpAst(text), dumpOurs(text)];
  expect(applyAstMemo()).toBe(true);
  const on = [dumpAst(text), dumpOurs(text)];
  return { off, on };
}

afterAll(() => applyAstMemo());

const seeds = seedFiles();

test("the memo is on for the dockerfile-ast version installed", () => {
  removeAstMemo();
  expect(applyAstMemo()).toBe(true);
  // a second call keeps the one memo (getRawArguments is wrapped once)
  const wrapped = (Instruction.prototype as unknown as { getRawArguments: unknown })
    .getRawArguments;
  applyAstMemo();
  expect((Instruction.prototype as unknown as { getRawArguments: unknown }).getRawArguments).toBe(
    wrapped,
  );
});

test("examples and corpus: the same parse with and without the memo", () => {
  expect(seeds.length).toBeGreaterThan(20);
  let instructions = 0;
  for (const s of seeds) {
    const { off, on } = both(s.text);
    expect({ name: s.name, dump: on }).toEqual({ name: s.name, dump: off });
    instructions += (JSON.parse(off[0]) as { instructions: unknown[] }).instructions.length;
  }
  expect(instructions).toBeGreaterThan(500);
});

test("callers get their own array: shifting one does not change the next", () => {
  applyAstMemo();
  const run = DockerfileParser.parse(
    "FROM busybox\nRUN --mount=type=cache,target=/c echo hi\n",
  ).getInstructions()[1];
  const first = run.getArguments();
  expect(first.map((a) => a.getValue())).toEqual(["echo", "hi"]);
  first.shift();
  expect(run.getArguments().map((a) => a.getValue())).toEqual(["echo", "hi"]);
});

test("FROM moving its image range's ends does not move the argument's range", () => {
  applyAstMemo();
  const from = DockerfileParser.parse(
    "FROM registry.example.com/team/app:1.2 AS b\n",
  ).getFROMs()[0];
  const before = JSON.stringify(from.getArguments()[0].getRange());
  expect(from.getImageName()).toBe("team/app");
  expect(from.getImageNameRange()).not.toEqual(from.getArguments()[0].getRange());
  expect(JSON.stringify(from.getArguments()[0].getRange())).toBe(before);
});

test("broken and odd Dockerfiles: the same parse with and without the memo", () => {
  fc.assert(
    fc.property(
      fc.oneof(truncatedArb, lineEndingsArb, mountSoupFileArb, caseAndSpaceArb, spliceArb),
      (text: string) => {
        const { off, on } = both(text);
        expect(on).toEqual(off);
      },
    ),
    { numRuns: 80, seed: 7 },
  );
});

test("Range.create's fast path gives what the original gives, or throws as it does", () => {
  removeAstMemo();
  const original = Range.create as (...a: unknown[]) => unknown;
  expect(applyAstMemo()).toBe(true);
  const fast = Range.create as (...a: unknown[]) => unknown;
  expect(fast).not.toBe(original); // on for the installed version
  const outcome = (f: (...a: unknown[]) => unknown, args: unknown[]) => {
    try {
      return { value: f(...args) };
    } catch (e) {
      return { error: String(e) };
    }
  };
  const num = fc.oneof(
    fc.nat({ max: 5 }),
    fc.constantFrom(-1, 0.5, 2147483647, 2147483648, Number.MAX_VALUE, NaN, -0),
    fc.nat().map((n) => new Number(n)),
  );
  const pos = fc.oneof(
    fc.record({ line: fc.nat({ max: 5 }), character: fc.nat({ max: 5 }) }),
    fc.record({ line: num, character: num }),
    fc.constantFrom(null, undefined, "1", {}, { line: 1 }),
  );
  const arg = fc.oneof(num, pos);
  fc.assert(
    fc.property(fc.array(arg, { minLength: 0, maxLength: 4 }), (args) => {
      const a = outcome(fast, args);
      const b = outcome(original, args);
      expect(a).toEqual(b);
      // a range of two positions holds those very objects, as the original's does
      if ("value" in a && "value" in b && args.length === 2)
        expect((a.value as { start: unknown }).start === args[0]).toBe(
          (b.value as { start: unknown }).start === args[0],
        );
    }),
    { numRuns: 2000, seed: 7 },
  );
  const p = { line: 1, character: 2 };
  const q = { line: 3, character: 0 };
  const r = fast(p, q) as { start: unknown; end: unknown };
  expect(r.start).toBe(p); // the very objects, as the original's
  expect(r.end).toBe(q);
  expect(fast(1, 2, 3, 4)).toEqual({
    start: { line: 1, character: 2 },
    end: { line: 3, character: 4 },
  });
});

test("BUILDRACE_AST_MEMO=0 leaves dockerfile-ast as it is", () => {
  removeAstMemo();
  const range = Range.create;
  const before = (Instruction.prototype as unknown as { getRawArguments: unknown }).getRawArguments;
  process.env.BUILDRACE_AST_MEMO = "0";
  try {
    expect(applyAstMemo()).toBe(false);
    expect((Instruction.prototype as unknown as { getRawArguments: unknown }).getRawArguments).toBe(
      before,
    );
    expect(Range.create).toBe(range);
  } finally {
    delete process.env.BUILDRACE_AST_MEMO;
  }
});
