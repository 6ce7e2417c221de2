/** Configuration files, their precedence, ignore globs, extra cache knowledge, and suppressions. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  ConfigError,
  configGrouper,
  findConfig,
  globMatch,
  mayHoldConfig,
  readConfig,
} from "../../src/config/config";
import { check, fix } from "../../src/index";

const RACY = [
  "FROM debian AS a",
  "RUN --mount=type=cache,target=/opt/thing echo a",
  "FROM debian AS b",
  "RUN --mount=type=cache,target=/opt/thing echo b",
  "FROM debian AS c",
  "RUN --mount=type=cache,target=/opt/thing echo c",
  "FROM debian",
  "COPY --from=a /x /a",
  "COPY --from=b /x /b",
  "",
].join("\n");

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-config-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const write = (rel: string, text: string) => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
};
const races = async (paths: string[], opts = {}) =>
  (await check(paths, opts)).files.flatMap((f) =>
    f.races.map((r) => `${r.key} ${r.safety}${r.suppressed ? " suppressed" : ""}`),
  );

test("a config file is found upward from the input and changes the analysis", async () => {
  const df = write("svc/deep/Dockerfile", RACY);
  expect(await races([df])).toEqual(["//opt/thing unknown"]);
  write("buildrace.config.json", JSON.stringify({ caches: { safe: ["/opt/**"] } }));
  expect(findConfig(path.dirname(df))).toBe(path.join(root, "buildrace.config.json"));
  expect(await races([df])).toEqual(["//opt/thing safe"]);
});

test("a directory the walk listed without a config name is not asked again", () => {
  const plain = write("svc/Dockerfile", RACY);
  const configured = write("team/Dockerfile", RACY);
  write("team/.buildracerc", JSON.stringify({ target: "c" }));
  const grouper = configGrouper({});
  grouper.listed(path.join(root, "svc"), ["Dockerfile"]);
  grouper.listed(path.join(root, "team"), [".buildracerc", "Dockerfile"]);
  // the module object itself (this file's `fs` is a read-only view of it)
  const exists = jest.spyOn(require("fs") as typeof fs, "existsSync");
  try {
    expect(grouper.add({ path: plain, kind: "dockerfile" }).group.configPath).toBeUndefined();
    const asked = exists.mock.calls.map((c) => String(c[0]));
    expect(asked.some((p) => path.dirname(p) === path.join(root, "svc"))).toBe(false);
    // the parent was not listed: it is asked as before
    expect(asked).toContain(path.join(root, "buildrace.config.json"));
    // a listing that names a config file leaves the answer to the filesystem
    expect(grouper.add({ path: configured, kind: "dockerfile" }).group.configPath).toBe(
      path.join(root, "team", ".buildracerc"),
    );
  } finally {
    exists.mockRestore();
  }
  // names as a case-insensitive filesystem would match them
  expect(mayHoldConfig(["Dockerfile", "BuildRace.Config.JSON"])).toBe(true);
  expect(mayHoldConfig(["Dockerfile", "buildrace.json"])).toBe(false);
});

test("the nearest config wins, and each input gets its own", async () => {
  write(".buildracerc", JSON.stringify({ target: "c" }));
  write("inner/.buildracerc.json", JSON.stringify({ target: "b" }));
  const outer = write("Dockerfile", RACY);
  const inner = write("inner/Dockerfile", RACY);
  const report = await check([outer, inner]);
  const targets = Object.fromEntries(
    report.files.map((f) => [path.relative(root, f.path), f.builds[0].target]),
  );
  expect(targets).toEqual({ Dockerfile: "c", [path.join("inner", "Dockerfile")]: "b" });
});

test("precedence: flags > --config > found config", async () => {
  write("buildrace.config.json", JSON.stringify({ target: "a", buildArgs: { X: "found" } }));
  const explicit = write("other.json", JSON.stringify({ target: "b" }));
  const df = write("Dockerfile", RACY);
  expect((await check([df])).files[0].builds[0].target).toBe("a");
  expect((await check([df], { configPath: explicit })).files[0].builds[0].target).toBe("b");
  expect((await check([df], { configPath: explicit, target: "c" })).files[0].builds[0].target).toBe(
    "c",
  );
});

test("ignore globs skip files relative to the config's directory", async () => {
  write("buildrace.config.json", JSON.stringify({ ignore: ["vendor/**", "legacy.Dockerfile"] }));
  write("vendor/x/Dockerfile", RACY);
  write("legacy.Dockerfile", RACY);
  write("app/Dockerfile", RACY);
  const report = await check([root]);
  expect(report.files.map((f) => path.relative(root, f.path))).toEqual([
    path.join("app", "Dockerfile"),
  ]);
});

test("strategy from config drives fix", async () => {
  write("buildrace.config.json", JSON.stringify({ strategy: "split" }));
  const df = write("Dockerfile", RACY);
  const { diff } = await fix([df]);
  expect(diff).toContain("id=/opt/thing-a");
  expect(diff).not.toContain("sharing=locked");
});

test("bad config files are reported with the file name", () => {
  const bad = write("bad.json", '{"strategy": "yolo"}');
  expect(() => readConfig(bad)).toThrow(ConfigError);
  expect(() => readConfig(bad)).toThrow(/bad\.json.*strategy/);
  const unknown = write("unknown.json", '{"colour": true}');
  expect(() => readConfig(unknown)).toThrow(/unknown setting "colour"/);
  const broken = write("broken.json", "{");
  expect(() => readConfig(broken)).toThrow(/broken\.json/);
});

test("globMatch", () => {
  expect(globMatch("vendor/**", "vendor/a/b/Dockerfile")).toBe(true);
  expect(globMatch("**/legacy/*", "x/legacy/Dockerfile")).toBe(true);
  expect(globMatch("*.Dockerfile", "a/b.Dockerfile")).toBe(false);
  expect(globMatch("a/*.Dockerfile", "a/b.Dockerfile")).toBe(true);
});

describe("# buildrace-ignore", () => {
  const withComment = (comment: string) =>
    RACY.replace(
      "RUN --mount=type=cache,target=/opt/thing echo b",
      `${comment}\nRUN --mount=type=cache,target=/opt/thing echo b`,
    );

  test("silences the race of the RUN below (reported as suppressed, check passes)", async () => {
    const df = write("Dockerfile", withComment("# buildrace-ignore"));
    expect(await races([df])).toEqual(["//opt/thing unknown suppressed"]);
    const { diff } = await fix([df]);
    expect(diff).toBe("");
  });
  test("with a list, only the named rules, tools or cache ids", async () => {
    const other = write("a/Dockerfile", withComment("# buildrace-ignore: apt, nested-cache-mount"));
    expect(await races([other])).toEqual(["//opt/thing unknown"]);
    const named = write("b/Dockerfile", withComment("# buildrace-ignore: /opt/thing"));
    expect(await races([named])).toEqual(["//opt/thing unknown suppressed"]);
  });
  test("a comment separated from the RUN by an instruction does not apply", async () => {
    const df = write(
      "Dockerfile",
      RACY.replace("FROM debian AS b", "# buildrace-ignore\nFROM debian AS b"),
    );
    expect(await races([df])).toEqual(["//opt/thing unknown"]);
  });
  test("three racing uses: silencing one leaves the other two racing", async () => {
    const three = RACY.replace("COPY --from=b /x /b", "COPY --from=b /x /b\nCOPY --from=c /x /c");
    const df = write(
      "Dockerfile",
      three.replace(
        "RUN --mount=type=cache,target=/opt/thing echo b",
        "# buildrace-ignore\nRUN --mount=type=cache,target=/opt/thing echo b",
      ),
    );
    expect(await races([df])).toEqual(["//opt/thing unknown"]);
  });
});
