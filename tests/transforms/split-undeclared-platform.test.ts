/**
 * split gives a mount racing with itself across platforms a per-platform id
 * (`-$TARGETPLATFORM`) and declares `ARG TARGETPLATFORM` right after the stage's FROM. A
 * stage that already reads `$TARGETPLATFORM` without declaring it (empty there: a mount id,
 * a RUN's environment) would read the platform once declared, so split locks that race
 * instead and says why; it splits as before where nothing else reads it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planFixes } from "../../src/apply/fix";
import { analyze } from "../../src/pipeline";

const PLATFORMS = ["linux/amd64", "linux/arm64"];

async function inDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-split-platform-"));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function split(text: string) {
  return inDir(async (dir) => {
    const file = path.join(dir, "Dockerfile");
    fs.writeFileSync(file, text);
    const plan = await planFixes([{ path: file, kind: "dockerfile" }], {
      strategy: "split",
      platforms: PLATFORMS,
    });
    return plan.fixes[0];
  });
}

/** The cache keys of the mounts on `line` for linux/amd64, once `text` is analysed. */
async function keysOn(text: string, line: number): Promise<string[]> {
  return inDir(async (dir) => {
    const file = path.join(dir, "Dockerfile");
    fs.writeFileSync(file, text);
    const r = await analyze([{ path: file, kind: "dockerfile" }], { platforms: PLATFORMS });
    return r.files[0].cacheRuns
      .filter((c) => c.instruction.line === line && c.platform === "linux/amd64")
      .flatMap((c) => c.mounts.map((m) => m.key));
  });
}

const lineOf = (text: string, needle: string) =>
  text.split("\n").findIndex((l) => l.includes(needle)) + 1;

test("an undeclared $TARGETPLATFORM in another mount's id: locked, the two caches stay apart", async () => {
  const text = [
    "FROM debian AS a",
    "RUN --mount=type=cache,target=/var/lib/apt,id=cache-$TARGETPLATFORM,sharing=private apt-get update",
    "RUN --mount=type=cache,target=/cache/npm echo a",
    "FROM debian AS b",
    "ARG TARGETPLATFORM",
    "RUN --mount=type=cache,target=/root/.cache/pip,id=cache-$TARGETPLATFORM,sharing=locked pip install x",
    "FROM debian",
    "COPY --from=a /a /a",
    "COPY --from=b /b /b",
    "",
  ].join("\n");
  const fix = await split(text);
  expect(fix.error).toBeUndefined();
  expect(fix.after).not.toContain("ARG TARGETPLATFORM\nRUN --mount=type=cache,target=/var/lib/apt");
  expect(fix.after).toContain("RUN --mount=type=cache,target=/cache/npm,sharing=locked echo a");
  expect(fix.notes.join("\n")).toMatch(
    /stage a reads \$TARGETPLATFORM on line 2 without declaring it.*locked instead/,
  );
  // stage a's apt cache keeps its own id, apart from stage b's pip cache
  const apt = await keysOn(fix.after, lineOf(fix.after, "/var/lib/apt"));
  const pip = await keysOn(fix.after, lineOf(fix.after, "/root/.cache/pip"));
  expect(apt).toEqual(await keysOn(text, 2));
  expect(apt).not.toEqual(pip);
});

test("a RUN reading ${TARGETPLATFORM} in its command before any ARG: locked", async () => {
  const text = [
    "FROM debian",
    'RUN echo "building for ${TARGETPLATFORM:-unknown}" > /platform',
    "RUN --mount=type=cache,target=/cache/npm npm ci",
    "",
  ].join("\n");
  const fix = await split(text);
  expect(fix.error).toBeUndefined();
  expect(fix.after).not.toContain("ARG TARGETPLATFORM");
  expect(fix.after).toContain("target=/cache/npm,sharing=locked");
  expect(fix.notes.join("\n")).toMatch(/reads \$TARGETPLATFORM on line 2/);
});

test.each([
  [
    "only after the stage declares it",
    [
      "FROM debian",
      "RUN --mount=type=cache,target=/cache/npm npm ci",
      "ARG TARGETPLATFORM",
      "RUN echo $TARGETPLATFORM > /platform",
    ],
  ],
  [
    "only in the mount split rewrites",
    ["FROM debian", "RUN --mount=type=cache,target=/cache/npm,id=npm-$TARGETPLATFORM npm ci"],
  ],
  [
    "a longer name",
    ["FROM debian", "RUN echo $TARGETPLATFORMS", "RUN --mount=type=cache,target=/cache/npm npm ci"],
  ],
])("$TARGETPLATFORM read %s: split as before", async (_what, lines) => {
  const text = [...lines, ""].join("\n");
  const fix = await split(text);
  expect(fix.error).toBeUndefined();
  expect(fix.after).toContain("FROM debian\nARG TARGETPLATFORM\n");
  expect(fix.after).toMatch(/id=[^ ]*-\$TARGETPLATFORM npm ci/);
  expect(fix.after).not.toContain("sharing=locked");
});
