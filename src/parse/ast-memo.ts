/**
 * dockerfile-ast 0.7 splits an instruction's arguments afresh on every `getArguments()`, and
 * its own constructors ask for them three times per RUN, COPY, ADD or CMD (then the flags
 * ask again). That is about 40% of its parse time on the bench tree. This keeps each
 * instruction's split: the first call does the work, later calls get a copy (callers shift
 * flags off the array they get, and dockerfile-ast's FROM moves the ends of the range of the
 * argument it is given, so each call gets its own array, arguments and ranges; the positions
 * inside a range are never changed, and dockerfile-ast shares them between ranges itself).
 *
 * It is applied once, when the parse stage is loaded, and only to the dockerfile-ast
 * version tests/parse/ast-memo.test.ts checks it against: there every Dockerfile of the
 * corpus and the examples parses to the same arguments, flags, ranges and instructions with
 * and without it. BUILDRACE_AST_MEMO=0 leaves dockerfile-ast as it is.
 */
import { Argument, Instruction } from "dockerfile-ast";

/** The dockerfile-ast versions this was checked against (major.minor). */
const CHECKED = /^0\.7\./;

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

/** Turns the memo on (true when it is on). */
export function applyAstMemo(): boolean {
  if (original) return true;
  if (process.env.BUILDRACE_AST_MEMO === "0" || !CHECKED.test(astVersion())) return false;
  const proto = Instruction.prototype as unknown as { getRawArguments(): Argument[] };
  if (typeof proto.getRawArguments !== "function") return false;
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
  if (!original) return;
  (Instruction.prototype as unknown as { getRawArguments: () => Argument[] }).getRawArguments =
    original;
  original = undefined;
}
