/**
 * Knowledge base: classify() for every path family of SPEC §2 "Cache safety knowledge
 * base". Classification looks at the absolute mount point and at the cache id.
 */
import { classify, UNKNOWN } from "../../src/knowledge/kb";

type Row = [string, string, "unsafe" | "serialising" | "safe"];

const unsafe: Row[] = [
  ["/var/cache/apt", "apt", "unsafe"],
  ["/var/cache/apt/archives", "apt", "unsafe"],
  ["/var/lib/apt", "apt", "unsafe"],
  ["/var/lib/apt/lists", "apt", "unsafe"],
  ["/var/cache/apk", "apk", "unsafe"],
  ["/etc/apk/cache", "apk", "unsafe"],
  ["/var/cache/dnf", "dnf", "unsafe"],
  ["/var/cache/yum", "dnf", "unsafe"],
  ["/var/cache/zypp", "zypper", "unsafe"],
  ["/usr/local/cargo/registry", "cargo-registry", "unsafe"],
  ["/root/.cargo/registry", "cargo-registry", "unsafe"],
  ["/usr/local/cargo/registry/index", "cargo-registry", "unsafe"],
  ["/usr/local/cargo/git", "cargo-git", "unsafe"],
  ["/root/.cargo/git/db", "cargo-git", "unsafe"],
  ["/root/.cache/sccache", "sccache", "unsafe"],
  ["/usr/local/share/.cache/yarn", "yarn-v1", "unsafe"],
  ["/root/.cache/yarn", "yarn-v1", "unsafe"],
  ["/root/.cache/pypoetry", "poetry", "unsafe"],
  ["/root/.m2", "maven", "unsafe"],
  ["/root/.m2/repository", "maven", "unsafe"],
  ["/root/.gradle", "gradle", "unsafe"],
  ["/home/gradle/.gradle/caches", "gradle", "unsafe"],
  ["/root/.composer/cache", "composer", "unsafe"],
  ["/root/.cache/composer", "composer", "unsafe"],
  ["/root/.nuget/packages", "nuget", "unsafe"],
  ["/root/.conan2", "conan", "unsafe"],
  ["/root/.conan", "conan", "unsafe"],
  ["/root/.cache/bazel", "bazel", "unsafe"],
];

const serialising: Row[] = [
  ["/app/target", "cargo-target", "serialising"],
  ["/usr/src/app/target", "cargo-target", "serialising"],
  ["/app/build", "build-output", "serialising"],
  ["/app/dist", "build-output", "serialising"],
  ["/app/node_modules/.cache", "build-output", "serialising"],
  ["/usr/local/bundle", "bundler", "serialising"],
];

const safe: Row[] = [
  ["/go/pkg/mod", "go-mod", "safe"],
  ["/root/go/pkg/mod", "go-mod", "safe"],
  ["/root/.cache/go-build", "go-build", "safe"],
  ["/root/.ccache", "ccache", "safe"],
  ["/root/.cache/ccache", "ccache", "safe"],
  ["/root/.npm", "npm", "safe"],
  ["/home/node/.npm/_cacache", "npm", "safe"],
  ["/app/.yarn/cache", "yarn-berry", "safe"],
  ["/root/.yarn/berry/cache", "yarn-berry", "safe"],
  ["/root/.local/share/pnpm/store", "pnpm", "safe"],
  ["/pnpm/store", "pnpm", "safe"],
  ["/root/.cache/pip", "pip", "safe"],
  ["/root/.cache/uv", "uv", "safe"],
  ["/root/.cache/bazel-disk", "bazel-disk-cache", "safe"],
];

describe.each([...unsafe, ...serialising, ...safe])("mount point %s", (path, tool, safety) => {
  test(`is ${tool} (${safety})`, () => {
    const k = classify(path, path);
    expect(k.tool).toBe(tool);
    expect(k.safety).toBe(safety);
    expect(k.why.length).toBeGreaterThan(0);
  });
});

describe("platform- and version-dependent caches", () => {
  test.each(["/var/cache/apk", "/root/.cache/uv", "/root/.cache/pip", "/app/target"])(
    "%s is per platform",
    (p) => {
      expect(classify(p, p).perPlatform).toBe(true);
    },
  );

  test.each([
    "/var/cache/apt",
    "/go/pkg/mod",
    "/root/.cache/go-build",
    "/usr/local/cargo/registry",
  ])("%s is not per platform", (p) => {
    expect(classify(p, p).perPlatform).toBeFalsy();
  });
});

describe("classification by id", () => {
  test.each([
    ["apt-cache", "apt"],
    ["apt-lists", "apt"],
    ["apk", "apk"],
    ["cargo-registry", "cargo-registry"],
    ["cargo-git", "cargo-git"],
    ["gomod", "go-mod"],
    ["go-build", "go-build"],
    ["npm", "npm"],
    ["pnpm-store", "pnpm"],
    ["maven", "maven"],
  ])("id %s with an uninformative mount point is %s", (id, tool) => {
    expect(classify("/c", id).tool).toBe(tool);
  });

  test("the mount point may be unknown (unresolved target)", () => {
    expect(classify(undefined, "/var/cache/apt").tool).toBe("apt");
  });
});

describe("unknown caches", () => {
  test.each(["/opt/thing", "/data", "/root/.cache/mytool", "/workspace/stuff"])(
    "%s is unknown",
    (p) => {
      const k = classify(p, p);
      expect(k.safety).toBe("unknown");
      expect(k).toEqual(UNKNOWN);
    },
  );

  test("look-alike names do not match", () => {
    expect(classify("/srv/aptitude-notes", "/srv/aptitude-notes").safety).toBe("unknown");
    expect(classify("/srv/targets", "/srv/targets").safety).toBe("unknown");
    expect(classify("/opt/distribution", "/opt/distribution").safety).toBe("unknown");
  });
});

describe("user rules", () => {
  test("a user rule (glob) comes before the built-in rules", () => {
    const k = classify("/var/cache/apt", "/var/cache/apt", [
      { pattern: "/var/cache/**", tool: "mine", safety: "safe" },
    ]);
    expect(k).toMatchObject({ tool: "mine", safety: "safe" });
  });

  test("a user rule can classify an unknown cache, by path or by id", () => {
    const rules = [
      { pattern: "/opt/*", safety: "serialising" as const },
      { pattern: "shared-*", tool: "t", safety: "safe" as const },
    ];
    expect(classify("/opt/thing", "/opt/thing", rules).safety).toBe("serialising");
    expect(classify("/opt/a/b", "/opt/a/b", rules).safety).toBe("unknown"); // * does not cross /
    expect(classify("/c", "shared-x", rules)).toMatchObject({ tool: "t", safety: "safe" });
  });
});
