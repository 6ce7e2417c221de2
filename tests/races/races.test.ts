/**
 * Race stage: which overlapping uses share a directory (SPEC §2 "When two uses race") and
 * how each race is classified (SPEC §2 knowledge base, §4 output contract).
 */
import { analyzeText, df, isParallel, raceLines, racesOf } from "../helpers/analyze";

/** Sibling stages s0..sN-1, each with one cache RUN on line 2*i+2, all built by the last stage. */
function siblings(mounts: string[], cmd = (i: number) => `echo s${i}`): string {
  const lines: string[] = [];
  mounts.forEach((m, i) => lines.push(`FROM alpine AS s${i}`, `RUN --mount=${m} ${cmd(i)}`));
  lines.push("FROM alpine", ...mounts.map((_m, i) => `COPY --from=s${i} /o /s${i}`));
  return df(...lines);
}

describe("who races", () => {
  test("equal explicit ids across different stages race", async () => {
    const f = await analyzeText(
      siblings(["type=cache,id=deps,target=/a", "type=cache,id=deps,target=/b"]),
    );
    expect(f.errors).toEqual([]);
    expect(f.races).toHaveLength(1);
    expect(f.races[0]).toMatchObject({
      rule: "shared-cache-race",
      key: "/deps",
      uses: [
        { line: 2, stage: "s0", build: "default" },
        { line: 4, stage: "s1", build: "default" },
      ],
    });
  });

  test("the same default id in two stages races", async () => {
    const f = await analyzeText(
      siblings(["type=cache,target=/root/.cache", "type=cache,target=/root/.cache"]),
    );
    expect(f.races.map((r) => [r.rule, r.key])).toEqual([["shared-cache-race", "//root/.cache"]]);
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("different keys that overlap are parallel but do not race", async () => {
    const f = await analyzeText(siblings(["type=cache,target=/a", "type=cache,target=/b"]));
    expect(f.parallel).toEqual([[2, 4]]);
    expect(f.races).toEqual([]);
  });

  test("the same key in steps that cannot overlap does not race", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo a",
        "FROM a",
        "RUN --mount=type=cache,target=/x echo b",
      ),
    );
    expect(f.races).toEqual([]);
  });

  test("locked + locked does not race (they are still parallel)", async () => {
    const f = await analyzeText(
      siblings(["type=cache,target=/x,sharing=locked", "type=cache,target=/x,sharing=locked"]),
    );
    expect(f.parallel).toEqual([[2, 4]]);
    expect(f.races).toEqual([]);
  });

  test("locked + shared does not race", async () => {
    const f = await analyzeText(
      siblings(["type=cache,target=/x,sharing=locked", "type=cache,target=/x"]),
    );
    expect(f.races).toEqual([]);
  });

  test.each([
    ["private + private", "sharing=private", "sharing=private"],
    ["private + shared", "sharing=private", "sharing=shared"],
  ])("%s does not race", async (_n, a, b) => {
    const f = await analyzeText(
      siblings([`type=cache,target=/x,${a}`, `type=cache,target=/x,${b}`]),
    );
    expect(f.parallel).toEqual([[2, 4]]);
    expect(f.races).toEqual([]);
  });

  test("a half-locked group: the two shared uses race, lockedUses names the locked one", async () => {
    const f = await analyzeText(
      siblings([
        "type=cache,target=/x",
        "type=cache,target=/x,sharing=locked",
        "type=cache,target=/x",
      ]),
    );
    expect(f.races).toHaveLength(1);
    const r = f.races[0];
    expect(r.key).toBe("//x");
    expect(r.uses.map((u) => u.line)).toEqual([2, 6]);
    expect(r.lockedUses?.map((u) => [u.line, u.stage])).toEqual([[4, "s1"]]);
  });

  test("races are grouped by key", async () => {
    const f = await analyzeText(
      siblings([
        "type=cache,target=/x --mount=type=cache,target=/y",
        "type=cache,target=/x",
        "type=cache,target=/y",
      ]),
    );
    expect(f.races.map((r) => [r.key, r.uses.map((u) => u.line)])).toEqual([
      ["//x", [2, 4]],
      ["//y", [2, 6]],
    ]);
  });

  test("two mounts of one key in the same RUN are not a race", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,target=/x --mount=type=cache,id=/x,target=/y true"),
    );
    expect(f.races).toEqual([]);
  });

  test("a race across platforms: one use, the instruction racing with itself", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,target=/var/cache/apt apt-get update"),
      {
        platforms: ["linux/amd64", "linux/arm64"],
      },
    );
    expect(f.parallel).toEqual([[2, 2]]);
    expect(f.races).toHaveLength(1);
    expect(f.races[0].uses.map((u) => [u.line, u.build])).toEqual([[2, "default"]]);
  });
});

