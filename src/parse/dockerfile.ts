/**
 * Parse stage: text → stages of instructions with exact source offsets. dockerfile-ast
 * finds the instructions, directives and heredocs; the flag words and `--mount` options are
 * split here with BuildKit's own rules (dockerfile-ast does not follow continuations inside
 * a flag), every piece keeping its offsets in the original text.
 */
import { DockerfileParser, Heredoc, Instruction as AstInstruction, Onbuild } from "dockerfile-ast";
import { Diagnostic } from "../diagnostics";
import { applyAstMemo } from "./ast-memo";
import { KNOWN_KEYS, parseMountWord, RawMount } from "./mount";
import {
  extractFlagWords,
  FlagWord,
  LogicalLine,
  MappedText,
  readLogicalLine,
  sliceMapped,
  splitWhitespace,
} from "./words";

applyAstMemo();

export interface Flag {
  name: string;
  /** Value after `=` with quotes removed; null for a bare `--flag`. */
  value: string | null;
  word: FlagWord;
}

export interface Instruction {
  keyword: string;
  /** 1-based line where the instruction starts. */
  line: number;
  /** Source offsets of the whole instruction (heredoc bodies included). */
  start: number;
  end: number;
  /** First logical line (continuations joined), from the keyword on. */
  logical: LogicalLine;
  flags: Flag[];
  /** The arguments after the flags. */
  rest: MappedText;
  mounts: RawMount[];
  heredoc: boolean;
  /** For ONBUILD: the trigger instruction. */
  trigger?: Instruction;
  /**
   * For a trigger: its own errors (flags, mount options). BuildKit stores a trigger as text
   * and parses it when a child stage runs it, so they fail that child's build only.
   */
  errors?: Diagnostic[];
  /**
   * Set by a `# buildrace-ignore` comment in the comment lines right above the instruction:
   * [] silences every finding on it, else the rules, tools or cache keys/ids listed.
   */
  ignore?: string[];
}

export interface Stage {
  index: number;
  /** Lowercased `AS` name, if any. */
  name?: string;
  /** Base name as written (before global-ARG expansion). */
  baseName: string;
  /** `--platform` value as written. */
  platform?: string;
  from: Instruction;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  path: string;
  text: string;
  escape: string;
  globalArgs: Instruction[];
  stages: Stage[];
  /** Parse-level problems: these make BuildKit reject the whole file. */
  errors: Diagnostic[];
}

const KNOWN = new Set([
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
]);

/**
 * Mount option keys as the constants the code compares them with: the same string either
 * way, but V8 compares (and optimises for) constant strings fastest, and a key that is
 * sometimes a constant and sometimes a computed copy makes the hot loops deoptimise.
 */
const KEY_CONSTANT = new Map([...KNOWN_KEYS].map((k) => [k, k] as const));

