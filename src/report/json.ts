/** `--format json`: the output contract of SPEC §4. */
import { FileResult, AnalysisResult } from "../pipeline";
import { Race } from "../races/races";
import { stageLabel } from "../resolve/resolve";

export interface JsonUse {
  line: number;
  stage: string;
  build: string;
  file?: string;
}

export interface JsonRace {
  rule: Race["rule"];
  key: string;
  safety: Race["safety"];
  tool: string;
  uses: JsonUse[];
  fix: Race["fix"];
  reason: string;
  /** Lines of locked/private uses of this key that overlap the racing ones (half-locked group). */
  lockedUses?: JsonUse[];
  suppressed?: boolean;
}

export interface JsonFile {
  path: string;
  builds: { name: string; target: string; platforms: string[] }[];
  cacheRuns: {
    line: number;
    stage: string;
    build: string;
    built: boolean;
    mounts: { id: string; target: string; sharing: string; key: string; resolved: boolean }[];
  }[];
  parallel: [number, number][];
  races: JsonRace[];
  errors: { line: number; message: string; severity: "error" | "warning" }[];
}

export interface JsonReport {
  version: 1;
  files: JsonFile[];
}

export function toJson(result: AnalysisResult): JsonReport {
  return { version: 1, files: result.files.map(fileJson) };
}

const posixPath = (p: string) => p.split("\\").join("/");

function fileJson(f: FileResult): JsonFile {
  const cacheRuns: JsonFile["cacheRuns"] = [];
  const seenRuns = new Set<string>();
  for (const cr of f.cacheRuns) {
    const k = `${cr.instruction.line}\u0000${cr.build.name}`;
    if (seenRuns.has(k)) {
      if (cr.built) {
        const prev = cacheRuns.find(
          (c) => c.line === cr.instruction.line && c.build === cr.build.name,
        );
        if (prev) prev.built = true;
      }
      continue;
    }
    seenRuns.add(k);
    cacheRuns.push({
      line: cr.instruction.line,
      stage: stageLabel(cr.stage),
      build: cr.build.name,
      built: cr.built,
      mounts: cr.mounts.map((m) => ({
        id: m.id.text,
        target: m.target.text,
        sharing: m.spec.sharing,
        key: m.key,
        resolved: m.match.value !== undefined,
      })),
    });
  }
  cacheRuns.sort((a, b) => a.line - b.line || (a.build < b.build ? -1 : a.build > b.build ? 1 : 0));

  const pairSet = new Set<string>();
  const parallel: [number, number][] = [];
  for (const p of f.pairs) {
    const x = p.a.instruction.line;
    const y = p.b.instruction.line;
    const pair: [number, number] = x <= y ? [x, y] : [y, x];
    const k = pair.join(",");
    if (pairSet.has(k)) continue;
    pairSet.add(k);
    parallel.push(pair);
  }
  parallel.sort((a, b) => a[0] - b[0] || a[1] - b[1]);

  return {
    path: posixPath(f.path),
    builds: f.builds,
    cacheRuns,
    parallel,
    races: f.races.map((r) => raceJson(r, f.path)),
    errors: f.diagnostics.map((d) => ({ line: d.line, message: d.message, severity: d.severity })),
  };
}

export function raceJson(r: Race, filePath: string): JsonRace {
  const multiFile = new Set(r.uses.map((u) => u.step.build.file.path)).size > 1;
  const out: JsonRace = {
    rule: r.rule,
    key: r.key,
    safety: r.safety,
    tool: r.kind.tool,
    uses: uses(r.uses, multiFile),
    fix: r.fix,
    reason: r.reason,
  };
  if (r.lockedUses.length) out.lockedUses = uses(r.lockedUses, multiFile);
  if (r.suppressed) out.suppressed = true;
  void filePath;
  return out;
}

function uses(list: Race["uses"], withFile: boolean): JsonUse[] {
  const seen = new Set<string>();
  const out: JsonUse[] = [];
  for (const u of list) {
    const use: JsonUse = {
      line: u.step.instruction.line,
      stage: stageLabel(u.step.stage),
      build: u.step.build.name,
    };
    if (withFile) use.file = posixPath(u.step.build.file.path);
    const k = `${use.file ?? ""}\u0000${use.line}\u0000${use.stage}\u0000${use.build}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(use);
  }
  return out.sort(
    (a, b) =>
      (a.file ?? "").localeCompare(b.file ?? "") ||
      a.line - b.line ||
      a.build.localeCompare(b.build) ||
      a.stage.localeCompare(b.stage),
  );
}