describe("nested cache mounts", () => {
  test("/cache and /cache/npm in two parallel steps → nested-cache-mount", async () => {
    const m = "type=cache,target=/cache --mount=type=cache,target=/cache/npm";
    const f = await analyzeText(siblings([m, m]));
    expect(f.errors).toEqual([]);
    const nested = racesOf(f, "nested-cache-mount");
    expect(nested).toHaveLength(1);
    expect(nested[0].key).toBe("//cache");
    expect(nested[0].uses.map((u) => u.line)).toEqual([2, 4]);
    expect(nested[0].safety).toBe("unsafe");
    // and the plain shared-cache races on both keys
    expect(
      racesOf(f)
        .map((r) => r.key)
        .sort(),
    ).toEqual(["//cache", "//cache/npm"]);
  });

  test("a nested layout in steps that cannot overlap is not reported", async () => {
    const m = "type=cache,target=/cache --mount=type=cache,target=/cache/npm";
    const f = await analyzeText(
      df("FROM alpine AS a", `RUN --mount=${m} echo a`, "FROM a", `RUN --mount=${m} echo b`),
    );
    expect(racesOf(f, "nested-cache-mount")).toEqual([]);
  });

  test("nested under different outer caches is not reported", async () => {
    const f = await analyzeText(
      siblings([
        "type=cache,id=one,target=/cache --mount=type=cache,target=/cache/npm",
        "type=cache,id=two,target=/cache --mount=type=cache,target=/cache/npm",
      ]),
    );
    expect(racesOf(f, "nested-cache-mount")).toEqual([]);
  });

  test("a locked outer cache is not reported as nested", async () => {
    const m = "type=cache,target=/cache,sharing=locked --mount=type=cache,target=/cache/npm";
    const f = await analyzeText(siblings([m, m]));
    expect(racesOf(f, "nested-cache-mount")).toEqual([]);
  });
});

describe("safety, tool and fix", () => {
  const race = async (target: string, opts = {}) => {
    const f = await analyzeText(
      siblings([`type=cache,target=${target}`, `type=cache,target=${target}`]),
      opts,
    );
    expect(racesOf(f)).toHaveLength(1);
    return racesOf(f)[0];
  };

  test("apt: unsafe, lock", async () => {
    expect(await race("/var/cache/apt")).toMatchObject({
      safety: "unsafe",
      tool: "apt",
      fix: "lock",
    });
    expect(await race("/var/lib/apt")).toMatchObject({
      safety: "unsafe",
      tool: "apt",
      fix: "lock",
    });
  });

  test("cargo registry: unsafe, lock", async () => {
    expect(await race("/usr/local/cargo/registry")).toMatchObject({
      safety: "unsafe",
      tool: "cargo-registry",
      fix: "lock",
      key: "//usr/local/cargo/registry",
    });
  });

  test("cargo registry through $CARGO_HOME of the official rust image", async () => {
    const f = await analyzeText(
      df(
        "FROM rust:1.80 AS a",
        "RUN --mount=type=cache,target=$CARGO_HOME/registry cargo build",
        "FROM rust:1.80 AS b",
        "RUN --mount=type=cache,target=/usr/local/cargo/registry cargo test",
        "FROM alpine",
        "COPY --from=a /o /a",
        "COPY --from=b /o /b",
      ),
    );
    expect(f.races).toHaveLength(1);
    expect(f.races[0]).toMatchObject({
      key: "//usr/local/cargo/registry",
      tool: "cargo-registry",
      safety: "unsafe",
    });
  });

  test("cargo target/: serialising, split", async () => {
    expect(await race("/app/target")).toMatchObject({
      safety: "serialising",
      tool: "cargo-target",
      fix: "split",
    });
  });

  test("go build cache: safe, none", async () => {
    expect(await race("/root/.cache/go-build")).toMatchObject({
      safety: "safe",
      tool: "go-build",
      fix: "none",
    });
  });

  test("go module cache: safe, none", async () => {
    expect(await race("/go/pkg/mod")).toMatchObject({
      safety: "safe",
      tool: "go-mod",
      fix: "none",
    });
  });

  test("unknown path: unknown, lock", async () => {
    expect(await race("/opt/thing")).toMatchObject({
      safety: "unknown",
      tool: "unknown",
      fix: "lock",
    });
  });

  test("classification by an explicit id when the mount point says nothing", async () => {
    const f = await analyzeText(
      siblings(["type=cache,id=apt-cache,target=/c1", "type=cache,id=apt-cache,target=/c2"]),
    );
    expect(racesOf(f)[0]).toMatchObject({ tool: "apt", safety: "unsafe", fix: "lock" });
  });

  test("a relative target is classified by where it is mounted", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "WORKDIR /var/cache",
        "RUN --mount=type=cache,target=apt echo a",
        "FROM alpine AS b",
        "WORKDIR /var/cache",
        "RUN --mount=type=cache,target=apt echo b",
        "FROM alpine",
        "COPY --from=a /o /a",
        "COPY --from=b /o /b",
      ),
    );
    expect(racesOf(f)[0]).toMatchObject({ key: "/apt", tool: "apt", safety: "unsafe" });
  });

  test("user rules from config override the knowledge base", async () => {
    const r = await race("/opt/thing", {
      rules: [{ pattern: "/opt/**", tool: "thing", safety: "safe" }],
    });
    expect(r).toMatchObject({ safety: "safe", tool: "thing", fix: "none" });
  });

  test("a per-platform cache racing across platforms is split, not just locked", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,target=/var/cache/apk apk add curl"),
      {
        platforms: ["linux/amd64", "linux/arm64"],
      },
    );
    expect(f.races).toHaveLength(1);
    expect(f.races[0]).toMatchObject({ tool: "apk", fix: "split" });
  });

  test("a locked per-platform cache still shared across platforms is not a shared-cache race", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,target=/var/cache/apk,sharing=locked apk add curl"),
      { platforms: ["linux/amd64", "linux/arm64"] },
    );
    expect(isParallel(f, 2, 2)).toBe(true);
    expect(racesOf(f)).toEqual([]);
  });
});
