/**
 * Bugs the fuzz suite found in code outside this suite's ownership. One not fixed yet goes
 * here as `test.failing`, so it is visible and flips to a failure ("passed unexpectedly")
 * once fixed; then it becomes an ordinary test. Every one below is fixed and stays as a
 * regression test (none is open).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planFixes } from "../../src/apply/fix";
import { analyze } from "../../src/pipeline";
import { fixText } from "../helpers/analyze";

/**
 * transforms/merge.ts: when the racing steps also race with themselves across platforms,
 * merging the two stages cannot serialise them; merge should refuse and lock (as it does
 * for other refusals) instead of producing a rewrite that fails verification. Today the file
 * is reported as an error ("rewrite failed verification: a race remains") and left unfixed.
 */
test("merge across two platforms falls back to lock instead of failing verification", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-known-"));
  try {
    const file = path.join(dir, "Dockerfile");
    fs.copyFileSync(path.join(__dirname, "../../examples/rust-multistage/Dockerfile"), file);
    const plan = await planFixes([{ path: file, kind: "dockerfile" }], {
      strategy: "merge",
      platforms: ["linux/amd64", "linux/arm64"],
    });
    expect(plan.fixes[0].error).toBeUndefined();
    expect(plan.fixes[0].after).not.toBe(plan.fixes[0].before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * transforms/split.ts (fixed): a cache mount in an ONBUILD trigger runs in every child
 * stage; with two platforms split edited that one option once per child (`id=shared-s1-…`,
 * `id=shared-s2-…`) and the edits overlapped ("overlapping edits at line 2"). One mount
 * cannot have a different id in each stage: split now locks that race instead (and says
 * why), still splits the others; auto (apt: lock) locks them all.
 */
const ONBUILD_TWO_CHILDREN = [
  "FROM debian AS s0",
  "ONBUILD RUN --mount=type=cache,target=/var/cache/apt,id=shared echo s0-0",
  "RUN --mount=type=cache,target=/var/cache/apt,id=shared echo s0-0-now",
  "FROM s0 AS s1",
  "RUN --mount=type=cache,target=/var/cache/apt echo s1-0",
  "FROM s0 AS s2",
  "RUN --mount=type=cache,target=/var/cache/apt echo s2-0",
  "FROM debian",
  "COPY --from=s1 /out /s1",
  "COPY --from=s2 /out /s2",
  "",
].join("\n");

async function racesToFix(text: string, platforms: string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-known-"));
  try {
    const file = path.join(dir, "Dockerfile");
    fs.writeFileSync(file, text);
    const r = await analyze([{ path: file, kind: "dockerfile" }], { platforms });
    return r.files[0].races.filter((x) => x.safety !== "safe" && !x.suppressed);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test.each(["split", "auto"] as const)(
  "%s with an ONBUILD trigger mount used by two child stages",
  async (strategy) => {
    const platforms = ["linux/amd64", "linux/arm64"];
    expect(await racesToFix(ONBUILD_TWO_CHILDREN, platforms)).not.toEqual([]);
    const fix = await fixText(ONBUILD_TWO_CHILDREN, strategy, { platforms });
    expect(fix.error).toBeUndefined();
    const lines = fix.after.split("\n");
    expect(lines[1]).toBe(
      "ONBUILD RUN --mount=type=cache,target=/var/cache/apt,id=shared,sharing=locked echo s0-0",
    );
    expect(lines[2]).toBe(
      "RUN --mount=type=cache,target=/var/cache/apt,id=shared,sharing=locked echo s0-0-now",
    );
    if (strategy === "split") {
      expect(fix.after).toContain("id=/var/cache/apt-s1-$TARGETPLATFORM");
      expect(fix.after).toContain("id=/var/cache/apt-s2-$TARGETPLATFORM");
      expect(fix.notes.join("\n")).toMatch(
        /\/shared \(apt\): the mount on line 2 runs in several racing stages \(s1, s2\) as an ONBUILD trigger; .*locked instead/,
      );
    }
    expect(await racesToFix(fix.after, platforms)).toEqual([]);
  },
);

/**
 * transforms/auto.ts + split.ts (fixed): an id that cannot be resolved (`id=$ID`, ID set by
 * no ARG or ENV in the file) may equal any id, so the `$ID` mount was in three races (its
 * own key, //app/target, //var/cache/apt). Only the race filed under its own key rewrote
 * it, as that race alone needed (one stage: `$ID-$TARGETPLATFORM`), and the open hole could
 * still absorb `/var/cache/apt-s2`: verification found a race on
 * //var/cache/apt-s2-linux/amd64 and refused the rewrite. Now every race rewrites the uses of
 * all its keys, and split gives a mount one id that fits every race it is in
 * (`$ID-s0-$TARGETPLATFORM`); auto, classing a race that mixes caches by the least safe of
 * them, locks here.
 */
test.each(["auto", "split"] as const)(
  "%s with an unresolved id next to a split cache",
  async (strategy) => {
    const fix = await fixText(
      [
        "FROM debian AS s0",
        "RUN --mount=type=cache,target=/var/cache/apt,id=$ID echo s0-0",
        "RUN --mount=type=cache,target=/var/cache/apt echo s0-1",
        "FROM s0 AS s1",
        "RUN --mount=type=cache,target=/app/target echo s1-0",
        "FROM debian AS s2",
        "RUN --mount=type=cache,target=/var/cache/apt echo s2-0",
        "FROM debian",
        "COPY --from=s0 /out /s0",
        "COPY --from=s1 /out /s1",
        "COPY --from=s2 /out /s2",
        "",
      ].join("\n"),
      strategy,
      { platforms: ["linux/amd64", "linux/arm64"] },
    );
    expect(fix.error).toBeUndefined();
    expect(fix.after).not.toBe(fix.before);
    if (strategy === "split") expect(fix.after).toContain("id=$ID-s0-$TARGETPLATFORM");
  },
);

/**
 * transforms/split.ts builds the new id from the id *text*: `id=${CACHE_ID}` where CACHE_ID
 * expands to "" (a global ARG not redeclared in the stage) means "default id = target", but
 * split writes `id=${CACHE_ID}-$TARGETPLATFORM` on both mounts below, which puts the apt
 * lists and the cargo git cache into ONE directory per platform (`-linux/amd64`). No race
 * remains, so verification accepts it. split should start from the effective id.
 */
test("split keeps two caches with an id that expands to empty apart", async () => {
  const text = [
    "ARG CACHE_ID=global",
    "FROM debian AS s1",
    "RUN --mount=type=cache,target=/var/lib/apt,id=${CACHE_ID} echo a",
    "RUN --mount=type=cache,target=/usr/local/cargo/git,id=${CACHE_ID} echo b",
    "",
  ].join("\n");
  const fix = await fixText(text, "split", { platforms: ["linux/amd64", "linux/arm64"] });
  expect(fix.error).toBeUndefined();
  const ids = [...fix.after.matchAll(/id=([^ ,]+)/g)].map((m) => m[1]);
  expect(new Set(ids).size).toBe(2);
  expect(ids.every((id) => !id.startsWith("${CACHE_ID}-"))).toBe(true);
});

/**
 * src/races + knowledge (fixed): a race's safety class came from one of its uses. With
 * unresolved ids (`id=${CACHE_ID}`, an ARG without a value) in the group, the race on
 * //root/.cache/s1 was classed "safe" (go-build) and left alone; once lock had fixed the
 * unsafe pip race, it was re-classed and verification found "a race remains". A race that
 * mixes keys now takes the least safe class of them (here "unknown"), and lock locks the
 * uses of every key in it.
 */
test("lock fixes every race that needs fixing when ids are unresolved", async () => {
  const text =
    "\uFEFFFROM debian AS s0\nARG CACHE_ID\nARG TARGETPLATFORM\n" +
    "RUN --mount=type=cache,target=/root/.cache/go-build,id=${CACHE_ID} echo s0-0\n" +
    "\tRUN\t--mount=type=cache,target=/root/.npm,id=${CACHE_ID}\techo s0-1\n" +
    "FROM s0 AS s1\n" +
    "ONBUILD RUN --mount=type=cache,target=/opt/unknown,id=${CACHE_ID} echo s1-0\n" +
    "RUN --mount=type=cache,target=/opt/unknown,id=${CACHE_ID} --mount=type=cache,target=/root/.cache/s1 echo s1-0-now\n" +
    "COPY --from=s0 /out /in1\nFROM s0 AS s2\nARG CACHE_ID\nARG TARGETPLATFORM\nENV ID=env-0\n" +
    "RUN --mount=type=cache,target=/root/.cache/pip,id=${CACHE_ID} \\\n    echo s2-0\n" +
    "COPY --from=s1 /out /in2\nFROM debian\nCOPY --from=s0 /out /s0\nCOPY --from=s1 /out /s1\nCOPY --from=s2 /out /s2";
  const fix = await fixText(text, "lock", { platforms: ["linux/amd64", "linux/arm64"] });
  expect(fix.error).toBeUndefined();
  expect(fix.after).not.toBe(fix.before);
});
