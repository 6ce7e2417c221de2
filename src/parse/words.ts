/**
 * Source-mapped text for one instruction: BuildKit joins continuation lines into one
 * logical line and then splits flag words with shell-like quote removal. Every character
 * we hand on remembers its offset in the original file, so rewrites can edit the exact
 * bytes the user wrote (quotes, continuations and all).
 *
 * The map is kept as runs of contiguous offsets (one per physical line of a logical line,
 * one per quote-free stretch of a flag word), not one number per character: instructions
 * are many and long, and the per-character arrays were most of the parser's garbage.
 */

/** A string whose characters each map to an offset in the source text. */
export interface MappedText {
  text: string;
  /** offsets[i] is the source offset of text[i]. */
  readonly offsets: number[];
}

/**
 * A mapped text stored as runs: run k starts at text index `at[k]` and source offset
 * `src[k]` and lasts until the next run. `offsets` is built on first use only.
 */
export class Mapped implements MappedText {
  private cached: number[] | undefined = undefined;

  constructor(
    readonly text: string,
    /** Text index where each run starts (ascending, the first is 0). */
    readonly at: number[],
    /** Source offset of each run's first character. */
    readonly src: number[],
  ) {}

  get offsets(): number[] {
    if (this.cached) return this.cached;
    const out = new Array<number>(this.text.length);
    const { at, src } = this;
    for (let k = 0; k < at.length; k++) {
      const end = k + 1 < at.length ? at[k + 1] : this.text.length;
      for (let i = at[k], o = src[k]; i < end; i++, o++) out[i] = o;
    }
    return (this.cached = out);
  }

  /** Source offset of text[i] (0 <= i < text.length). */
  offsetAt(i: number): number {
    const at = this.at;
    let k = at.length - 1;
    while (k > 0 && at[k] > i) k--;
    return this.src[k] + (i - at[k]);
  }
}

/** Source offset of `m.text[i]`. */
export function offsetAt(m: MappedText, i: number): number {
  return m instanceof Mapped ? m.offsetAt(i) : m.offsets[i];
}

export interface LogicalLine extends MappedText {
  /** Offset just past the last source character that belongs to this logical line. */
  end: number;
}

/**
 * Reads the first logical line of an instruction starting at `start`: continuation lines
 * (escape + trailing blanks) are joined without a separator; comment lines and empty lines
 * inside a continuation are skipped, as BuildKit's parser does. CR before LF is dropped.
 */
