/**
 * `--format sarif`: SARIF 2.1.0 for code scanning (GitHub, Azure DevOps, IDE viewers). One
 * result per race per file, the suggested fix as SARIF `fixes` (text replacements computed
 * from the verified rewrite of `buildrace fix`), analysis problems as `buildrace-error`
 * results plus tool execution notifications.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { pathToFileURL } from "url";
import { diffLines } from "diff";
import { FileFix } from "../apply/fix";
import { Diagnostic } from "../diagnostics";
import { fixOptionLines, fixOptions, RULE_DOCS, RuleDoc, RuleId } from "../knowledge/explain";
import { computeLineStarts } from "../parse/dockerfile";
import { AnalysisResult, FileResult } from "../pipeline";
import { Race, RaceUse } from "../races/races";
import { stageLabel } from "../resolve/resolve";

export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";
const SRCROOT = "%SRCROOT%";

export type SarifLevel = "error" | "warning" | "note";

export interface SarifRegion {
  startLine: number;
  startColumn?: number;
  endLine?: number;
  endColumn?: number;
}

export interface SarifArtifactLocation {
  uri: string;
  uriBaseId?: string;
}

export interface SarifLocation {
  id?: number;
  physicalLocation: { artifactLocation: SarifArtifactLocation; region?: SarifRegion };
  message?: { text: string };
}

export interface SarifReplacement {
  deletedRegion: Required<SarifRegion>;
  insertedContent?: { text: string };
}

export interface SarifFix {
  description: { text: string };
  artifactChanges: { artifactLocation: SarifArtifactLocation; replacements: SarifReplacement[] }[];
}

export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: SarifLevel;
  message: { text: string };
  locations: SarifLocation[];
  relatedLocations?: SarifLocation[];
  partialFingerprints?: Record<string, string>;
  fixes?: SarifFix[];
  suppressions?: { kind: "inSource"; justification?: string }[];
  properties?: Record<string, unknown>;
}

export interface SarifRule {
  id: string;
  name: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  help: { text: string; markdown: string };
  defaultConfiguration: { level: SarifLevel };
  properties: { tags: string[]; precision: string; "problem.severity": string };
}

export interface SarifNotification {
  level: "error" | "warning";
  message: { text: string };
  locations?: SarifLocation[];
}

export interface SarifLog {
  $schema: string;
  version: "2.1.0";
  runs: {
    tool: {
      driver: {
        name: string;
        version: string;
        semanticVersion: string;
        informationUri: string;
        rules: SarifRule[];
      };
    };
    invocations: {
      executionSuccessful: boolean;
      toolExecutionNotifications: SarifNotification[];
    }[];
    originalUriBaseIds: Record<string, { uri: string }>;
    columnKind: "utf16CodeUnits";
    results: SarifResult[];
  }[];
}

export interface SarifOptions {
  /** Verified rewrites from planFixes, attached to the results of their file as `fixes`. */
  fixes?: FileFix[];
  /** The strategy the fixes were computed with (named in the fix descriptions). */
  strategy?: string;
  /** Directory relative paths are relative to (default: the working directory). */
  root?: string;
}

/** name, version and homepage of this package (package.json, found upwards from here). */
export function packageInfo(): { name: string; version: string; homepage: string } {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as {
        name?: string;
        version?: string;
        homepage?: string;
      };
      if (pkg.name === "buildrace")
        return {
          name: pkg.name,
          version: pkg.version ?? "0.0.0",
          homepage: pkg.homepage ?? "https://www.npmjs.com/package/buildrace",
        };
    }
    dir = path.dirname(dir);
  }
  return {
    name: "buildrace",
    version: "0.0.0",
    homepage: "https://www.npmjs.com/package/buildrace",
  };
}

const RULE_ORDER: RuleId[] = ["shared-cache-race", "nested-cache-mount", "buildrace-error"];

const LEVEL_OF_SAFETY: Record<Race["safety"], SarifLevel> = {
  unsafe: "error",
  unknown: "error",
  serialising: "warning",
  safe: "note",
};

