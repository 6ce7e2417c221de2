/**
 * The transform contract, shared by bundled transforms (transforms/*.ts) and user modules
 * passed with `--transform`: a pure function from one file and its findings to text edits.
 * It never reads or writes files; the apply engine merges, verifies and writes.
 */
import type { MountField } from "../parse/mount";

export type Sharing = "shared" | "private" | "locked";

/**
 * One `--mount` option as written: `start`/`end` (the whole field), `valueStart`/`valueEnd`
 * (its value; null for a bare flag such as `ro`) are offsets into `TransformFile.source`,
 * end exclusive; `valueContiguous` says the value can be replaced in place.
 */
export type MountOption = MountField;

export interface StageInfo {
  index: number;
  name?: string;
  /** Name or index, as reports show it. */
  label: string;
  fromLine: number;
  /** Offset right after the FROM instruction (before its line break): where to insert a line. */
  afterFrom: number;
  /**
   * ARGs this stage's own instructions declare, in order. An `ONBUILD ARG` the stage inherits
   * from its base is not listed (transforms treat the name as undeclared: they may declare
   * it again, which is harmless, or decline a rewrite they would otherwise make).
   */
  args: { name: string; line: number }[];
  /** Base as written in FROM (before expansion) and its --platform flag. */
  baseName: string;
  platform?: string;
  instructions: InstructionInfo[];
}

export interface InstructionInfo {
  keyword: string;
  line: number;
  /** Offsets of the instruction, from its keyword to its end (continuations and heredocs included). */
  start: number;
  end: number;
  flags: { name: string; value: string | null; start: number; end: number }[];
}

/** One cache mount of one RUN, as used by one build on one platform. */
export interface MountUse {
  line: number;
  stage: StageInfo;
  build: string;
  platform: string;
  id: string;
  explicitId: boolean;
  target: string;
  sharing: Sharing;
  key: string;
  options: MountOption[];
  /** Offset right after the mount's last option: where `,key=value` is appended. */
  appendAt: number;
}

export interface Finding {
  rule: "shared-cache-race" | "nested-cache-mount";
  key: string;
  safety: "unsafe" | "serialising" | "safe" | "unknown";
  tool: string;
  /** The knowledge base's suggestion. */
  fix: "lock" | "split" | "none";
  reason: string;
  /** The racing uses in this file. */
  uses: MountUse[];
  /** Every use in this file (racing or not) of this key or of a racing use's key (an unresolved
   *  id races under another use's key), e.g. to lock them all. */
  keyUses: MountUse[];
  /** The same RUN overlaps another instance of itself across platforms / builds. */
  selfRace: { platforms: boolean; builds: boolean };
  /** Builds that use this file (split must keep ids valid for all). */
  builds: string[];
  /** A build arg declared in the stage that tells the racing builds apart (split by `-$ARG`). */
  splitArg?: string;
  /** Every file with a racing use (more than one: the race crosses Dockerfiles). */
  files: string[];
}

export interface TransformFile {
  path: string;
  source: string;
  eol: "\n" | "\r\n";
  stages: StageInfo[];
  /** The target stage of each build using this file (by build name). */
  targets: Record<string, number>;
  /** A short readable name for this file, unique among the files of a run where possible: its
   *  build's name when one build uses it, else taken from its path (e.g. `api` for api/Dockerfile). */
  tag: string;
}

export interface Edit {
  start: number;
  end: number;
  text: string;
}

export interface TransformResult {
  edits: Edit[];
  /** One line per decision worth telling the user (fallbacks, refusals, choices). */
  notes?: string[];
}

export interface TransformApi {
  /** Sets `key=value` on a mount: replaces the value if the option exists, else appends it. */
  setOption(use: MountUse, key: string, value: string): Edit;
  /** `sharing=locked` on a use, or null when it is already locked. */
  lock(use: MountUse): Edit | null;
  /** Inserts a new line after `offset` (use `stage.afterFrom`), in the file's line ending. */
  insertLineAfter(offset: number, line: string): Edit;
  /** The bundled transforms, to compose or fall back on (always `{ edits, notes }`). */
  transforms: Record<
    "lock" | "split" | "merge",
    (file: TransformFile, findings: Finding[], api: TransformApi) => TransformResult
  >;
}

export type Transform = (
  file: TransformFile,
  findings: Finding[],
  api: TransformApi,
) => TransformResult | Edit[];