export function readLogicalLine(source: string, start: number, escape: string): LogicalLine {
  let text = "";
  const at: number[] = [];
  const src: number[] = [];
  const done = (end: number): LogicalLine =>
    Object.assign(new Mapped(text, at, src), { end }) as Mapped & LogicalLine;
  let pos = start;
  let first = true;
  for (;;) {
    if (pos >= source.length) break;
    let eol = source.indexOf("\n", pos);
    if (eol < 0) eol = source.length;
    let lineEnd = eol;
    if (lineEnd > pos && source.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    const line = source.slice(pos, lineEnd);
    if (!first) {
      const trimmed = line.trimStart();
      if (trimmed === "" || trimmed.startsWith("#")) {
        pos = eol + 1;
        continue;
      }
    }
    first = false;
    const cont = continuationStart(line, escape);
    const keep = cont < 0 ? line.length : cont;
    if (keep > 0) {
      at.push(text.length);
      src.push(pos);
      text += keep === line.length ? line : line.slice(0, keep);
    }
    if (cont < 0) return done(pos + line.length);
    pos = eol + 1;
  }
  return done(Math.min(pos, source.length));
}

/** Index of the escape that continues this line, or -1 (BuildKit: `([^E])E[ \t]*$|^E[ \t]*$`). */
function continuationStart(line: string, escape: string): number {
  let end = line.length;
  while (end > 0 && (line[end - 1] === " " || line[end - 1] === "\t")) end--;
  if (end === 0 || line[end - 1] !== escape) return -1;
  if (end === 1) return 0;
  return line[end - 2] === escape ? -1 : end - 1;
}

/** Slices a mapped text, keeping the offset map. */
export function sliceMapped(m: MappedText, from: number, to = m.text.length): MappedText {
  if (!(m instanceof Mapped))
    return { text: m.text.slice(from, to), offsets: m.offsets.slice(from, to) };
  const len = m.text.length;
  if (from < 0) from = Math.max(0, len + from);
  if (to < 0) to = Math.max(0, len + to);
  from = Math.min(from, len);
  to = Math.min(to, len);
  const at: number[] = [];
  const src: number[] = [];
  if (to > from) {
    for (let k = 0; k < m.at.length; k++) {
      const runStart = m.at[k];
      const runEnd = k + 1 < m.at.length ? m.at[k + 1] : len;
      if (runEnd <= from || runStart >= to) continue;
      const s = Math.max(runStart, from);
      at.push(s - from);
      src.push(m.src[k] + (s - runStart));
    }
  }
  return new Mapped(m.text.slice(from, to), at, src);
}

export interface FlagWord extends MappedText {
  /** Source offset of the word's first character (including a leading quote). */
  start: number;
  /** Source offset just past the word's last character (including a closing quote). */
  end: number;
  /** Source offsets of the shell quotes that were removed, in order (open, close, ...). */
  quotes?: number[];
}

/** `/\s/.test(c)` for one character, without the regex for the usual ASCII cases. */
function isSpace(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Splits the leading `--flag` words of an instruction's arguments, as BuildKit's
 * extractBuilderFlags does: quotes are removed, the escape character escapes the next
 * character, the first word not starting with `--` (or a bare `--`) ends the flags.
 * Returns the flag words and the index in `args` where the rest begins.
 */
export function extractFlagWords(
  args: MappedText,
  escape: string,
): { words: FlagWord[]; rest: number } {
  const s = args.text;
  const words: FlagWord[] = [];
  const off = (i: number) => offsetAt(args, i);
  let pos = 0;
  for (;;) {
    while (pos < s.length && isSpace(s.charCodeAt(pos))) pos++;
    if (pos >= s.length) return { words, rest: s.length };
    if (!(s[pos] === "-" && s[pos + 1] === "-")) return { words, rest: pos };
    const wordStart = pos;
    // the kept characters, as stretches of `s` and runs of source offsets
    let text = "";
    let stretch = -1; // start in `s` of the stretch being kept
    const at: number[] = [];
    const src: number[] = [];
    let next = -1; // source offset a kept character must have to extend the current run
    const keep = (i: number) => {
      if (stretch < 0) stretch = i;
      const o = off(i);
      if (o !== next) {
        at.push(text.length + (i - stretch));
        src.push(o);
      }
      next = o + 1;
    };
    const cut = (i: number) => {
      if (stretch >= 0) text += s.slice(stretch, i);
      stretch = -1;
    };
    const quotes: number[] = [];
    let quote: string | null = null;
    let blankOK = false;
    for (; pos < s.length; pos++) {
      const ch = s[pos];
      if (quote === null) {
        if (isSpace(s.charCodeAt(pos))) break;
        if (ch === "'" || ch === '"') {
          cut(pos);
          quote = ch;
          blankOK = true;
          quotes.push(off(pos));
          continue;
        }
      } else if (ch === quote) {
        cut(pos);
        quote = null;
        quotes.push(off(pos));
        continue;
      }
      if (ch === escape) {
        cut(pos);
        if (pos + 1 >= s.length) continue;
        pos++;
      }
      keep(pos);
    }
    cut(pos);
    if (text === "--") return { words, rest: pos };
    if (blankOK || text.length > 0) {
      const word = new Mapped(text, at, src) as Mapped & FlagWord;
      word.start = off(wordStart);
      word.end = off(pos - 1) + 1;
      word.quotes = quotes;
      words.push(word);
    }
  }
}

/** Splits on whitespace, no quote processing (FROM arguments, instruction keywords). */
export function splitWhitespace(m: MappedText): MappedText[] {
  const out: MappedText[] = [];
  const re = /\S+/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(m.text))) {
    out.push(sliceMapped(m, match.index, match.index + match[0].length));
  }
  return out;
}