/** Flags RUN accepts (BuildKit's parseRun pre-hooks); any other fails the whole file. */
const RUN_FLAGS = new Set(["mount", "network", "security", "device"]);

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function parseDockerfile(path: string, text: string): ParsedDockerfile {
  const errors: Diagnostic[] = [];
  const tooLong = firstTooLongLine(text);
  if (tooLong) {
    // BuildKit's line scanner stops there and the build fails; parsing on costs time for nothing
    errors.push({
      line: tooLong.line,
      message: `line ${tooLong.line} is ${tooLong.bytes} bytes long: dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`,
      severity: "error",
    });
    return { path, text, escape: "\\", globalArgs: [], stages: [], errors };
  }
  // dockerfile-ast does not know about a BOM; a space keeps every offset identical.
  const astText = text.startsWith("\uFEFF") ? " " + text.slice(1) : text;
  let ast = DockerfileParser.parse(astText);
  const escape = ast.getEscapeCharacter() === "`" ? "`" : "\\";
  // BuildKit does not continue a line that ends in two escapes; dockerfile-ast does.
  // BuildKit's heredoc words may start with a file descriptor (`3<<EOF`); dockerfile-ast needs `<<` first.
  // BuildKit breaks lines at LF only: a lone CR is a character (whitespace between words), not
  // a line break as it is for dockerfile-ast; line numbers count LFs, as BuildKit's do.
  // (Each rewrite only when its text can occur: most files need none and are parsed once.)
  const noLoneCr = astText.includes("\r") ? astText.replace(/\r(?!\n)/g, " ") : astText;
  const noEE = hideEscapedEscapes(noLoneCr, escape);
  const astFixed = noEE.includes("<<")
    ? noEE.replace(
        /(^|[ \t])(\d+)(?=<<)/gm,
        (_m, sep: string, fd: string) => sep + " ".repeat(fd.length),
      )
    : noEE;
  if (astFixed !== astText) ast = DockerfileParser.parse(astFixed);
  const lineStarts = computeLineStarts(text);
  const offsetOf = (p: { line: number; character: number }) =>
    (lineStarts[p.line] ?? text.length) + p.character;

  const seenDirectives = new Set<string>();
  for (const d of ast.getDirectives()) {
    const name = d.getName().toLowerCase();
    if (seenDirectives.has(name) && (name === "escape" || name === "syntax" || name === "check"))
      errors.push({
        line: d.getRange().start.line + 1,
        message: `only one ${name} parser directive can be used`,
        severity: "error",
      });
    else if (name === "escape" && !seenDirectives.has(name)) {
      const r = d.getValueRange();
      const value = r ? text.slice(offsetOf(r.start), offsetOf(r.end)) : "";
      if (!["\\", "`", ""].includes(value))
        errors.push({
          line: d.getRange().start.line + 1,
          message: `invalid escape token '${value}' does not match \` or \\`,
          severity: "error",
        });
    }
    seenDirectives.add(name);
  }

  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const node of ast.getInstructions()) {
    const ins = toInstruction(node, text, escape, offsetOf, errors);
    if (!KNOWN.has(ins.keyword)) {
      errors.push({
        line: ins.line,
        message: `unknown instruction: ${ins.keyword}`,
        severity: "error",
      });
      continue;
    }
    if (ins.keyword === "FROM") {
      stages.push(toStage(ins, stages.length, errors));
      continue;
    }
    if (stages.length === 0) {
      if (ins.keyword === "ARG") globalArgs.push(ins);
      else
        errors.push({
          line: ins.line,
          message: `${ins.keyword} is not allowed before the first FROM (only ARG is)`,
          severity: "error",
        });
      continue;
    }
    stages[stages.length - 1].instructions.push(ins);
  }
  const firstNamed = new Map<string, Stage>();
  for (const st of stages) {
    if (!st.name) continue;
    const first = firstNamed.get(st.name);
    if (first)
      // BuildKit's DuplicateStageName check: a warning; references resolve to the last one
      errors.push({
        line: st.from.line,
        message: `Duplicate stage name "${st.name}" (also on line ${first.from.line}), stage names should be unique: references resolve to the last one`,
        severity: "warning",
      });
    else firstNamed.set(st.name, st);
  }
  if (stages.length === 0 && !errors.some((e) => e.severity === "error")) {
    errors.push({
      line: 1,
      message:
        text.trim() === "" ? "the Dockerfile is empty" : "no FROM instruction: nothing to build",
      severity: "error",
    });
  }
  return { path, text, escape, globalArgs, stages, errors };
}

function toInstruction(
  node: AstInstruction,
  text: string,
  escape: string,
  offsetOf: (p: { line: number; character: number }) => number,
  errors: Diagnostic[],
): Instruction {
  const range = node.getRange();
  const start = offsetOf(range.start);
  const end = offsetOf(range.end);
  const logical = readLogicalLine(text, start, escape);
  const line = range.start.line + 1;
  const ins = fromLogical(logical, line, start, end, escape, errors);
  ins.ignore = ignoreAbove(text, start);
  const heredocs: Heredoc[] =
    logical.text.includes("<<") && // asking dockerfile-ast for heredocs parses every argument: only when possible
    typeof (node as any).getHeredocs === "function"
      ? (node as any).getHeredocs()
      : [];
  ins.heredoc = heredocs.length > 0;
  // BuildKit reads heredoc bodies to their terminator line; reaching EOF fails the file
  if (heredocs.some((h) => h.getName() !== "" && h.getDelimiterRange() === null))
    errors.push({ line, message: "unterminated heredoc", severity: "error" });
  if (ins.keyword === "ONBUILD" && node instanceof Onbuild) {
    const m = /^\S+\s+/.exec(logical.text);
    if (m) {
      const inner = Object.assign(sliceMapped(logical, m[0].length), { end: logical.end });
      const triggerErrors: Diagnostic[] = [];
      ins.trigger = fromLogical(inner, line, start, end, escape, triggerErrors);
      ins.trigger.heredoc = ins.heredoc;
      ins.trigger.errors = triggerErrors;
    }
    // BuildKit's parseOnBuild: these fail the whole file
    const t = ins.trigger?.keyword;
    const problem = !t
      ? "ONBUILD requires at least one argument"
      : t === "ONBUILD"
        ? "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
        : t === "FROM" || t === "MAINTAINER"
          ? `${t} isn't allowed as an ONBUILD trigger`
          : undefined;
    if (problem) errors.push({ line, message: problem, severity: "error" });
  }
  return ins;
}

