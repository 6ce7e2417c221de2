/**
 * auto: per cache, from the knowledge base — safe caches stay shared, unsafe and unknown
 * ones are locked, serialising output caches (cargo target/, build dirs) and caches whose
 * contents depend on the platform are split.
 */
import { Edit, Transform } from "../src/apply/types";

const auto: Transform = (file, findings, api) => {
  const edits: Edit[] = [];
  const notes: string[] = [];
  for (const f of findings) {
    if (f.fix === "none") {
      notes.push(`${f.key} (${f.tool}, ${f.safety}): left shared — ${f.reason}`);
      continue;
    }
    const r = api.transforms[f.fix](file, [f], api);
    const res = Array.isArray(r) ? { edits: r, notes: [] } : r;
    edits.push(...res.edits);
    notes.push(`${f.key} (${f.tool}, ${f.safety}): ${f.fix} — ${f.reason}`);
    for (const n of res.notes ?? []) if (!n.startsWith(f.key)) notes.push(n);
    for (const n of res.notes ?? []) if (n.includes("locked instead")) notes.push(n);
  }
  return { edits, notes };
};

export default auto;
