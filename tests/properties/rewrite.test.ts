/**
 * Property tests over generated Dockerfiles (random stage graphs, mounts, formatting
 * styles, CRLF, BOM): every rewrite re-parses, leaves no race that needed fixing, is
 * idempotent, and changes nothing outside `--mount` flag words (plus, for split, an
 * inserted `ARG TARGETPLATFORM` line; merge may move whole instructions).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import { planFixes } from "../../src/apply/fix";
import { Strategy } from "../../src/apply/load";
import { parseDockerfile } from "../../src/parse/dockerfile";
import { analyze } from "../../src/pipeline";

const TARGETS = [
  "/var/cache/apt",
  "/var/lib/apt",
  "/usr/local/cargo/registry",
  "/app/target",
  "/root/.npm",
  "/root/.cache/go-build",
  "/opt/thing",
  "node_modules/.cache",
  "/cache",
  "/cache/npm",
];
const IMAGES = ["debian:bookworm", "rust:1.82", "node:22", "alpine:3.20"];

interface MountGen {
  target: number;
  id: string | null;
  sharing: null | "shared" | "locked" | "private";
  quoted: boolean;
  splitLine: boolean;
  alias: boolean;
}
interface StageGen {
  base: number; // <0: image, else earlier stage index (mod)
  image: number;
  runs: { mounts: MountGen[]; lower: boolean; cmd: number }[];
  copyFrom: number | null;
  workdir: boolean;
}

const mountArb = fc.record({
  target: fc.nat(TARGETS.length - 1),
  id: fc.option(fc.constantFrom("shared-id", "apt", "other"), { nil: null }),
  sharing: fc.constantFrom(null, "shared", "locked", "private"),
  quoted: fc.boolean(),
  splitLine: fc.boolean(),
  alias: fc.boolean(),
});
const stageArb = fc.record({
  base: fc.integer({ min: -2, max: 3 }),
  image: fc.nat(IMAGES.length - 1),
  runs: fc.array(
    fc.record({
      mounts: fc.array(mountArb, { minLength: 1, maxLength: 2 }),
      lower: fc.boolean(),
      cmd: fc.nat(3),
    }),
    { minLength: 0, maxLength: 2 },
  ),
  copyFrom: fc.option(fc.nat(4), { nil: null }),
  workdir: fc.boolean(),
});
const fileArb = fc.record({
  stages: fc.array(stageArb, { minLength: 1, maxLength: 5 }),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  finalNewline: fc.boolean(),
  comment: fc.boolean(),
});

function render(g: fc.Infer<typeof fileArb>): string {
  const lines: string[] = [];
  if (g.comment) lines.push("# syntax=docker/dockerfile:1", "# generated");
  g.stages.forEach((st, i) => {
    const base = st.base >= 0 && i > 0 ? `s${st.base % i}` : IMAGES[st.image];
    lines.push(`FROM ${base} AS s${i}`);
    if (st.workdir) lines.push(`WORKDIR /w${i % 2}`);
    st.runs.forEach((r, k) => {
      const mounts = r.mounts.map((m) => {
        const opts = [`type=cache`, `${m.alias ? "dst" : "target"}=${TARGETS[m.target]}`];
        if (m.id) opts.push(`id=${m.id}`);
        if (m.sharing) opts.push(`sharing=${m.sharing}`);
        const v = m.splitLine ? opts.join(",\\\n    ") : opts.join(",");
        return m.quoted && !m.splitLine ? `--mount="${v}"` : `--mount=${v}`;
      });
      lines.push(
        `${r.lower ? "run" : "RUN"} ${mounts.join(" \\\n    ")} \\\n    echo step-${i}-${k}-${r.cmd}`,
      );
    });
    if (st.copyFrom !== null && i > 0) lines.push(`COPY --from=s${st.copyFrom % i} /out /in${i}`);
  });
  let text = lines.join("\n") + (g.finalNewline ? "\n" : "");
  if (g.crlf) text = text.replace(/\n/g, "\r\n");
  if (g.bom) text = "\uFEFF" + text;
  return text;
}

/** The text with every --mount flag word removed and inserted ARG lines dropped. */
function outsideMounts(text: string): string {
  const parsed = parseDockerfile("x", text);
  const cuts: [number, number][] = [];
  for (const st of parsed.stages)
    for (const ins of st.instructions)
      for (const f of ins.flags) if (f.name === "mount") cuts.push([f.word.start, f.word.end]);
  cuts.sort((a, b) => b[0] - a[0]);
  let out = text;
  for (const [s, e] of cuts) out = out.slice(0, s) + "<mount>" + out.slice(e);
  return out.replace(/\r?\nARG TARGETPLATFORM(?=\r?\n|$)/g, "");
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-prop-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function fixOnce(text: string, strategy: Strategy) {
  const file = path.join(dir, `Dockerfile.${n++}`);
  fs.writeFileSync(file, text);
  const plan = await planFixes([{ path: file, kind: "dockerfile" }], { strategy });
  return { file, plan };
}

describe.each(["lock", "split", "auto", "merge"] as Strategy[])("strategy %s", (strategy) => {
  test("rewrites re-parse, fix every race, are idempotent, and touch only mount options", async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, async (g) => {
        const text = render(g);
        const { file, plan } = await fixOnce(text, strategy);
        const fix = plan.fixes[0];
        if (!fix) return; // nothing to fix
        expect(fix.error).toBeUndefined();
        const after = fix.after;
        // re-parses without errors
        expect(parseDockerfile(file, after).errors.filter((e) => e.severity === "error")).toEqual(
          [],
        );
        // no race that needs fixing remains
        fs.writeFileSync(file, after);
        const again = await analyze([{ path: file, kind: "dockerfile" }]);
        expect(again.files[0].races.filter((r) => r.safety !== "safe").map((r) => r.key)).toEqual(
          [],
        );
        // idempotent
        const second = await planFixes([{ path: file, kind: "dockerfile" }], { strategy });
        expect(second.fixes.filter((f) => f.after !== f.before)).toEqual([]);
        // line endings, BOM and final newline preserved
        expect(after.startsWith("\uFEFF")).toBe(text.startsWith("\uFEFF"));
        expect(/\n$/.test(after)).toBe(/\n$/.test(text));
        if (!text.includes("\r\n")) expect(after.includes("\r")).toBe(false);
        else expect(after.replace(/\r\n/g, "").includes("\n")).toBe(false);
        // nothing changes outside mount options (merge moves whole instructions)
        if (strategy !== "merge") expect(outsideMounts(after)).toBe(outsideMounts(text));
        else {
          const sortLines = (s: string) =>
            outsideMounts(s)
              .split(/\r?\n/)
              .filter((l) => !/^FROM |^COPY --from|^\s*$/.test(l))
              .sort();
          expect(sortLines(after)).toEqual(sortLines(text));
        }
      }),
      { numRuns: 40 },
    );
  });
});
