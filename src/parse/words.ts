/**
 * Source-mapped text for one instruction: BuildKit joins continuation lines into one
 * logical line and then splits flag words with shell-like quote removal. Every character
 * we hand on remembers its offset in the original file, so rewrites can edit the exact
 * bytes the user wrote (quotes, continuations and all).
 */

/** A string whose characters each map to an offset in the source text. */
export interface MappedText {
  text: string;
  /** offsets[i] is the source offset of text[i]. */
  offsets: number[];
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
  const chars: string[] = [];
  const offsets: number[] = [];
  let pos = start;
  let first = true;
  for (;;) {
    if (pos >= source.length) break;
    let eol = source.indexOf("\n", pos);
    if (eol < 0) eol = source.length;
    let lineEnd = eol;
    if (lineEnd > pos && source[lineEnd - 1] === "\r") lineEnd--;
    const line = source.slice(pos, lineEnd);
    const trimmed = line.trimStart();
    if (!first && (trimmed === "" || trimmed.startsWith("#"))) {
      pos = eol + 1;
      continue;
    }
    first = false;
    const cont = continuationStart(line, escape);
    const keep = cont < 0 ? line.length : cont;
    for (let i = 0; i < keep; i++) {
      chars.push(line[i]);
      offsets.push(pos + i);
    }
    if (cont < 0) {
      return { text: chars.join(""), offsets, end: pos + line.length };
    }
    pos = eol + 1;
  }
  return { text: chars.join(""), offsets, end: Math.min(pos, source.length) };
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
  return { text: m.text.slice(from, to), offsets: m.offsets.slice(from, to) };
}

export interface FlagWord extends MappedText {
  /** Source offset of the word's first character (including a leading quote). */
  start: number;
  /** Source offset just past the word's last character (including a closing quote). */
  end: number;
  /** Source offsets of the shell quotes that were removed, in order (open, close, ...). */
  quotes?: number[];
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
  let pos = 0;
  for (;;) {
    while (pos < s.length && /\s/.test(s[pos])) pos++;
    if (pos >= s.length) return { words, rest: s.length };
    if (!(s[pos] === "-" && s[pos + 1] === "-")) return { words, rest: pos };
    const wordStart = pos;
    const chars: string[] = [];
    const offs: number[] = [];
    const quotes: number[] = [];
    let quote: string | null = null;
    let blankOK = false;
    for (; pos < s.length; pos++) {
      const ch = s[pos];
      if (quote === null) {
        if (/\s/.test(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOK = true;
          quotes.push(args.offsets[pos]);
          continue;
        }
      } else if (ch === quote) {
        quote = null;
        quotes.push(args.offsets[pos]);
        continue;
      }
      if (ch === escape) {
        if (pos + 1 >= s.length) continue;
        pos++;
      }
      chars.push(s[pos]);
      offs.push(args.offsets[pos]);
    }
    const text = chars.join("");
    if (text === "--") return { words, rest: pos };
    if (blankOK || text.length > 0) {
      words.push({
        text,
        offsets: offs,
        start: args.offsets[wordStart],
        end: args.offsets[pos - 1] + 1,
        quotes,
      });
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
