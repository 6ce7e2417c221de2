/**
 * Resolve stage: a cache mount's effective key (SPEC §2 "Resolving a cache mount's key",
 * BUILDKIT.md §2-§4): NS + "/" + (id || path.Clean(target)), plus the base.
 */
import {
  analyzeText,
  df,
  errorsOf,
  isParallel,
  keysAt,
  raceLines,
  runAt,
} from "../helpers/analyze";

/** Two sibling stages a (line 2) and b (line 4), both built by the final stage. */
function siblings(
  mountA: string,
  mountB: string,
  extraA: string[] = [],
  extraB: string[] = [],
): string {
  return df(
    ...[
      "FROM alpine AS a",
      ...extraA,
      `RUN --mount=${mountA} echo a`,
      "FROM alpine AS b",
      ...extraB,
      `RUN --mount=${mountB} echo b`,
      "FROM alpine",
      "COPY --from=a /a /a",
      "COPY --from=b /b /b",
    ],
  );
}

describe("default id: the cleaned target as written", () => {
  test("/x/ and /x are the same key", async () => {
    const f = await analyzeText(siblings("type=cache,target=/x/", "type=cache,target=/x"));
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 2)).toEqual(["//x"]);
    expect(keysAt(f, 4)).toEqual(["//x"]);
    expect(runAt(f, 2)[0].mounts[0].id).toBe("/x");
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("./a/../b cleans to b", async () => {
    const f = await analyzeText(df("FROM alpine", "RUN --mount=type=cache,target=./a/../b true"));
    expect(f.errors).toEqual([]);
    expect(runAt(f, 2)[0].mounts[0].id).toBe("b");
    expect(keysAt(f, 2)).toEqual(["/b"]);
  });

  test.each([
    ["/root/.cache/", "//root/.cache"],
    ["/a//b/./c", "//a/b/c"],
    ["/../x", "//x"],
    ["node_modules", "/node_modules"],
    ["./node_modules/", "/node_modules"],
    ["../up", "/../up"],
  ])("target %s → key %s", async (target, key) => {
    const f = await analyzeText(
      df("FROM alpine", "WORKDIR /w/x", `RUN --mount=type=cache,target=${target} true`),
    );
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 3)).toEqual([key]);
  });

  test("a relative target under two different WORKDIRs is one key", async () => {
    const f = await analyzeText(
      siblings(
        "type=cache,target=node_modules",
        "type=cache,target=node_modules",
        ["WORKDIR /a"],
        ["WORKDIR /b"],
      ),
    );
    // lines: a: 1 FROM, 2 WORKDIR, 3 RUN; b: 4 FROM, 5 WORKDIR, 6 RUN
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 3)).toEqual(["/node_modules"]);
    expect(keysAt(f, 6)).toEqual(["/node_modules"]);
    expect(raceLines(f)).toEqual([[3, 6]]);
  });

  test("a relative target and the absolute path it mounts at are different keys", async () => {
    const f = await analyzeText(
      siblings("type=cache,target=node_modules", "type=cache,target=/a/node_modules", [
        "WORKDIR /a",
      ]),
    );
    expect(keysAt(f, 3)).toEqual(["/node_modules"]);
    expect(keysAt(f, 5)).toEqual(["//a/node_modules"]);
    expect(isParallel(f, 3, 5)).toBe(true);
    expect(raceLines(f)).toEqual([]);
  });
});

describe("explicit id", () => {
  test("is used verbatim (not cleaned)", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,id=/foo/./bar/,target=/x true"),
    );
    expect(runAt(f, 2)[0].mounts[0].id).toBe("/foo/./bar/");
    expect(keysAt(f, 2)).toEqual(["//foo/./bar/"]);
  });

  test("id=gomod gives key /gomod", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,id=gomod,target=/go/pkg/mod true"),
    );
    expect(keysAt(f, 2)).toEqual(["/gomod"]);
  });

  test("an explicit id equal to another mount's cleaned target collides with it", async () => {
    const f = await analyzeText(
      siblings("type=cache,id=/root/.cache,target=/elsewhere", "type=cache,target=/root/.cache/"),
    );
    expect(keysAt(f, 2)).toEqual(["//root/.cache"]);
    expect(keysAt(f, 4)).toEqual(["//root/.cache"]);
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("different explicit ids on the same target do not share", async () => {
    const f = await analyzeText(
      siblings("type=cache,id=one,target=/x", "type=cache,id=two,target=/x"),
    );
    expect(isParallel(f, 2, 4)).toBe(true);
    expect(raceLines(f)).toEqual([]);
  });
});