export function toSarif(result: AnalysisResult, opts: SarifOptions = {}): SarifLog {
  const info = packageInfo();
  const root = path.resolve(opts.root ?? process.cwd());
  const fixByPath = new Map<string, FileFix>();
  for (const f of opts.fixes ?? [])
    if (!f.error && f.after !== f.before) fixByPath.set(path.resolve(f.path), f);

  const results: SarifResult[] = [];
  const notifications: SarifNotification[] = [];
  for (const f of result.files) {
    for (const d of f.diagnostics) {
      results.push(diagnosticResult(f, d, root));
      if (d.severity === "error")
        notifications.push({
          level: "error",
          message: { text: `${f.path}${d.line ? `:${d.line}` : ""}: ${d.message}` },
          locations: [location(d.file ?? f.path, root, d.line)],
        });
    }
    const fix = fixByPath.get(path.resolve(f.path));
    const replacements = fix ? replacementsOf(fix.before, fix.after) : [];
    const seen = new Set<Race>();
    const fileResults: { race: Race; result: SarifResult; owned: Replacement[] }[] = [];
    for (const race of f.races) {
      if (seen.has(race)) continue;
      seen.add(race);
      const r = raceResult(race, f, root);
      const ranges = race.uses
        .filter((u) => samePath(u.step.build.file.path, f.path))
        .map((u) => [u.mount.raw.start, u.mount.raw.end] as const);
      const owned = replacements.filter((x) => ranges.some(([s, e]) => x.start <= e && x.end >= s));
      fileResults.push({ race, result: r, owned });
      results.push(r);
    }
    if (fix && replacements.length) attachFixes(fix, fileResults, replacements, root, opts);
  }

  return {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: info.name,
            version: info.version,
            semanticVersion: info.version,
            informationUri: info.homepage,
            rules: RULE_ORDER.map((id) => ruleDescriptor(RULE_DOCS[id])),
          },
        },
        invocations: [
          {
            executionSuccessful: notifications.length === 0,
            toolExecutionNotifications: notifications,
          },
        ],
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(root).href.replace(/\/?$/, "/") } },
        columnKind: "utf16CodeUnits",
        results,
      },
    ],
  };
}

function ruleDescriptor(doc: RuleDoc): SarifRule {
  const name = doc.id
    .split("-")
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("");
  const seen = doc.seen.length
    ? `\n\nSeen in the field:\n${doc.seen.map((s) => `  ${s}`).join("\n")}`
    : "";
  const seenMd = doc.seen.length
    ? `\n\nSeen in the field:\n\n${doc.seen.map((s) => `- \`${s}\``).join("\n")}`
    : "";
  let options: string[];
  let optionsMd: string;
  if (doc.id === "shared-cache-race") {
    options = fixOptionLines("lock");
    optionsMd = [
      "| fix | what it does | cost |",
      "| --- | --- | --- |",
      ...fixOptions("lock").map(
        (o) =>
          `| \`${o.option}\`${o.recommended ? " (recommended)" : ""} | ${o.does} | ${o.cost} |`,
      ),
    ].join("\n");
    options.push(
      "",
      "`buildrace fix` (--strategy auto) locks unsafe and unknown caches, splits serialising ones " +
        "and leaves caches that are safe with concurrent writers shared. `buildrace explain <tool>` " +
        "tells why a cache is classified as it is.",
    );
    optionsMd +=
      "\n\n`buildrace fix` (`--strategy auto`) locks unsafe and unknown caches, splits serialising " +
      "ones and leaves caches that are safe with concurrent writers shared; `buildrace explain <tool>` " +
      "tells why.";
  } else if (doc.id === "nested-cache-mount") {
    options = [
      "  lock (recommended): add sharing=locked to the outer cache.",
      "  move: mount the inner cache outside the outer one.",
      "  upgrade: runc 1.2.3 or later.",
    ];
    optionsMd = options.map((l) => `- ${l.trim()}`).join("\n");
  } else {
    options = ["  Correct the reported line: `docker build` fails on the same problem."];
    optionsMd = options[0].trim();
  }
  return {
    id: doc.id,
    name,
    shortDescription: { text: doc.short },
    fullDescription: { text: doc.full },
    help: {
      text: `${doc.full}${seen}\n\nFix options:\n${options.join("\n")}\n`,
      markdown: `${doc.full}${seenMd}\n\n**Fix options**\n\n${optionsMd}\n`,
    },
    // Each result sets its own level (from the cache's safety); this is the ceiling.
    defaultConfiguration: { level: "error" },
    properties: {
      tags:
        doc.id === "buildrace-error"
          ? ["buildkit", "dockerfile"]
          : ["buildkit", "dockerfile", "concurrency", "cache"],
      precision: "high",
      "problem.severity": "error",
    },
  };
}

const posixPath = (p: string) => p.split("\\").join("/");

function samePath(a: string, b: string): boolean {
  return path.resolve(a) === path.resolve(b);
}

function artifact(file: string, root: string): SarifArtifactLocation {
  const abs = path.resolve(file);
  const rel = path.relative(root, abs);
  if (rel && !rel.startsWith("..") && !path.isAbsolute(rel))
    return { uri: encodeURI(posixPath(rel)), uriBaseId: SRCROOT };
  return { uri: pathToFileURL(abs).href };
}

