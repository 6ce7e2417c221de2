/**
 * Two speed-ups of dockerfile-ast, which change nothing but speed.
 *
 * 1. dockerfile-ast 0.7 splits an instruction's arguments afresh on every `getArguments()`, and
 * its own constructors ask for them three times per RUN, COPY, ADD or CMD (then the flags
 * ask again). That is about 40% of its parse time on the bench tree. This keeps each
 * instruction's split: the first call does the work, later calls get a copy (callers shift
 * flags off the array they get, and dockerfile-ast's FROM moves the ends of the range of the
 * argument it is given, so each call gets its own array, arguments and ranges; the positions
 * inside a range are never changed, and dockerfile-ast shares them between ranges itself).
 *
 * 2. It builds every range with vscode-languageserver-types' `Range.create(start, end)`, which
 *    first asks whether each argument is a number, then whether each is a position, with
 *    `Object.prototype.toString.call` five times: 17% of a warm parse of the bench tree. The
 *    fast path answers the common cases (four plain numbers, two plain positions) with the
 *    same value, and hands anything else to the original.
 *
 * They are applied once, when the parse stage is loaded, and only to the versions
 * tests/parse/ast-memo.test.ts checks them against: there every Dockerfile of the corpus and
 * the examples parses to the same arguments, flags, ranges and instructions with and without
 * them. BUILDRACE_AST_MEMO=0 leaves both libraries as they are.
 */
import * as fs from "fs";
import * as path from "path";
import { Argument, Instruction } from "dockerfile-ast";

/** The dockerfile-ast versions this was checked against (major.minor). */
const CHECKED = /^0\.7\./;
/** The vscode-languageserver-types versions Range.create's fast path was checked against. */
const CHECKED_TYPES = /^3\.1[78]\./;

const KEPT = Symbol("buildrace.rawArguments");

type Memoized = { [KEPT]?: Argument[] };

let original: (() => Argument[]) | undefined;

function astVersion(): string {
  try {
    return (require("dockerfile-ast/package.json") as { version: string }).version;
  } catch {
    return "";
  }
}

type RangeCreate = (one: unknown, two: unknown, three?: unknown, four?: unknown) => unknown;
type RangeNamespace = { create: RangeCreate };

/** vscode-languageserver-types' Range as dockerfile-ast loads it, and that copy's version. */
function astTypes(): { Range: RangeNamespace; version: string } | undefined {
  try {
    // the module dockerfile-ast's own files loaded (asking require.resolve with `paths` costs
    // ~5 ms of start-up)
    const root = require.cache[require.resolve("dockerfile-ast")];
    const astDir = path.dirname(path.dirname(root?.filename ?? ""));
    const seen = new Set<NodeModule>();
    const queue = root ? [root] : [];
    let types: NodeModule | undefined;
    while (!types && queue.length) {
      const m = queue.shift() as NodeModule;
      for (const c of m.children) {
        if (seen.has(c)) continue;
        seen.add(c);
        if (/[\\/]vscode-languageserver-types[\\/]/.test(c.filename)) types = c;
        else if (c.filename.startsWith(astDir)) queue.push(c);
      }
    }
    if (!types) return undefined;
    // its package.json is not exported: look for it above the main file
    for (
      let dir = path.dirname(types.filename);
      dir !== path.dirname(dir);
      dir = path.dirname(dir)
    ) {
      const file = path.join(dir, "package.json");
      if (!fs.existsSync(file)) continue;
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name !== "vscode-languageserver-types") continue;
      return {
        Range: (types.exports as { Range: RangeNamespace }).Range,
        version: pkg.version ?? "",
      };
    }
  } catch {
    // not found: no fast path
  }
  return undefined;
}

let patchedRange: { Range: RangeNamespace; original: RangeCreate } | undefined;

const uinteger = (v: unknown): boolean => typeof v === "number" && v >= 0 && v <= 2147483647;
const isPosition = (p: unknown): boolean =>
  p !== null &&
  typeof p === "object" &&
  uinteger((p as { line?: unknown }).line) &&
  uinteger((p as { character?: unknown }).character);

/**
 * Range.create, answering plain numbers and plain positions without `toString.call` (with
 * what the original returns for them), and anything else (Number objects, bad arguments,
 * which throw) by the original.
 */
function fastCreate(original: RangeCreate): RangeCreate {
  return function (this: unknown, one, two, three, four) {
    if (uinteger(one) && uinteger(two) && uinteger(three) && uinteger(four))
      return { start: { line: one, character: two }, end: { line: three, character: four } };
    if (isPosition(one) && isPosition(two)) return { start: one, end: two };
    return original.call(this, one, two, three, four);
  };
}

/** Turns the memo on (true when it is on). */
export function applyAstMemo(): boolean {
  if (original) return true;
  if (process.env.BUILDRACE_AST_MEMO === "0" || !CHECKED.test(astVersion())) return false;
  const proto = Instruction.prototype as unknown as { getRawArguments(): Argument[] };
  if (typeof proto.getRawArguments !== "function") return false;
  const types = patchedRange ? undefined : astTypes();
  if (types && CHECKED_TYPES.test(types.version)) {
    patchedRange = { Range: types.Range, original: types.Range.create };
    types.Range.create = fastCreate(types.Range.create);
  }
  const split = proto.getRawArguments;
  original = split;
  proto.getRawArguments = function (this: Memoized) {
    let kept = this[KEPT];
    if (!kept) this[KEPT] = kept = split.call(this);
    const out: Argument[] = new Array(kept.length);
    for (let i = 0; i < kept.length; i++) {
      const r = kept[i].getRange();
      out[i] = new Argument(kept[i].getValue(), { start: r.start, end: r.end });
    }
    return out;
  };
  return true;
}

/** Turns the memo off again (for the test that compares both). */
export function removeAstMemo(): void {
  if (patchedRange) patchedRange.Range.create = patchedRange.original;
  patchedRange = undefined;
  if (!original) return;
  (Instruction.prototype as unknown as { getRawArguments: () => Argument[] }).getRawArguments =
    original;
  original = undefined;
}
