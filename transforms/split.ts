/**
 * split: a cache id per racing stage (`id=<old id or target>-<stage>`), and per platform
 * (`-$TARGETPLATFORM`, declaring `ARG TARGETPLATFORM` in the stage when missing) when a
 * step races with itself across platforms. A step racing with itself across builds is
 * separated by a build arg its stage declares and the builds set differently
 * (`-$SERVICE`); without one it cannot be split: it falls back to lock, and the note says so.
 * So does a race where a mount's new id cannot be written: one mount used by several racing
 * stages (an ONBUILD trigger runs in every child stage) is one option, with one value; a
 * trigger runs before any ARG of its stage, so `-$TARGETPLATFORM` cannot split it; and a
 * stage that reads `$TARGETPLATFORM` without declaring it (empty there) would read the
 * platform once split declared it.
 */
import { Edit, Finding, MountUse, StageInfo, Transform, TransformFile } from "../src/apply/types";

const split: Transform = (file, findings, api) => {
  const edits: Edit[] = [];
  const notes: string[] = [];
  const argAdded = new Set<number>();
  const { needs, locked } = plan(file, findings);
  for (const f of findings) {
    const why = locked.get(f);
    if (why) {
      edits.push(...api.transforms.lock(file, [f], api).edits);
      notes.push(`${f.key} (${f.tool}): ${why}, locked instead`);
      continue;
    }
    const stages = stagesOf(f);
    const changed: string[] = [];
    for (const use of f.keyUses) {
      if (!stages.has(use.stage.index)) continue;
      const need = needs.get(useKey(use)) as Need;
      const id = newId(use, need);
      if (id === rawId(use)) continue;
      edits.push(api.setOption(use, "id", id));
      changed.push(`line ${use.line} → id=${id}`);
      if (
        need.perPlatform &&
        !declaresBefore(use.stage, "TARGETPLATFORM", use.line) &&
        !argAdded.has(use.stage.index)
      ) {
        argAdded.add(use.stage.index);
        edits.push(api.insertLineAfter(use.stage.afterFrom, "ARG TARGETPLATFORM"));
      }
    }
    if (changed.length)
      notes.push(`${f.key} (${f.tool}): split, ${[...new Set(changed)].join("; ")}`);
  }
  return { edits, notes };
};

/** The id as written (explicit id, or the target the default id comes from). */
function rawId(use: MountUse): string {
  // An id that expands to empty falls back to the target: keep that, or two different
  // caches written `id=${UNSET}` would end up with one new id.
  const ids = use.options.filter((o) => o.key === "id" && o.value);
  const id = ids[ids.length - 1];
  if (id && id.value && use.explicitId) return id.value;
  return use.options.filter((o) => o.key === "target").pop()?.value ?? use.target;
}

/** What a use's new id must tell apart: its file, its stage, its build, its platform. */
interface Need {
  fileTag?: string;
  perStage: boolean;
  perPlatform: boolean;
  splitArg?: string;
}

/** A step racing with itself across builds is split only by a build arg telling them apart. */
const splittable = (f: Finding) => !(f.selfRace.builds && !f.splitArg);

/**
 * Which findings split and the ids their uses need; the others fall back to lock, with why:
 * a RUN racing with itself across builds and no build arg telling them apart, or a mount
 * whose new id cannot be written. One mount is one option to edit: used by several racing
 * stages (an ONBUILD trigger runs in every child stage) it cannot get a different id in
 * each; run as a trigger, it runs before any ARG its stage declares, so no `-$TARGETPLATFORM`
 * (or `-$ARG`) can tell its uses apart. Dropping a finding changes what the others need, so
 * this repeats until every mount left has one id that can be written.
 */
