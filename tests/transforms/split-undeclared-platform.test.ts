/**
 * split gives a mount racing with itself across platforms a per-platform id
 * (`-$TARGETPLATFORM`) and declares `ARG TARGETPLATFORM` right after the stage's FROM. A
 * stage that already reads `$TARGETPLATFORM` without declaring it (empty there: a mount id,
 * a RUN's environment) would read the platform once declared, so split locks that race
 * instead and says why; it splits as before where nothing else reads it.
 */
import { analyzeText, fixText, keysAt } from "../helpers/analyze";

const PLATFORMS = ["linux/amd64", "linux/arm64"];

const split = (text: string) => fixText(text, "split", { platforms: PLATFORMS });

/** The cache keys of the mounts on `line`, once `text` is analysed. */
const keysOn = async (text: string, line: number) =>
  keysAt(await analyzeText(text, { platforms: PLATFORMS }), line);

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