function fromLogical(
  logical: LogicalLine,
  line: number,
  start: number,
  end: number,
  escape: string,
  errors: Diagnostic[],
): Instruction {
  const kw = /^\s*(\S+)/.exec(logical.text);
  const keyword = kw ? kw[1].toUpperCase() : "";
  const argsAt = kw ? kw[0].length : 0;
  const args = sliceMapped(logical, argsAt);
  const { words, rest } = extractFlagWords(args, escape);
  const flags: Flag[] = words.map((w) => {
    const eq = w.text.indexOf("=");
    return {
      name: (eq < 0 ? w.text.slice(2) : w.text.slice(2, eq)).toLowerCase(),
      value: eq < 0 ? null : w.text.slice(eq + 1),
      word: w,
    };
  });
  const mounts: RawMount[] = [];
  if (keyword === "RUN") {
    for (const f of flags) {
      if (!RUN_FLAGS.has(f.name))
        errors.push({ line, message: `unknown flag: --${f.name}`, severity: "error" });
      if (f.name !== "mount") continue;
      if (f.value === null) {
        errors.push({ line, message: "missing a value on flag: --mount", severity: "error" });
        continue;
      }
      const m = parseMountWord(f.word);
      if (m.error) errors.push({ line, message: m.error, severity: "error" });
      for (const field of m.fields) field.key = KEY_CONSTANT.get(field.key) ?? field.key;
      mounts.push(m);
    }
  }
  const restText = sliceMapped(args, rest);
  // every instruction has the same shape (trigger and ignore included), so code reading them
  // is optimised once
  return {
    keyword,
    line,
    start,
    end,
    logical,
    flags,
    rest: restText,
    mounts,
    heredoc: false,
    trigger: undefined,
    errors: undefined,
    ignore: undefined,
  };
}

function toStage(ins: Instruction, index: number, errors: Diagnostic[]): Stage {
  const words = splitWhitespace(ins.rest).map((w) => w.text);
  let name: string | undefined;
  if (words.length === 3 && words[1].toLowerCase() === "as") {
    name = words[2].toLowerCase();
    if (!STAGE_NAME.test(name))
      errors.push({
        line: ins.line,
        message: `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`,
        severity: "error",
      });
  } else if (words.length !== 1) {
    errors.push({
      line: ins.line,
      message: "FROM requires either one or three arguments (FROM <image> [AS <name>])",
      severity: "error",
    });
  }
  const platform = ins.flags.find((f) => f.name === "platform")?.value ?? undefined;
  for (const f of ins.flags)
    if (f.name !== "platform")
      errors.push({ line: ins.line, message: `unknown flag: --${f.name}`, severity: "error" });
  return { index, name, baseName: words[0] ?? "", platform, from: ins, instructions: [] };
}

/** BuildKit reads lines with a bufio.Scanner of the default size: 64 KiB with the line break. */
const MAX_LINE_BYTES = 65535;

/** The first physical line (split at LF, as BuildKit does) longer than BuildKit accepts. */
function firstTooLongLine(text: string): { line: number; bytes: number } | undefined {
  let line = 1;
  for (let pos = 0; pos < text.length; line++) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = text.length;
    // a UTF-16 unit is at most 3 UTF-8 bytes: only long lines need counting
    if ((eol - pos) * 3 > MAX_LINE_BYTES) {
      const bytes = Buffer.byteLength(text.slice(pos, eol), "utf8");
      if (bytes > MAX_LINE_BYTES) return { line, bytes };
    }
    pos = eol + 1;
  }
  return undefined;
}

/** Same-length text where a line ending in `EE` (not a continuation for BuildKit) no longer ends in E. */
function hideEscapedEscapes(text: string, escape: string): string {
  if (!text.includes(escape + escape)) return text; // the usual case: nothing to hide
  return text.replace(/[^\n]+/g, (line) => {
    const end = line.length - (/[ \t\r]*$/.exec(line) as RegExpExecArray)[0].length;
    return end >= 2 && line[end - 1] === escape && line[end - 2] === escape
      ? line.slice(0, end - 1) + "_" + line.slice(end)
      : line;
  });
}

const IGNORE = /^[ \t]*#[ \t]*buildrace-ignore(?:[ \t]*[:=][ \t]*(.*?))?[ \t]*\r?$/;

/** Reads `# buildrace-ignore[: a, b]` from the block of comment lines directly above `start`. */
function ignoreAbove(text: string, start: number): string[] | undefined {
  let end = text.lastIndexOf("\n", start - 1);
  while (end > 0) {
    const lineStart = text.lastIndexOf("\n", end - 1) + 1;
    const line = text.slice(lineStart, end);
    if (!/^[ \t]*#/.test(line)) return undefined;
    const m = IGNORE.exec(line);
    if (m)
      return (m[1] ?? "")
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter(Boolean);
    end = lineStart - 1;
  }
  return undefined;
}

/** Offsets where lines start; lines end at LF (a CR before it belongs to the line), as in BuildKit. */
export function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}
