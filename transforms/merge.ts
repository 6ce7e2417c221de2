/**
 * merge: move one racing stage's instructions to the end of the other and point its
 * consumers at the survivor, so the two RUNs run one after the other. Only when that
 * cannot change the images built, as far as the Dockerfile shows (preconditions below);
 * otherwise it refuses with the reason and falls back to lock.
 *
 * Preconditions (all must hold):
 *  1. exactly two stages race on the key, both named, same FROM base and --platform text;
 *  2. neither stage is a build target, a FROM base of another stage, or a `--mount from=`
 *     source: they are only consumed through `COPY --from=<name>`;
 *  3. neither stage changes build state (ENV, ARG, USER, SHELL, ONBUILD) and their WORKDIRs
 *     agree (none, or the same set), so moved steps see the state they saw before;
 *  4. neither references the other, and no `COPY --from=<index>` exists in the file (an
 *     index would shift when a stage disappears).
 * What a Dockerfile cannot show: whether the moved steps overwrite files the other stage's
 * consumers copy. That is why merge is an unsafe fix: review the diff.
 */
import { Edit, Finding, StageInfo, Transform, TransformFile } from "../src/apply/types";

const STATE = new Set(["ENV", "ARG", "USER", "SHELL", "ONBUILD"]);

const merge: Transform = (file, findings, api) => {
  const notes: string[] = [];
  const pairs: [StageInfo, StageInfo][] = [];
  const inPair = new Map<number, string>();
  const lockEdits: Edit[] = [];
  for (const f of findings) {
    const stages = stagesOf(f);
    const key = stages.map((s) => s.index).join(",");
    if (stages.length === 2 && stages.every((s) => inPair.get(s.index) === key)) {
      notes.push(
        `${f.key} (${f.tool}): fixed by the same merge of ${stages[1].label} into ${stages[0].label}`,
      );
      continue;
    }
    const why = refusal(file, f, inPair);
    if (typeof why === "string") {
      lockEdits.push(...api.transforms.lock(file, [f], api).edits);
      notes.push(`${f.key} (${f.tool}): merge refused — ${why}; locked instead`);
      continue;
    }
    pairs.push(why);
    for (const s of why) inPair.set(s.index, key);
    notes.push(
      `${f.key} (${f.tool}): merged stage ${why[1].label} into ${why[0].label}; COPY --from=${why[1].label} now reads ${why[0].label}`,
    );
  }
  const edits: Edit[] = [];
  const moved = pairs.map(([keep, gone]) => ({
    keep,
    gone,
    start: stageStart(file, gone),
    end: stageEnd(file, gone),
  }));
  // Lock edits that fall inside a moved stage are applied to the moved text instead.
  const outside = lockEdits.filter((e) => !moved.some((m) => e.start >= m.start && e.end <= m.end));
  edits.push(...outside);
  for (const { keep, gone, start, end } of moved) {
    const bodyStart = gone.afterFrom;
    const bodyEnd = gone.instructions.length
      ? gone.instructions[gone.instructions.length - 1].end
      : gone.afterFrom;
    const inner = lockEdits
      .filter((e) => e.start >= bodyStart && e.end <= bodyEnd)
      .map((e) => ({ ...e, start: e.start - bodyStart, end: e.end - bodyStart }))
      .sort((x, y) => y.start - x.start);
    let body = file.source.slice(bodyStart, bodyEnd);
    for (const e of inner) body = body.slice(0, e.start) + e.text + body.slice(e.end);
    const last = keep.instructions[keep.instructions.length - 1];
    const keepEnd = last ? last.end : keep.afterFrom;
    // `body` starts with the line break that ended the moved stage's FROM line.
    edits.push({ start: keepEnd, end: keepEnd, text: body });
    edits.push({ start, end, text: "" });
    for (const st of file.stages)
      for (const ins of st.instructions)
        for (const fl of ins.flags)
          if (fl.name === "from" && fl.value?.toLowerCase() === gone.name)
            edits.push({ start: fl.start, end: fl.end, text: `--from=${keep.name}` });
  }
  return { edits, notes };
};

function stagesOf(f: Finding): StageInfo[] {
  return [...new Map(f.uses.map((u) => [u.stage.index, u.stage])).values()].sort(
    (a, b) => a.index - b.index,
  );
}

function refusal(
  file: TransformFile,
  f: Finding,
  merged: Map<number, string>,
): string | [StageInfo, StageInfo] {
  const stages = stagesOf(f);
  if (stages.length !== 2)
    return stages.length < 2
      ? "the race is within one stage (across builds or platforms)"
      : `${stages.length} stages race; merge joins two`;
  if (f.selfRace.platforms || f.selfRace.builds)
    return "a step races with itself across platforms or builds, which merging stages cannot change";
  const [a, b] = stages;
  if (merged.has(a.index) || merged.has(b.index))
    return "a stage was already merged for another cache";
  if (!a.name || !b.name) return "both stages need names";
  if (a.baseName !== b.baseName || a.platform !== b.platform)
    return `different bases (${a.baseName} vs ${b.baseName})`;
  for (const [build, t] of Object.entries(file.targets))
    if (t === a.index || t === b.index)
      return `stage ${file.stages[t].label} is the target of build ${build}`;
  for (const st of file.stages) {
    if (st.baseName === a.name || st.baseName === b.name)
      return `stage ${st.label} is built FROM one of them`;
    for (const ins of st.instructions) {
      for (const fl of ins.flags) {
        const v = fl.value?.toLowerCase();
        if (fl.name === "from" && v && /^[0-9]+$/.test(v))
          return `line ${ins.line} copies from a stage by index`;
        if (fl.name === "mount" && v && new RegExp(`(^|,)from=(${a.name}|${b.name})(,|$)`).test(v))
          return `line ${ins.line} mounts from one of them`;
        if (fl.name === "from" && ((st === a && v === b.name) || (st === b && v === a.name)))
          return "one stage copies from the other";
      }
    }
  }
  for (const st of [a, b])
    for (const ins of st.instructions)
      if (STATE.has(ins.keyword)) return `stage ${st.label} sets ${ins.keyword} (line ${ins.line})`;
  const wd = (st: StageInfo) =>
    st.instructions
      .filter((i) => i.keyword === "WORKDIR")
      .map((i) => file.source.slice(i.start, i.end).trim())
      .join("\n");
  if (wd(a) !== wd(b)) return "their WORKDIRs differ";
  return [a, b];
}

/** Start of the stage's FROM line, taking one blank line before it along (it separated the stages). */
function stageStart(file: TransformFile, st: StageInfo): number {
  const start = lineStartOf(file.source, findFromOffset(file, st));
  const prev = lineStartOf(file.source, Math.max(0, start - 1));
  return start > 0 && /^\r?\n$/.test(file.source.slice(prev, start)) ? prev : start;
}

function findFromOffset(file: TransformFile, st: StageInfo): number {
  // the FROM line is st.fromLine (1-based)
  let line = 1;
  for (let i = 0; i < file.source.length; i++) {
    if (line === st.fromLine) return i;
    if (file.source[i] === "\n") line++;
  }
  return file.source.length;
}

function lineStartOf(s: string, offset: number): number {
  return s.lastIndexOf("\n", offset - 1) + 1;
}

function stageEnd(file: TransformFile, st: StageInfo): number {
  const last = st.instructions[st.instructions.length - 1];
  let end = last ? last.end : st.afterFrom;
  if (file.source.startsWith("\r\n", end)) end += 2;
  else if (file.source[end] === "\n") end += 1;
  return end;
}

export default merge;