function location(file: string, root: string, line?: number, endLine?: number): SarifLocation {
  const loc: SarifLocation = { physicalLocation: { artifactLocation: artifact(file, root) } };
  if (line && line > 0) {
    loc.physicalLocation.region = { startLine: line };
    if (endLine && endLine > line) loc.physicalLocation.region.endLine = endLine;
  }
  return loc;
}

function diagnosticResult(f: FileResult, d: Diagnostic, root: string): SarifResult {
  return {
    ruleId: "buildrace-error",
    ruleIndex: RULE_ORDER.indexOf("buildrace-error"),
    level: d.severity === "error" ? "error" : "warning",
    message: { text: d.message },
    locations: [location(d.file ?? f.path, root, d.line)],
    properties: { severity: d.severity },
  };
}

/** Escapes text for a SARIF plain-text message, where `[...](n)` is a link. */
function msg(s: string): string {
  return s.replace(/[[\]]/g, (c) => `\\${c}`);
}

function useWho(u: RaceUse): string {
  const parts = [`stage ${stageLabel(u.step.stage)}`];
  if (u.step.build.name !== "default") parts.push(`build ${u.step.build.name}`);
  if (u.step.build.platforms.length > 1) parts.push(u.step.platform);
  return parts.join(", ");
}

/** The line range of a use: from the RUN's first line to the line where its mount ends. */
function useLines(u: RaceUse): { line: number; endLine: number } {
  const text = u.step.build.file.text;
  const starts = computeLineStarts(text);
  let endLine = u.step.instruction.line;
  while (endLine < starts.length && starts[endLine] < u.mount.raw.end) endLine++;
  return { line: u.step.instruction.line, endLine };
}

function raceResult(race: Race, f: FileResult, root: string): SarifResult {
  // One location per distinct use (file, line, stage, build, platform), this file's first.
  const distinct = new Map<string, RaceUse>();
  const sorted = [...race.uses].sort(
    (a, b) =>
      Number(!samePath(a.step.build.file.path, f.path)) -
        Number(!samePath(b.step.build.file.path, f.path)) ||
      a.step.build.file.path.localeCompare(b.step.build.file.path) ||
      a.step.instruction.line - b.step.instruction.line ||
      a.step.build.name.localeCompare(b.step.build.name) ||
      a.step.platform.localeCompare(b.step.platform),
  );
  for (const u of sorted) {
    const k = `${path.resolve(u.step.build.file.path)}\u0000${u.step.instruction.line}\u0000${useWho(u)}`;
    if (!distinct.has(k)) distinct.set(k, u);
  }
  const uses = [...distinct.values()];
  const primary = uses[0];
  const others = uses.slice(1);
  const where = (u: RaceUse) =>
    samePath(u.step.build.file.path, f.path)
      ? `line ${u.step.instruction.line}`
      : `${posixPath(u.step.build.file.path)}:${u.step.instruction.line}`;
  const related: SarifLocation[] = others.map((u, i) => {
    const { line, endLine } = useLines(u);
    return {
      id: i + 1,
      ...location(u.step.build.file.path, root, line, endLine),
      message: { text: `other use of ${race.key}: ${useWho(u)}` },
    };
  });
  const links = others.map((u, i) => `[${msg(`${where(u)} (${useWho(u)})`)}](${i + 1})`);
  const self = race.selfRace.platforms
    ? " The same step also runs once per platform, at the same time."
    : race.selfRace.builds
      ? " The same step also runs in several builds, at the same time."
      : "";
  const subject =
    race.rule === "nested-cache-mount"
      ? `A cache is mounted inside the shared cache ${msg(race.key)} (${race.kind.tool}) by steps that can run at the same time`
      : `Cache ${msg(race.key)} (${race.kind.tool}, ${race.safety}) is mounted with sharing=shared by steps that can run at the same time`;
  const text =
    `${subject}: ${msg(where(primary))} (${msg(useWho(primary))})` +
    (links.length ? ` races with ${links.join(", ")}.` : ".") +
    self +
    ` ${msg(capitalise(race.reason))}.` +
    ` Fix: ${race.fix === "none" ? "none needed" : race.fix}.`;
  const { line, endLine } = useLines(primary);
  const stages = [...new Set(uses.map((u) => stageLabel(u.step.stage)))];
  const res: SarifResult = {
    ruleId: race.rule,
    ruleIndex: RULE_ORDER.indexOf(race.rule),
    level: LEVEL_OF_SAFETY[race.safety],
    message: { text },
    locations: [location(f.path, root, line, endLine)],
    partialFingerprints: {
      "buildraceRace/v1": createHash("sha256")
        .update([race.rule, race.key, posixPath(f.path), ...stages.sort()].join("\u0000"))
        .digest("hex")
        .slice(0, 32),
    },
    properties: {
      key: race.key,
      safety: race.safety,
      tool: race.kind.tool,
      fix: race.fix,
      reason: race.reason,
      stages,
    },
  };
  if (related.length) res.relatedLocations = related;
  if (race.suppressed)
    res.suppressions = [{ kind: "inSource", justification: "# buildrace-ignore" }];
  return res;
}

