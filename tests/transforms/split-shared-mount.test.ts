/**
 * split, called directly, on a mount it cannot give one id per racing use: one mount (one
 * edit site) used by several racing stages, as an ONBUILD trigger is in every child stage.
 * Two different ids for one option would be overlapping edits; split locks that race
 * instead and says why, and still splits the races it can.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createApi } from "../../src/apply/api";
import { applyEdits } from "../../src/apply/edits";
import { findingsFor, transformFile } from "../../src/apply/findings";
import { Finding, TransformFile, TransformResult } from "../../src/apply/types";
import split from "../../transforms/split";
import { analyze } from "../../src/pipeline";
import { fixText } from "../helpers/analyze";

const PLATFORMS = ["linux/amd64", "linux/arm64"];

/** The transform's input for one Dockerfile, as the apply engine builds it. */
async function inputOf(text: string): Promise<{ tf: TransformFile; findings: Finding[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-split-shared-"));
  try {
    const file = path.join(dir, "Dockerfile");
    fs.writeFileSync(file, text);
    const r = await analyze([{ path: file, kind: "dockerfile" }], { platforms: PLATFORMS });
    const f = r.files[0];
    const races = f.races.filter((x) => x.safety !== "safe" && !x.suppressed);
    const tf = transformFile(f, f.parsed!);
    return { tf, findings: findingsFor(f, tf, races) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function run(tf: TransformFile, findings: Finding[]): { text: string; notes: string[] } {
  const res = split(tf, findings, createApi(tf)) as TransformResult;
  const applied = applyEdits(tf.source, res.edits);
  if ("error" in applied) throw new Error(applied.error);
  return { text: applied.text, notes: res.notes ?? [] };
}

test("an ONBUILD trigger mount in two racing child stages is locked, the other race split", async () => {
  const { tf, findings } = await inputOf(
    [
      "FROM debian AS base",
      "ONBUILD RUN --mount=type=cache,target=/app/target cargo build",
      "FROM base AS a",
      "RUN --mount=type=cache,target=/root/.cache/x echo a",
      "FROM base AS b",
      "RUN --mount=type=cache,target=/root/.cache/x echo b",
      "FROM debian",
      "COPY --from=a /a /a",
      "COPY --from=b /b /b",
      "",
    ].join("\n"),
  );
  const { text, notes } = run(tf, findings);
  expect(text.split("\n").slice(0, 6)).toEqual([
    "FROM debian AS base",
    "ONBUILD RUN --mount=type=cache,target=/app/target,sharing=locked cargo build",
    "FROM base AS a",
    "ARG TARGETPLATFORM",
    "RUN --mount=type=cache,target=/root/.cache/x,id=/root/.cache/x-a-$TARGETPLATFORM echo a",
    "FROM base AS b",
  ]);
  expect(notes).toContainEqual(
    "//app/target (cargo-target): the mount on line 2 runs in several racing stages (a, b) as an ONBUILD trigger; one mount cannot have a different id in each, locked instead",
  );
  expect(notes.some((n) => n.startsWith("//root/.cache/x") && n.includes(": split, "))).toBe(true);
});

test("any mount asked for two ids (one edit site, two stages) falls back to lock", async () => {
  // Two stages, each with its own mount; then make stage b's use point at stage a's mount
  // text, as if one mount ran in both: no ONBUILD, same clash.
  const { tf, findings } = await inputOf(
    [
      "FROM debian AS a",
      "RUN --mount=type=cache,target=/app/target echo a",
      "FROM debian AS b",
      "RUN --mount=type=cache,target=/app/target echo b",
      "FROM debian",
      "COPY --from=a /a /a",
      "COPY --from=b /b /b",
      "",
    ].join("\n"),
  );
  expect(findings).toHaveLength(1);
  const [f] = findings;
  const one = f.keyUses.find((u) => u.line === 2)!;
  for (const list of [f.uses, f.keyUses])
    for (const u of list)
      if (u.line === 4) Object.assign(u, { line: 2, options: one.options, appendAt: one.appendAt });
  const { text, notes } = run(tf, findings);
  expect(text).toContain("RUN --mount=type=cache,target=/app/target,sharing=locked echo a");
  expect(text).not.toContain("id=");
  expect(notes).toEqual([
    "//app/target (cargo-target): the mount on line 2 runs in several racing stages (a, b); one mount cannot have a different id in each, locked instead",
  ]);
});

test("an ONBUILD trigger racing with itself across platforms is locked: no ARG can precede it", async () => {
  // `ARG TARGETPLATFORM` after `FROM base AS a` comes after the trigger runs, so
  // `id=/app/target-$TARGETPLATFORM` would be `/app/target-` on both platforms.
  const { tf, findings } = await inputOf(
    [
      "FROM debian AS base",
      "ONBUILD RUN --mount=type=cache,target=/app/target cargo build",
      "FROM base AS a",
      "RUN echo a",
      "",
    ].join("\n"),
  );
  const { text, notes } = run(tf, findings);
  expect(text).toBe(
    [
      "FROM debian AS base",
      "ONBUILD RUN --mount=type=cache,target=/app/target,sharing=locked cargo build",
      "FROM base AS a",
      "RUN echo a",
      "",
    ].join("\n"),
  );
  expect(notes).toEqual([
    "//app/target (cargo-target): the mount on line 2 runs in stage a as an ONBUILD trigger, before any ARG the stage declares; no $TARGETPLATFORM in its id can tell its uses apart, locked instead",
  ]);
});

test.each(["split", "auto"] as const)(
  "fix --strategy %s: a split-class cache in an ONBUILD trigger of two children is locked and verifies",
  async (strategy) => {
    // cargo's target/ is a cache auto splits: auto hands it to split, which locks it here
    const fix = await fixText(
      [
        "FROM rust AS base",
        "ONBUILD RUN --mount=type=cache,target=/app/target cargo build",
        "FROM base AS a",
        "FROM base AS b",
        "FROM debian",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
        "",
      ].join("\n"),
      strategy,
      { platforms: PLATFORMS },
    );
    expect(fix.error).toBeUndefined();
    expect(fix.after).toContain(
      "ONBUILD RUN --mount=type=cache,target=/app/target,sharing=locked cargo build",
    );
    expect(fix.notes.join("\n")).toMatch(/as an ONBUILD trigger; .*locked instead/);
  },
);
