/**
 * auto: per cache, from the knowledge base — safe caches stay shared, unsafe and unknown
 * ones are locked, serialising output caches (cargo target/, build dirs) and caches whose
 * contents depend on the platform are split.
 */
import { Edit, Finding, Transform } from "../src/apply/types";

const auto: Transform = (file, findings, api) => {
  const edits: Edit[] = [];
  const notes: string[] = [];
  // Every finding to split goes to split at once: a mount in several of them (an unresolved
  // id that may equal more than one other id) must get one id that fits them all.
  const splitting = findings.filter((f) => f.fix === "split");
  const split = splitting.length
    ? api.transforms.split(file, splitting, api)
    : { edits: [], notes: [] };
  edits.push(...split.edits);
  const splitNotes = (f: Finding) =>
    (split.notes ?? []).filter((n) => n.startsWith(`${f.key} (${f.tool}):`));
  for (const f of findings) {
    if (f.fix === "none") {
      notes.push(`${f.key} (${f.tool}, ${f.safety}): left shared — ${f.reason}`);
      continue;
    }
    const res =
      f.fix === "split"
        ? { edits: [], notes: splitNotes(f) }
        : api.transforms[f.fix](file, [f], api);
    edits.push(...res.edits);
    notes.push(`${f.key} (${f.tool}, ${f.safety}): ${f.fix} — ${f.reason}`);
    for (const n of res.notes ?? []) if (!n.startsWith(f.key)) notes.push(n);
    for (const n of res.notes ?? []) if (n.includes("locked instead")) notes.push(n);
  }
  return { edits, notes };
};

export default auto;