describe("BUILDKIT_CACHE_MOUNT_NS", () => {
  test("prefixes every key, explicit ids included, without an ARG", async () => {
    const f = await analyzeText(
      siblings("type=cache,target=/x", "type=cache,id=gomod,target=/go"),
      {
        buildArgs: { BUILDKIT_CACHE_MOUNT_NS: "ns" },
      },
    );
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 2)).toEqual(["ns//x"]);
    expect(keysAt(f, 4)).toEqual(["ns/gomod"]);
  });

  test("an ARG default named BUILDKIT_CACHE_MOUNT_NS does not set the namespace (only the build arg does)", async () => {
    const f = await analyzeText(
      df(
        "ARG BUILDKIT_CACHE_MOUNT_NS=ns",
        "FROM alpine",
        "ARG BUILDKIT_CACHE_MOUNT_NS",
        "RUN --mount=type=cache,target=/x true",
      ),
    );
    expect(keysAt(f, 4)).toEqual(["//x"]);
  });

  test("mounts in one namespaced build still race with each other", async () => {
    const f = await analyzeText(siblings("type=cache,target=/x", "type=cache,target=/x"), {
      buildArgs: { BUILDKIT_CACHE_MOUNT_NS: "ns" },
    });
    expect(f.races.map((r) => r.key)).toEqual(["ns//x"]);
  });
});

describe("bases: uid/gid/mode and from= make keys distinct", () => {
  test("uid makes the key distinct from a plain mount", async () => {
    const f = await analyzeText(siblings("type=cache,target=/x", "type=cache,target=/x,uid=1000"));
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 2)).toEqual(["//x"]);
    expect(keysAt(f, 4)[0]).toMatch(/^\/\/x:uid=1000,gid=\d+,mode=[0-7]+$/);
    expect(isParallel(f, 2, 4)).toBe(true);
    expect(raceLines(f)).toEqual([]);
  });

  test.each([
    ["uid=1000", "uid=1001"],
    ["gid=1", "gid=2"],
    ["mode=0700", "mode=0755,uid=5"],
    ["mode=0700", "mode=0777"],
  ])("%s vs %s: different keys, no race", async (x, y) => {
    const f = await analyzeText(siblings(`type=cache,target=/x,${x}`, `type=cache,target=/x,${y}`));
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 2)[0]).not.toBe(keysAt(f, 4)[0]);
    expect(keysAt(f, 2)[0]).toMatch(/^\/\/x:uid=/);
    expect(raceLines(f)).toEqual([]);
  });

  test.each([
    ["mode=755", "mode=0755"],
    ["mode=0755", "uid=0"],
    ["uid=1000", "uid=01000,gid=0"],
    ["uid=0", "gid=0"],
  ])("%s and %s make the same implicit base: one key, a race", async (x, y) => {
    // BuildKit parses mode (octal) and uid/gid (decimal) to numbers; unset ones default
    // to uid 0, gid 0, mode 0755 in the mkdir that becomes the base.
    const f = await analyzeText(siblings(`type=cache,target=/x,${x}`, `type=cache,target=/x,${y}`));
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 2)).toEqual(keysAt(f, 4));
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("the same uid/gid/mode on both sides is one key and races", async () => {
    const f = await analyzeText(
      siblings("type=cache,target=/x,uid=1000,gid=1000", "type=cache,gid=1000,uid=1000,target=/x"),
    );
    expect(keysAt(f, 2)).toEqual(keysAt(f, 4));
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("from= makes the key distinct", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS seed",
        "RUN echo seed",
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x,from=seed echo a",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x echo b",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 4)).toEqual(["//x:from=seed"]);
    expect(keysAt(f, 6)).toEqual(["//x"]);
    expect(isParallel(f, 4, 6)).toBe(true);
    expect(raceLines(f)).toEqual([]);
  });

  test("from= an image vs from= a stage: different bases", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS seed",
        "RUN echo seed",
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x,from=seed,source=/s echo a",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x,from=busybox,source=/s echo b",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(keysAt(f, 4)[0]).not.toBe(keysAt(f, 6)[0]);
    expect(raceLines(f)).toEqual([]);
  });

  test("sharing and source are not part of the key", async () => {
    const f = await analyzeText(
      siblings("type=cache,target=/x,sharing=locked", "type=cache,target=/x,source=sub"),
    );
    expect(keysAt(f, 2)).toEqual(["//x"]);
    expect(keysAt(f, 4)).toEqual(["//x"]);
  });
});

