/** Git-style unified diffs (`a/` `b/` paths), made with the `diff` package; apply with git apply or patch -p1. */
import { structuredPatch } from "diff";

export function gitDiff(path: string, before: string, after: string): string {
  if (before === after) return "";
  const p = path.split("\\").join("/").replace(/^\.\//, "");
  const patch = structuredPatch(`a/${p}`, `b/${p}`, before, after, "", "", { context: 3 });
  const out: string[] = [`diff --git a/${p} b/${p}`, `--- a/${p}`, `+++ b/${p}`];
  for (const h of patch.hunks) {
    out.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`);
    for (const l of h.lines) out.push(l);
  }
  return out.join("\n") + "\n";
}

function range(start: number, lines: number): string {
  if (lines === 0) return `${start},0`;
  return lines === 1 ? `${start}` : `${start},${lines}`;
}
