/**
 * split: a cache id per racing stage (`id=<old id or target>-<stage>`), and per platform
 * (`-$TARGETPLATFORM`, declaring `ARG TARGETPLATFORM` in the stage when missing) when a
 * step races with itself across platforms. A step racing with itself across builds is
 * separated by a build arg its stage declares and the builds set differently
 * (`-$SERVICE`); without one it cannot be split: it falls back to lock, and the note says so.
 */
import { Edit, Finding, MountUse, StageInfo, Transform } from "../src/apply/types";

const split: Transform = (file, findings, api) => {
  const edits: Edit[] = [];
  const notes: string[] = [];
  const argAdded = new Set<number>();
  for (const f of findings) {
    if (f.selfRace.builds && !f.splitArg) {
      const r = api.transforms.lock(file, [f], api);
      edits.push(...(Array.isArray(r) ? r : r.edits));
      notes.push(
        `${f.key} (${f.tool}): one RUN races with itself across builds (${f.builds.join(", ")}); an id per stage cannot separate builds, locked instead`,
      );
      continue;
    }
    const stages = new Map<number, StageInfo>();
    for (const u of f.uses) stages.set(u.stage.index, u.stage);
    const perStage = stages.size > 1;
    // A race across Dockerfiles (compose services, bake targets): stage names may repeat
    // between files, so the file's own tag comes first.
    const fileTag = f.files.length > 1 ? file.tag : undefined;
    const perPlatform = f.selfRace.platforms;
    const changed: string[] = [];
    for (const use of f.keyUses) {
      if (!stages.has(use.stage.index)) continue;
      const id = newId(use, fileTag, perStage, perPlatform, f.splitArg);
      if (id === rawId(use)) continue;
      edits.push(api.setOption(use, "id", id));
      changed.push(`line ${use.line} → id=${id}`);
      if (
        perPlatform &&
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

function newId(
  use: MountUse,
  fileTag: string | undefined,
  perStage: boolean,
  perPlatform: boolean,
  buildArg?: string,
): string {
  let id = rawId(use);
  if (fileTag) id += `-${fileTag}`;
  if (perStage) id += `-${use.stage.name ?? `stage${use.stage.index}`}`;
  if (buildArg) id += `-$${buildArg}`;
  if (perPlatform) id += "-$TARGETPLATFORM";
  return id;
}

function declaresBefore(stage: StageInfo, name: string, line: number): boolean {
  return stage.args.some((a) => a.name === name && a.line < line);
}

export default split;