function plan(
  file: TransformFile,
  findings: Finding[],
): { needs: Map<string, Need>; locked: Map<Finding, string> } {
  const locked = new Map<Finding, string>();
  for (const f of findings)
    if (!splittable(f))
      locked.set(
        f,
        `one RUN races with itself across builds (${f.builds.join(", ")}); an id per stage cannot separate builds`,
      );
  for (;;) {
    const splitting = findings.filter((f) => !locked.has(f));
    const needs = needsOf(file, splitting);
    // the ids each mount (one edit site: appendAt) is asked for, and by which stages
    const asked = new Map<number, { ids: Set<string>; stages: Set<string> }>();
    for (const f of splitting)
      for (const use of splitUses(f)) {
        const a = asked.get(use.appendAt) ?? { ids: new Set(), stages: new Set() };
        a.ids.add(newId(use, needs.get(useKey(use)) as Need));
        a.stages.add(use.stage.label);
        asked.set(use.appendAt, a);
      }
    // the flags split rewrites, by stage: their own $TARGETPLATFORM is theirs to change
    const rewritten = new Map<number, Set<number>>();
    for (const f of splitting)
      for (const use of splitUses(f)) {
        const set = rewritten.get(use.stage.index) ?? new Set<number>();
        set.add(use.appendAt);
        rewritten.set(use.stage.index, set);
      }
    const refusal = (use: MountUse): string | undefined => {
      const a = asked.get(use.appendAt) as { ids: Set<string>; stages: Set<string> };
      if (a.ids.size > 1)
        return `the mount on line ${use.line} runs in several racing stages (${[...a.stages].join(", ")})${ownText(use) ? "" : " as an ONBUILD trigger"}; one mount cannot have a different id in each`;
      const need = needs.get(useKey(use)) as Need;
      if ((need.perPlatform || need.splitArg) && !ownText(use))
        return `the mount on line ${use.line} runs in stage ${use.stage.label} as an ONBUILD trigger, before any ARG the stage declares; no $${need.splitArg ?? "TARGETPLATFORM"} in its id can tell its uses apart`;
      if (need.perPlatform && !declaresBefore(use.stage, "TARGETPLATFORM", use.line)) {
        const line = readsUndeclared(file, use.stage, "TARGETPLATFORM", rewritten);
        if (line !== undefined)
          return `stage ${use.stage.label} reads $TARGETPLATFORM on line ${line} without declaring it (so it is empty there); the ARG TARGETPLATFORM a per-platform id needs would change that`;
      }
      return undefined;
    };
    let more = false;
    for (const f of splitting) {
      const why = splitUses(f)
        .map(refusal)
        .find((w) => w);
      if (!why) continue;
      locked.set(f, why);
      more = true;
    }
    if (!more) return { needs, locked };
  }
}

/** The mount is written in its stage's own instructions (not inherited as an ONBUILD trigger). */
const ownText = (u: MountUse) =>
  u.stage.instructions.some((i) => i.start <= u.appendAt && u.appendAt <= i.end);

/** The uses a split of this finding rewrites: every use of its keys in a racing stage. */
function splitUses(f: Finding): MountUse[] {
  const stages = stagesOf(f);
  return f.keyUses.filter((u) => stages.has(u.stage.index));
}

/** The stages of the racing uses in this file: their uses of the key are split. */
function stagesOf(f: Finding): Map<number, StageInfo> {
  const stages = new Map<number, StageInfo>();
  for (const u of f.uses) stages.set(u.stage.index, u.stage);
  return stages;
}

/** One mount as used by one stage (a mount can be in several findings). */
const useKey = (u: MountUse) => `${u.appendAt}:${u.stage.index}`;

/**
 * What each use's new id needs, over every finding it is in. A mount with an unresolved id
 * (`id=target-${SERVICE}`) may equal several other ids and so be in several races; it gets
 * one id, distinct from all of theirs (two different ids for one option would be
 * overlapping edits, and either one alone would leave a race).
 */
function needsOf(file: TransformFile, findings: Finding[]): Map<string, Need> {
  const needs = new Map<string, Need>();
  for (const f of findings) {
    const stages = stagesOf(f);
    for (const use of splitUses(f)) {
      const k = useKey(use);
      const n = needs.get(k) ?? { perStage: false, perPlatform: false };
      // A race across Dockerfiles (compose services, bake targets): stage names may repeat
      // between files, so the file's own tag comes first.
      if (f.files.length > 1) n.fileTag = file.tag;
      n.perStage ||= stages.size > 1;
      n.perPlatform ||= f.selfRace.platforms;
      n.splitArg ??= f.splitArg;
      needs.set(k, n);
    }
  }
  return needs;
}

function newId(use: MountUse, need: Need): string {
  let id = rawId(use);
  if (need.fileTag) id += `-${need.fileTag}`;
  if (need.perStage) id += `-${use.stage.name ?? `stage${use.stage.index}`}`;
  if (need.splitArg) id += `-$${need.splitArg}`;
  if (need.perPlatform) id += "-$TARGETPLATFORM";
  return id;
}

/**
 * The first line of `stage` that reads `$name` before the stage declares it, leaving out the
 * mount flags split rewrites (`rewritten`: their offsets, by stage). Split declares the ARG
 * right after FROM: such a read would see a value where it saw none (a mount id, a RUN's
 * environment).
 */
function readsUndeclared(
  file: TransformFile,
  stage: StageInfo,
  name: string,
  rewritten: Map<number, Set<number>>,
): number | undefined {
  const declared = stage.args.find((a) => a.name === name)?.line ?? Infinity;
  const reads = new RegExp(`\\$(\\{)?${name}(?![A-Za-z0-9_])`);
  const own = rewritten.get(stage.index) ?? new Set<number>();
  for (const ins of stage.instructions) {
    if (ins.line >= declared) break;
    let text = file.source.slice(ins.start, ins.end);
    for (const fl of ins.flags)
      if ([...own].some((at) => fl.start <= at && at <= fl.end))
        text =
          text.slice(0, fl.start - ins.start) +
          " ".repeat(fl.end - fl.start) +
          text.slice(fl.end - ins.start);
    if (reads.test(text)) return ins.line;
  }
  return undefined;
}

function declaresBefore(stage: StageInfo, name: string, line: number): boolean {
  return stage.args.some((a) => a.name === name && a.line < line);
}

export default split;