function capitalise(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/** A text replacement in the original file: offsets [start, end) replaced by `text`. */
export interface Replacement {
  start: number;
  end: number;
  text: string;
}

/**
 * Minimal replacements turning `before` into `after`: changed line blocks, each trimmed to
 * the characters that differ (line by line when a block keeps its number of lines).
 */
export function replacementsOf(before: string, after: string): Replacement[] {
  const out: Replacement[] = [];
  let offset = 0;
  const parts = diffLines(before, after);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (!p.added && !p.removed) {
      offset += p.value.length;
      continue;
    }
    let removed = "";
    let added = "";
    while (i < parts.length && (parts[i].added || parts[i].removed)) {
      if (parts[i].removed) removed += parts[i].value;
      else added += parts[i].value;
      i++;
    }
    i--;
    const rl = splitKeep(removed);
    const al = splitKeep(added);
    if (rl.length === al.length && rl.length > 1) {
      let o = offset;
      for (let k = 0; k < rl.length; k++) {
        const r = trimmed(rl[k], al[k], o);
        if (r) out.push(r);
        o += rl[k].length;
      }
    } else {
      const r = trimmed(removed, added, offset);
      if (r) out.push(r);
    }
    offset += removed.length;
  }
  return out;
}

function splitKeep(s: string): string[] {
  return s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function trimmed(removed: string, added: string, offset: number): Replacement | undefined {
  if (removed === added) return undefined;
  let p = 0;
  while (p < removed.length && p < added.length && removed[p] === added[p]) p++;
  let s = 0;
  while (
    s < removed.length - p &&
    s < added.length - p &&
    removed[removed.length - 1 - s] === added[added.length - 1 - s]
  )
    s++;
  return {
    start: offset + p,
    end: offset + removed.length - s,
    text: added.slice(p, added.length - s),
  };
}

/** A SARIF region (1-based lines and UTF-16 columns, end exclusive) for offsets in `text`. */
export function regionOf(text: string, start: number, end: number): Required<SarifRegion> {
  const starts = computeLineStarts(text);
  const bom = text.startsWith("\uFEFF") ? 1 : 0;
  const pos = (o: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    // A BOM is not a character of the first line.
    return { line: lo + 1, column: o - starts[lo] + 1 - (lo === 0 ? Math.min(bom, o) : 0) };
  };
  const a = pos(start);
  const b = pos(end);
  return { startLine: a.line, startColumn: a.column, endLine: b.line, endColumn: b.column };
}

const FIX_DESCRIPTION: Record<string, string> = {
  lock: "add sharing=locked to every racing use of this cache",
  split: "give each racing stage (and platform) its own cache id",
  merge: "merge the racing stages into one (falls back to lock when that is not safe)",
};

function attachFixes(
  fix: FileFix,
  fileResults: { race: Race; result: SarifResult; owned: Replacement[] }[],
  replacements: Replacement[],
  root: string,
  opts: SarifOptions,
): void {
  const ownedAny = new Set(fileResults.flatMap((r) => r.owned));
  // Edits outside every racing mount (an inserted ARG line, moved instructions) belong to
  // every result that has edits of its own, or to every result needing a fix when none has.
  const shared = replacements.filter((x) => !ownedAny.has(x));
  const strategy = opts.strategy ?? "auto";
  for (const fr of fileResults) {
    if (fr.race.suppressed) continue;
    let mine = fr.owned;
    if (mine.length) mine = [...mine, ...shared];
    else if (ownedAny.size === 0 && fr.race.safety !== "safe") mine = shared;
    if (!mine.length) continue;
    mine = [...new Set(mine)].sort((a, b) => a.start - b.start);
    const chosen = strategy === "auto" ? fr.race.fix : strategy;
    const what = FIX_DESCRIPTION[chosen] ?? "rewrite the racing cache mounts";
    fr.result.fixes = [
      {
        description: {
          text: `buildrace fix --strategy ${strategy}: ${what} (${fr.race.key})`,
        },
        artifactChanges: [
          {
            artifactLocation: artifact(fix.path, root),
            replacements: mine.map((x) => {
              const rep: SarifReplacement = { deletedRegion: regionOf(fix.before, x.start, x.end) };
              if (x.text) rep.insertedContent = { text: x.text };
              return rep;
            }),
          },
        ],
      },
    ];
  }
}
