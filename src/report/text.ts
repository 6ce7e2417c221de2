/** Human-readable report: one block per race, file:line first, then a summary line. */
import { AnalysisResult, FileResult } from "../pipeline";
import { Race } from "../races/races";
import { stageLabel } from "../resolve/resolve";

export interface TextOptions {
  color: boolean;
  quiet?: boolean;
  /** Also list the parallel cache-step pairs and the cache runs that race with nothing. */
  verbose?: boolean;
  /** Elapsed time, shown in the summary line. */
  elapsedMs?: number;
}

const FIX_TEXT: Record<Race["fix"], string> = {
  lock: "lock: add sharing=locked to every use of this cache",
  split: "split: give each stage (and platform) its own cache id",
  none: "none needed: the tool is safe with concurrent writers",
};

export function toText(result: AnalysisResult, opts: TextOptions): string {
  const c = colors(opts.color);
  const out: string[] = [];
  const printed = new Set<Race>();
  for (const f of result.files) {
    for (const d of f.diagnostics) {
      if (opts.quiet && d.severity !== "error") continue;
      const sev = d.severity === "error" ? c.red("error") : c.yellow("warning");
      out.push(`${f.path}${d.line ? `:${d.line}` : ""}: ${sev}: ${d.message}`);
    }
    for (const r of f.races) {
      if (printed.has(r)) continue;
      printed.add(r);
      if (r.suppressed || (opts.quiet && r.safety === "safe")) continue;
      out.push(...raceBlock(r, c));
    }
  }
  const summary = summaryLine(countsOf(result.files), opts.elapsedMs);
  if (opts.verbose) for (const f of result.files) out.push(...verboseLines(f, c));
  if (out.length) out.push("");
  out.push(summary);
  return out.join("\n") + "\n";
}

/** `--verbose`: which cache steps may overlap, and the cache runs that race with nothing. */
function verboseLines(f: FileResult, c: ReturnType<typeof colors>): string[] {
  const lines: string[] = [];
  const stageAt = new Map<number, string>();
  for (const cr of f.cacheRuns) stageAt.set(cr.instruction.line, stageLabel(cr.stage));
  const pairs = new Set<string>();
  for (const p of f.pairs) {
    const [x, y] = [p.a.instruction.line, p.b.instruction.line].sort((m, n) => m - n);
    pairs.add(`${x},${y}`);
  }
  const sorted = [...pairs]
    .map((k) => k.split(",").map(Number))
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const at = (l: number) => `line ${l} (stage ${stageAt.get(l) ?? "?"})`;
  if (sorted.length) {
    lines.push(`${f.path}: ${c.dim("cache steps that may run at the same time:")}`);
    for (const [x, y] of sorted)
      lines.push(
        x === y ? `    ${at(x)} with another instance of itself` : `    ${at(x)} and ${at(y)}`,
      );
  }
  const racing = new Set(
    f.races.flatMap((r) =>
      r.uses.filter((u) => u.step.build.file === f.parsed).map((u) => u.step.instruction.line),
    ),
  );
  const quiet = new Map<number, string>();
  for (const cr of f.cacheRuns) {
    if (racing.has(cr.instruction.line)) continue;
    const why = !cr.built
      ? "stage not built"
      : cr.mounts.every((m) => m.spec.sharing !== "shared")
        ? "not shared"
        : "no overlapping use of its keys";
    const keys = cr.mounts.map(
      (m) => `${m.key}${m.spec.sharing !== "shared" ? ` (${m.spec.sharing})` : ""}`,
    );
    if (!quiet.has(cr.instruction.line) || why !== "stage not built")
      quiet.set(cr.instruction.line, `    ${at(cr.instruction.line)}: ${keys.join(", ")} — ${why}`);
  }
  if (quiet.size) {
    lines.push(`${f.path}: ${c.dim("cache runs that race with nothing:")}`);
    for (const l of [...quiet.keys()].sort((a, b) => a - b)) lines.push(quiet.get(l) as string);
  }
  return lines;
}

function raceBlock(r: Race, c: ReturnType<typeof colors>): string[] {
  const first = [...r.uses].sort((a, b) => a.step.instruction.line - b.step.instruction.line)[0];
  const sev =
    r.safety === "safe"
      ? c.dim("info")
      : r.safety === "serialising"
        ? c.yellow("slow")
        : c.red(r.safety);
  const lines: string[] = [];
  lines.push(
    `${first.step.build.file.path}:${first.step.instruction.line}: ${sev}: ${r.rule} on cache ${c.bold(r.key)} (${r.kind.tool})`,
  );
  const seen = new Set<string>();
  for (const u of r.uses) {
    const where = `${u.step.build.file.path}:${u.step.instruction.line}`;
    const who =
      `stage ${stageLabel(u.step.stage)}` +
      (u.step.build.name !== "default" ? `, build ${u.step.build.name}` : "");
    const plat = u.step.build.platforms.length > 1 ? `, ${u.step.platform}` : "";
    const k = `${where} ${who}${plat}`;
    if (seen.has(k)) continue;
    seen.add(k);
    lines.push(`    ${where}  ${who}${plat}`);
  }
  if (r.selfRace.platforms)
    lines.push("    (the same step runs once per platform, at the same time)");
  if (r.selfRace.builds) lines.push("    (the same step runs in several builds, at the same time)");
  if (r.lockedUses.length) {
    const ls = [...new Set(r.lockedUses.map((u) => u.step.instruction.line))].join(", ");
    lines.push(
      `    partly locked: line ${ls} locks this cache, but the uses above stay shared and still race; a shared use that meets the locked one gets a separate empty copy`,
    );
  }
  lines.push(`    why: ${r.reason}`);
  lines.push(`    fix: ${FIX_TEXT[r.fix]}`);
  return lines;
}

function colors(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { red: wrap("31"), yellow: wrap("33"), bold: wrap("1"), dim: wrap("2") };
}

/** A report's totals (the summary line); a bulk run's chunks add theirs up. */
export interface Counts {
  files: number;
  errors: number;
  warnings: number;
  /** Distinct races reported and not suppressed; of those, the ones that need a fix. */
  races: number;
  failing: number;
  suppressed: number;
}

export function countsOf(files: FileResult[]): Counts {
  const printed = new Set<Race>();
  let errors = 0;
  let warnings = 0;
  for (const f of files) {
    for (const d of f.diagnostics) {
      if (d.severity === "error") errors++;
      else warnings++;
    }
    for (const r of f.races) printed.add(r);
  }
  let races = 0;
  let failing = 0;
  let suppressed = 0;
  for (const r of printed) {
    if (r.suppressed) suppressed++;
    else {
      races++;
      if (r.safety !== "safe") failing++;
    }
  }
  return { files: files.length, errors, warnings, races, failing, suppressed };
}

/** `check`'s exit code (SPEC §5): 2 when a file has an error, 1 when a race needs fixing, else 0. */
export function exitOf(c: Counts): number {
  return c.errors ? 2 : c.failing ? 1 : 0;
}

/** The text report's last line. */
export function summaryLine(c: Counts, elapsedMs?: number): string {
  const s = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return (
    `${s(c.files, "file")}, ` +
    `${s(c.failing, "race")} to fix` +
    (c.races > c.failing ? `, ${s(c.races - c.failing, "safe shared cache")}` : "") +
    (c.suppressed ? `, ${c.suppressed} suppressed` : "") +
    `, ${s(c.errors, "error")}` +
    (c.warnings ? `, ${s(c.warnings, "warning")}` : "") +
    (elapsedMs !== undefined ? ` (${(elapsedMs / 1000).toFixed(2)}s)` : "")
  );
}
