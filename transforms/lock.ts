/**
 * lock: `sharing=locked` on every shared use of each racing key (a use left shared next
 * to a locked one would get a separate empty copy whenever they meet). Safe: it changes
 * when steps run, never what they build.
 */
import { Edit, Transform } from "../src/apply/types";

const lock: Transform = (file, findings, api) => {
  const edits: Edit[] = [];
  const notes: string[] = [];
  for (const f of findings) {
    const lines = new Set<number>();
    for (const use of f.keyUses) {
      const e = api.lock(use);
      if (e) {
        edits.push(e);
        lines.add(use.line);
      }
    }
    if (lines.size)
      notes.push(
        `${f.key} (${f.tool}): locked on line ${[...lines].sort((a, b) => a - b).join(", ")}`,
      );
  }
  return { edits, notes };
};

export default lock;