describe("variable expansion in id and target", () => {
  test("id=$UNSET in a scratch-based stage falls back to the target", async () => {
    const f = await analyzeText(
      df("FROM scratch", "RUN --mount=type=cache,id=$UNSET,target=/x/ true"),
    );
    expect(f.errors).toEqual([]);
    const m = runAt(f, 2)[0].mounts[0];
    expect(m.resolved).toBe(true);
    expect(m.id).toBe("/x");
    expect(m.key).toBe("//x");
  });

  test("ARG with a default, without --build-arg", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "ARG CID=default",
        "ARG DIR=/cache",
        "RUN --mount=type=cache,id=$CID,target=$DIR/sub true",
        "RUN --mount=type=cache,target=${DIR}/t true",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 4)).toEqual(["/default"]);
    expect(runAt(f, 4)[0].mounts[0].target).toBe("/cache/sub");
    expect(keysAt(f, 5)).toEqual(["//cache/t"]);
    expect(runAt(f, 4)[0].mounts[0].resolved).toBe(true);
  });

  test("ARG with a default, overridden by --build-arg", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "ARG CID=default",
        "ARG DIR=/cache",
        "RUN --mount=type=cache,id=$CID,target=$DIR/sub true",
        "RUN --mount=type=cache,target=${DIR}/t true",
      ),
      { buildArgs: { CID: "fromcli", DIR: "/other" } },
    );
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 4)).toEqual(["/fromcli"]);
    expect(runAt(f, 4)[0].mounts[0].target).toBe("/other/sub");
    expect(keysAt(f, 5)).toEqual(["//other/t"]);
  });

  test("ARG without a default takes the --build-arg", async () => {
    const f = await analyzeText(
      df("FROM alpine", "ARG CID", "RUN --mount=type=cache,id=$CID,target=/x true"),
      {
        buildArgs: { CID: "given" },
      },
    );
    expect(keysAt(f, 3)).toEqual(["/given"]);
  });

  test("a --build-arg for an ARG declared after the RUN does not reach it", async () => {
    const f = await analyzeText(
      df("FROM scratch", "RUN --mount=type=cache,id=$CID,target=/x true", "ARG CID"),
      {
        buildArgs: { CID: "late" },
      },
    );
    expect(keysAt(f, 2)).toEqual(["//x"]);
  });

  test("a global ARG not re-declared in the stage expands to empty", async () => {
    const text = df("ARG CID=glob", "FROM alpine", "RUN --mount=type=cache,id=$CID,target=/x true");
    const f = await analyzeText(text);
    expect(f.errors).toEqual([]);
    expect(runAt(f, 3)[0].mounts[0].resolved).toBe(true);
    expect(keysAt(f, 3)).toEqual(["//x"]);
    // even with a --build-arg: the ARG is still not declared in the stage
    const g = await analyzeText(text, { buildArgs: { CID: "cli" } });
    expect(keysAt(g, 3)).toEqual(["//x"]);
  });

  test("a re-declared global ARG takes the global default, or the --build-arg", async () => {
    const text = df(
      "ARG CID=glob",
      "FROM alpine",
      "ARG CID",
      "RUN --mount=type=cache,id=$CID,target=/x true",
    );
    expect(keysAt(await analyzeText(text), 4)).toEqual(["/glob"]);
    expect(keysAt(await analyzeText(text, { buildArgs: { CID: "cli" } }), 4)).toEqual(["/cli"]);
  });

  test("a stage ARG's own default wins over the global default (dispatchArg)", async () => {
    const text = df(
      "ARG CID=glob",
      "FROM alpine",
      "ARG CID=local",
      "RUN --mount=type=cache,id=$CID,target=/x true",
    );
    expect(keysAt(await analyzeText(text), 4)).toEqual(["/local"]);
    expect(keysAt(await analyzeText(text, { buildArgs: { CID: "cli" } }), 4)).toEqual(["/cli"]);
  });

  test("automatic platform args are in scope only when re-declared", async () => {
    const text = df(
      "FROM alpine",
      "RUN --mount=type=cache,id=apk-$TARGETARCH,target=/var/cache/apk true",
      "ARG TARGETARCH",
      "RUN --mount=type=cache,id=apk-$TARGETARCH,target=/var/cache/apk true",
    );
    const f = await analyzeText(text);
    expect(keysAt(f, 2)).toEqual(["/apk-"]);
    expect(keysAt(f, 4)).toEqual(["/apk-amd64"]);
    const g = await analyzeText(text, { platforms: ["linux/arm64"] });
    expect(keysAt(g, 4)).toEqual(["/apk-arm64"]);
  });

  test("one ENV instruction expands all its values with the environment before it", async () => {
    const f = await analyzeText(
      df(
        "FROM scratch",
        "ENV A=/one",
        "ENV A=/two B=$A",
        "RUN --mount=type=cache,target=$B,id=$A true",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(runAt(f, 4)[0].mounts[0].target).toBe("/one");
    expect(keysAt(f, 4)).toEqual(["//two"]);
  });

  test("one ARG instruction declares its names in order", async () => {
    const f = await analyzeText(
      df("FROM scratch", "ARG A=/one B=$A", "RUN --mount=type=cache,target=$B true"),
    );
    expect(keysAt(f, 3)).toEqual(["//one"]);
  });

  test("ENV so far in the stage and inherited from a parent stage", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS base",
        "ENV CACHE_DIR=/c",
        "FROM base",
        "ENV SUB=npm",
        "RUN --mount=type=cache,target=$CACHE_DIR/$SUB true",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(keysAt(f, 5)).toEqual(["//c/npm"]);
    expect(runAt(f, 5)[0].mounts[0].resolved).toBe(true);
  });

  test.each([
    ["ARG V=val", "${V:-x}", "/val"],
    ["ARG V=", "${V:-x}", "/x"],
    ["ARG V", "${V:-x}", "/x"],
    ["ARG V=", "${V-x}", "//t"],
    ["ARG V=val", "${V:+x}", "/x"],
    ["ARG V=", "${V:+x}", "//t"],
    ["ARG V", "${V:+x}", "//t"],
    ["ARG V=", "${V+x}", "/x"],
    ["ARG V=a", "pre-${V:+in-$V}-post", "/pre-in-a-post"],
  ])("%s; id=%s → %s", async (arg, id, key) => {
    const f = await analyzeText(
      df("FROM scratch", arg, `RUN --mount=type=cache,id=${id},target=/t true`),
    );
    expect(f.errors).toEqual([]);
    expect(runAt(f, 3)[0].mounts[0].resolved).toBe(true);
    expect(keysAt(f, 3)).toEqual([key]);
  });

  test("expansion happens after splitting: a value with a comma stays one field", async () => {
    const f = await analyzeText(
      df("FROM scratch", "ARG V=a,sharing=locked", "RUN --mount=type=cache,id=$V,target=/t true"),
    );
    expect(f.errors).toEqual([]);
    expect(runAt(f, 3)[0].mounts[0].sharing).toBe("shared");
    expect(keysAt(f, 3)).toEqual(["/a,sharing=locked"]);
  });

  test("sharing given through a variable is expanded", async () => {
    const f = await analyzeText(
      df("FROM scratch", "ARG S=locked", "RUN --mount=type=cache,target=/t,sharing=$S true"),
    );
    expect(f.errors).toEqual([]);
    expect(runAt(f, 3)[0].mounts[0].sharing).toBe("locked");
  });
});

