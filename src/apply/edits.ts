/**
 * The one place edits are applied (as eslint's SourceCodeFixer): sort, drop exact
 * duplicates (two builds asking for the same change), refuse overlaps, splice.
 */
import { Edit } from "./types";

export function applyEdits(source: string, edits: Edit[]): { text: string } | { error: string } {
  for (const e of edits)
    if (!e || !Number.isInteger(e.start) || !Number.isInteger(e.end) || typeof e.text !== "string")
      return {
        error: `malformed edit ${String(JSON.stringify(e)).slice(0, 80)}: needs integer start, end and a text`,
      };
  const sorted = edits
    .map((e, i) => ({ ...e, i }))
    .sort((a, b) => a.start - b.start || a.end - b.end || a.i - b.i);
  const unique: Edit[] = [];
  for (const e of sorted) {
    if (e.start < 0 || e.end > source.length || e.start > e.end)
      return { error: `edit out of range (${e.start}-${e.end})` };
    const prev = unique[unique.length - 1];
    if (prev && prev.start === e.start && prev.end === e.end && prev.text === e.text) continue;
    if (prev && e.start < prev.end)
      return { error: `overlapping edits at line ${lineOf(source, e.start)}` };
    unique.push(e);
  }
  let out = "";
  let pos = 0;
  for (const e of unique) {
    out += source.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return { text: out + source.slice(pos) };
}

export function lineOf(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source[i] === "\n") line++;
  return line;
}
