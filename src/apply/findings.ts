/** Adapts the analysis of one file to the transform contract (plain data with source offsets). */
import * as path from "path";
import { FileResult } from "../pipeline";
import { Race } from "../races/races";
import { ParsedDockerfile, Stage } from "../parse/dockerfile";
import { keyValues, ResolvedMount, stageLabel, Step } from "../resolve/resolve";
import { Finding, MountUse, StageInfo, TransformFile } from "./types";

export function transformFile(f: FileResult, parsed: ParsedDockerfile): TransformFile {
  const nl = parsed.text.indexOf("\n");
  const eol = nl > 0 && parsed.text[nl - 1] === "\r" ? "\r\n" : "\n";
  const stages = parsed.stages.map((st) => stageInfo(st, parsed.escape));
  const targets: Record<string, number> = {};
  for (const b of f.builds) {
    const t = parsed.stages.find((s) => stageLabel(s) === b.target);
    if (t) targets[b.name] = t.index;
  }
  return { path: f.path, source: parsed.text, eol, stages, targets, tag: fileTag(f) };
}

function fileTag(f: FileResult): string {
  const names = [...new Set(f.builds.map((b) => b.name))];
  if (names.length === 1 && names[0] !== "default") return sanitize(names[0]);
  const base = path.basename(f.path);
  const dir = path.basename(path.dirname(path.resolve(f.path)));
  const own = base.replace(/^Dockerfile\.?|\.?Dockerfile$/i, "").replace(/^Containerfile$/i, "");
  return sanitize(own || dir);
}

const sanitize = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .replace(/^-+|-+$/g, "") || "file";

function stageInfo(st: Stage, escape: string): StageInfo {
  const args: StageInfo["args"] = [];
  for (const ins of st.instructions)
    if (ins.keyword === "ARG")
      for (const kv of keyValues(ins, escape)) args.push({ name: kv.name, line: ins.line });
  return {
    index: st.index,
    name: st.name,
    label: stageLabel(st),
    fromLine: st.from.line,
    afterFrom: st.from.end,
    args,
    baseName: st.baseName,
    platform: st.platform,
    instructions: st.instructions.map((i) => ({
      keyword: i.keyword,
      line: i.line,
      start: i.start,
      end: i.end,
      flags: i.flags.map((fl) => ({
        name: fl.name,
        value: fl.value,
        start: fl.word.start,
        end: fl.word.end,
      })),
    })),
  };
}

export function mountUse(
  tf: TransformFile,
  step: Pick<Step, "instruction" | "stage" | "build" | "platform">,
  m: ResolvedMount,
): MountUse {
  return {
    line: step.instruction.line,
    stage: tf.stages[step.stage.index],
    build: step.build.name,
    platform: step.platform,
    id: m.id.text,
    explicitId: m.explicitId,
    target: m.target.text,
    sharing: m.spec.sharing,
    key: m.key,
    options: m.raw.fields.map((o) => ({ ...o })),
    appendAt: m.raw.appendAt,
  };
}

/** Findings of one file: the uses of each race that are in this file. */
export function findingsFor(f: FileResult, tf: TransformFile, races: Race[]): Finding[] {
  const here = (p: string) => p === f.path;
  const allUses: MountUse[] = [];
  for (const cr of f.cacheRuns) {
    if (!cr.built) continue;
    for (const m of cr.mounts) allUses.push(mountUse(tf, cr, m));
  }
  return races.map((r) => {
    const uses = r.uses
      .filter((u) => here(u.step.build.file.path))
      .map((u) => mountUse(tf, u.step, u.mount));
    // A race groups uses whose ids may be equal, not only equal keys: an unresolved id
    // (`id=target-${SERVICE}`) races under another use's key (`/target-notifier`). Its own
    // key must be rewritten too, or the fix leaves that use as it was and the race stays.
    const keys = new Set([r.key, ...r.uses.map((u) => u.mount.key)]);
    return {
      rule: r.rule,
      key: r.key,
      safety: r.safety,
      tool: r.kind.tool,
      fix: r.fix,
      reason: r.reason,
      uses,
      keyUses: allUses.filter((u) => keys.has(u.key)),
      selfRace: r.selfRace,
      builds: f.builds.map((b) => b.name),
      splitArg: r.splitArg,
      files: [...new Set(r.uses.map((u) => u.step.build.file.path))].sort(),
    };
  });
}