describe("unknowable ids", () => {
  const text = df(
    "FROM alpine AS a",
    "RUN --mount=type=cache,id=$CACHE_ID,target=/x echo a",
    "FROM alpine AS b",
    "RUN --mount=type=cache,id=anything,target=/y echo b",
    "FROM alpine",
    "COPY --from=a /a /a",
    "COPY --from=b /b /b",
  );

  test("an id from a variable an external base image could set is unresolved", async () => {
    const f = await analyzeText(text);
    expect(errorsOf(f)).toEqual([]);
    expect(runAt(f, 2)[0].mounts[0].resolved).toBe(false);
    expect(runAt(f, 4)[0].mounts[0].resolved).toBe(true);
  });

  test("and it is treated as possibly equal to other keys", async () => {
    const f = await analyzeText(text);
    expect(isParallel(f, 2, 4)).toBe(true);
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("the same variable in a scratch stage is simply empty", async () => {
    const f = await analyzeText(text.replace("FROM alpine AS a", "FROM scratch AS a"));
    expect(runAt(f, 2)[0].mounts[0].resolved).toBe(true);
    expect(keysAt(f, 2)).toEqual(["//x"]);
    expect(raceLines(f)).toEqual([]);
  });

  test.each([
    ["npm-$A", "pip-$B", false],
    ["$A-npm", "$B-pip", false],
    ["npm-$A", "npm-$B", true],
    ["$A", "pip-$B", true],
    ["x-$A-npm", "x-$B-pip", false],
  ])("two unresolved ids %s and %s may be equal: %s", async (x, y, race) => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        `RUN --mount=type=cache,id=${x},target=/x echo a`,
        "FROM alpine AS b",
        `RUN --mount=type=cache,id=${y},target=/y echo b`,
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(runAt(f, 2)[0].mounts[0].resolved).toBe(false);
    expect(runAt(f, 4)[0].mounts[0].resolved).toBe(false);
    expect(isParallel(f, 2, 4)).toBe(true);
    expect(raceLines(f)).toEqual(race ? [[2, 4]] : []);
  });

  test.each(["$HOME/.cache/", "$HOME//.cache", "${HOME}/./.cache"])(
    "an unresolved target %s is still path-cleaned: it may equal /root/.cache",
    async (target) => {
      const f = await analyzeText(
        df(
          "FROM alpine AS a",
          `RUN --mount=type=cache,target=${target} echo a`,
          "FROM alpine AS b",
          "RUN --mount=type=cache,target=/root/.cache echo b",
          "FROM alpine",
          "COPY --from=a /a /a",
          "COPY --from=b /b /b",
        ),
      );
      expect(runAt(f, 2)[0].mounts[0].resolved).toBe(false);
      expect(raceLines(f)).toEqual([[2, 4]]);
    },
  );

  test("an unresolved id with a literal part only matches keys that fit it", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,id=npm-$VARIANT,target=/x echo a",
        "FROM alpine AS b",
        "RUN --mount=type=cache,id=pip-cache,target=/y echo b",
        "FROM alpine AS c",
        "RUN --mount=type=cache,id=npm-cache,target=/z echo c",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
        "COPY --from=c /c /c",
      ),
    );
    expect(runAt(f, 2)[0].mounts[0].resolved).toBe(false);
    expect(raceLines(f)).toEqual([[2, 6]]);
  });
});
