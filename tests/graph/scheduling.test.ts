/**
 * Resolve + graph stages: which cache RUNs may run at the same time (SPEC §2 "Scheduling",
 * BUILDKIT.md §6-§7). `parallel` lists every overlapping pair of cache RUN lines.
 */
import { analyzeText, df, errorsOf, isParallel, raceLines, runAt } from "../helpers/analyze";

const built = (f: Awaited<ReturnType<typeof analyzeText>>, line: number) =>
  runAt(f, line).map((r) => r.built);

describe("siblings and chains", () => {
  test("sibling stages run in parallel", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/a echo a",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/b echo b",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(f.parallel).toEqual([[2, 4]]);
  });

  test("a chain FROM a → b is sequential", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo a",
        "FROM a AS b",
        "RUN --mount=type=cache,target=/x echo b",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(built(f, 4)).toEqual([true]);
    expect(f.parallel).toEqual([]);
    expect(f.races).toEqual([]);
  });

  test("two cache RUNs in one stage are sequential", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/x echo 1",
        "RUN --mount=type=cache,target=/x echo 2",
      ),
    );
    expect(f.parallel).toEqual([]);
  });

  test("a fan-in of 4 stages: all 6 pairs are parallel", async () => {
    const lines: string[] = [];
    for (const s of ["s1", "s2", "s3", "s4"])
      lines.push(`FROM alpine AS ${s}`, `RUN --mount=type=cache,target=/c echo ${s}`);
    lines.push("FROM alpine", ...["s1", "s2", "s3", "s4"].map((s) => `COPY --from=${s} /o /${s}`));
    const f = await analyzeText(df(...lines));
    expect(f.errors).toEqual([]);
    expect(f.parallel).toEqual([
      [2, 4],
      [2, 6],
      [2, 8],
      [4, 6],
      [4, 8],
      [6, 8],
    ]);
    expect(raceLines(f)).toEqual([[2, 4, 6, 8]]);
  });
});

describe("reachability and --target", () => {
  const text = df(
    "FROM alpine AS a",
    "RUN --mount=type=cache,target=/x echo a",
    "FROM alpine AS b",
    "RUN --mount=type=cache,target=/x echo b",
    "FROM alpine AS final",
    "COPY --from=a /a /a",
    "RUN --mount=type=cache,target=/y echo final",
  );

  test("a stage not reachable from the target is not built and pairs with nothing", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo a",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x echo b",
        "FROM alpine AS final",
        "RUN --mount=type=cache,target=/x echo final",
        "COPY --from=a /a /a",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(built(f, 4)).toEqual([false]);
    expect(built(f, 6)).toEqual([true]);
    expect(f.parallel).toEqual([[2, 6]]);
    expect(f.parallel.flat()).not.toContain(4);
    expect(raceLines(f)).toEqual([[2, 6]]);
    expect(f.builds).toEqual([{ name: "default", target: "final", platforms: ["linux/amd64"] }]);
  });

  test("the default target is the last stage", async () => {
    const f = await analyzeText(text);
    expect(built(f, 2)).toEqual([true]);
    expect(built(f, 4)).toEqual([false]);
    expect(built(f, 7)).toEqual([true]);
  });

  test("--target chooses another stage, case-insensitively", async () => {
    const f = await analyzeText(text, { target: "B" });
    expect(f.errors).toEqual([]);
    expect(f.builds[0].target).toBe("b");
    expect(built(f, 2)).toEqual([false]);
    expect(built(f, 4)).toEqual([true]);
    expect(built(f, 7)).toEqual([false]);
    expect(f.parallel).toEqual([]);
  });

  test("an unknown --target is an error", async () => {
    const f = await analyzeText(text, { target: "nope" });
    expect(errorsOf(f).some((e) => /target stage "nope" could not be found/.test(e.message))).toBe(
      true,
    );
  });
});

describe("stage references", () => {
  test("COPY --from=Builder matches stage builder (case-insensitive edge)", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS builder",
        "RUN --mount=type=cache,target=/x echo build",
        "FROM alpine",
        "COPY --from=Builder /out /out",
        "RUN --mount=type=cache,target=/x echo use",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(f.parallel).toEqual([]);
  });

  test("FROM Builder after AS builder is an invalid image name: error", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS builder",
        "RUN --mount=type=cache,target=/x echo build",
        "FROM Builder",
        "RUN --mount=type=cache,target=/x echo use",
      ),
    );
    const errs = errorsOf(f);
    expect(errs).toHaveLength(1);
    expect(errs[0].line).toBe(3);
    expect(errs[0].message).toMatch(/must be lowercase|invalid reference format/);
  });

  test("an invalid image name fails the build even in a stage that is not built", async () => {
    const f = await analyzeText(df("FROM Alpine AS unused", "FROM alpine", "RUN true"));
    expect(errorsOf(f).map((e) => e.line)).toEqual([1]);
  });

  test("COPY --from=0 is a stage index edge", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/x echo zero",
        "FROM alpine",
        "COPY --from=0 /out /out",
        "RUN --mount=type=cache,target=/x echo one",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(f.parallel).toEqual([]);
  });

  test("RUN --mount=from=0 is an image named 0, not a stage (no edge)", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/x echo zero",
        "FROM alpine AS other",
        "RUN --mount=type=cache,target=/y echo other",
        "FROM alpine",
        "COPY --from=other /o /o",
        "RUN --mount=type=bind,from=0,target=/src --mount=type=cache,target=/x echo last",
      ),
    );
    expect(f.errors).toEqual([]);
    // stage 0 is not reachable from the target at all
    expect(built(f, 2)).toEqual([false]);
    expect(f.parallel).toEqual([]);
  });

  test("RUN --mount from=<stage> is an edge, case-insensitively, for any mount type", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS dep",
        "RUN --mount=type=cache,target=/x echo dep",
        "FROM alpine",
        "RUN --mount=type=tmpfs,target=/t,from=DEP --mount=type=cache,target=/x echo use",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(f.parallel).toEqual([]);
  });

  test("repeated stage names: COPY --from uses the last definition", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS x",
        "RUN --mount=type=cache,target=/c echo first",
        "FROM alpine AS x",
        "RUN --mount=type=cache,target=/c echo second",
        "FROM alpine AS final",
        "RUN --mount=type=cache,target=/c echo final-before",
        "COPY --from=x /a /a",
      ),
    );
    // BuildKit's DuplicateStageName lint: a warning, not an error
    expect(f.errors.map((e) => e.severity)).toEqual(["warning"]);
    expect(f.errors[0].message).toMatch(/Duplicate stage name "x"/);
    expect(built(f, 2)).toEqual([false]);
    expect(built(f, 4)).toEqual([true]);
    expect(f.parallel).toEqual([[4, 6]]);
  });

  test("repeated stage names: --target uses the last definition", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS x",
        "RUN --mount=type=cache,target=/c echo first",
        "FROM alpine AS x",
        "RUN --mount=type=cache,target=/c echo second",
        "FROM alpine",
        "RUN true",
      ),
      { target: "x" },
    );
    expect(built(f, 2)).toEqual([false]);
    expect(built(f, 4)).toEqual([true]);
  });

  test("repeated stage names: FROM uses the nearest earlier definition", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS x", // 1
        "RUN --mount=type=cache,target=/one echo 1", // 2
        "FROM x AS mid", // 3: first x
        "RUN --mount=type=cache,target=/two echo 2", // 4
        "FROM alpine AS x", // 5
        "RUN --mount=type=cache,target=/three echo 3", // 6
        "FROM x AS y", // 7: second x
        "RUN --mount=type=cache,target=/four echo 4", // 8
        "FROM alpine AS final", // 9
        "COPY --from=mid / /m", // 10
        "COPY --from=y / /y", // 11
        "RUN --mount=type=cache,target=/five echo 5", // 12
      ),
    );
    // BuildKit's DuplicateStageName lint: a warning, not an error
    expect(f.errors.map((e) => e.severity)).toEqual(["warning"]);
    expect(f.errors[0].message).toMatch(/Duplicate stage name "x"/);
    for (const l of [2, 4, 6, 8, 12]) expect(built(f, l)).toEqual([true]);
    expect(f.parallel).toEqual([
      [2, 6],
      [2, 8],
      [4, 6],
      [4, 8],
    ]);
  });

  test("forward references are errors", async () => {
    const copy = await analyzeText(
      df(
        "FROM alpine AS a",
        "COPY --from=later /x /x",
        "FROM alpine AS later",
        "RUN true",
        "FROM a",
        "RUN true",
      ),
    );
    expect(errorsOf(copy).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(copy)[0].message).toMatch(/needs to be defined before/);

    const mount = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=bind,from=later,target=/x true",
        "FROM alpine AS later",
        "RUN true",
        "FROM a",
        "RUN true",
      ),
    );
    expect(errorsOf(mount).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(mount)[0].message).toMatch(/needs to be defined before/);

    const index = await analyzeText(
      df("FROM alpine", "COPY --from=1 /x /x", "FROM alpine", "RUN true"),
    );
    expect(errorsOf(index).map((e) => e.line)).toEqual([2]);
  });

  test("ADD --from=x fails the whole file", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS x",
        "RUN true",
        "FROM alpine AS unused",
        "ADD --from=x /a /a",
        "FROM alpine",
        "RUN true",
      ),
    );
    const errs = errorsOf(f);
    expect(errs.map((e) => e.line)).toEqual([4]);
    expect(errs[0].message).toMatch(/Unknown flag: from/i);
  });

  test("a $ in --mount from is an error", async () => {
    const f = await analyzeText(
      df(
        "ARG S=a",
        "FROM alpine AS a",
        "FROM alpine",
        "RUN --mount=type=bind,from=$S,target=/s true",
      ),
    );
    expect(errorsOf(f).map((e) => e.line)).toEqual([4]);
    expect(errorsOf(f)[0].message).toMatch(/'from' doesn't support variable expansion/);
  });
});

describe("edges are per instruction", () => {
  test("a RUN before COPY --from=a overlaps a's RUN; a RUN after it does not", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo a",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x echo before",
        "COPY --from=a /out /out",
        "RUN --mount=type=cache,target=/x echo after",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(isParallel(f, 2, 4)).toBe(true);
    expect(isParallel(f, 2, 6)).toBe(false);
    expect(isParallel(f, 4, 6)).toBe(false);
    expect(f.parallel).toEqual([[2, 4]]);
    expect(raceLines(f)).toEqual([[2, 4]]);
  });

  test("ONBUILD RUN --mount=...,from=x in a base stage adds an edge in the child", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS x",
        "RUN --mount=type=cache,target=/c echo x",
        "FROM alpine AS base",
        "ONBUILD RUN --mount=type=bind,from=x,target=/src true",
        "FROM base AS child",
        "RUN --mount=type=cache,target=/c echo child",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(f.parallel).toEqual([]);
    expect(f.races).toEqual([]);
  });

  test("ONBUILD COPY --from=x in a base stage makes x reachable from the child", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS x",
        "RUN --mount=type=cache,target=/c echo x",
        "FROM alpine AS base",
        "ONBUILD COPY --from=x /o /o",
        "FROM alpine AS sib",
        "RUN --mount=type=cache,target=/c echo sib",
        "FROM base AS child",
        "COPY --from=sib /s /s",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([true]);
    expect(f.parallel).toEqual([[2, 6]]);
  });
});

describe("FROM names expanded with global args", () => {
  const text = df(
    "ARG VARIANT=x",
    "FROM alpine AS build-x",
    "RUN --mount=type=cache,target=/c echo x",
    "FROM alpine AS build-y",
    "RUN --mount=type=cache,target=/c echo y",
    "FROM build-${VARIANT} AS final",
    "RUN --mount=type=cache,target=/d echo final",
  );

  test("the global default selects build-x", async () => {
    const f = await analyzeText(text);
    expect(f.errors).toEqual([]);
    expect(built(f, 3)).toEqual([true]);
    expect(built(f, 5)).toEqual([false]);
    expect(f.parallel).toEqual([]);
  });

  test("--build-arg VARIANT=y selects build-y", async () => {
    const f = await analyzeText(text, { buildArgs: { VARIANT: "y" } });
    expect(f.errors).toEqual([]);
    expect(built(f, 3)).toEqual([false]);
    expect(built(f, 5)).toEqual([true]);
  });

  test("a --build-arg with no global ARG does not reach FROM", async () => {
    const f = await analyzeText(text.replace("ARG VARIANT=x\n", "ARG OTHER=1\n"), {
      buildArgs: { VARIANT: "y" },
    });
    // FROM build-${VARIANT} → "build-", an invalid image name
    expect(errorsOf(f).length).toBeGreaterThan(0);
    expect(errorsOf(f)[0].line).toBe(6);
  });

  test("automatic platform args are in scope in FROM", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS amd64-archive",
        "RUN --mount=type=cache,target=/c echo amd",
        "FROM alpine AS arm64-archive",
        "RUN --mount=type=cache,target=/c echo arm",
        "FROM ${TARGETARCH}-archive",
        "RUN true",
      ),
      { platforms: ["linux/arm64"] },
    );
    expect(f.errors).toEqual([]);
    expect(built(f, 2)).toEqual([false]);
    expect(built(f, 4)).toEqual([true]);
  });
});

describe("de-duplication of identical steps", () => {
  test("identical RUN lines on identical bases in sibling stages run once", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(isParallel(f, 2, 4)).toBe(false);
    expect(f.races).toEqual([]);
  });

  test("metadata-only instructions do not keep identical steps apart", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "LABEL team=a",
        "EXPOSE 80",
        "ARG NOVALUE",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine AS b",
        'CMD ["sh"]',
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(isParallel(f, 5, 8)).toBe(false);
    expect(f.races).toEqual([]);
  });

  test("a later step in either stage comes after the shared step", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x echo same",
        "RUN --mount=type=cache,target=/x echo b-later",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(isParallel(f, 2, 5)).toBe(false);
    expect(isParallel(f, 4, 5)).toBe(false);
  });

  test.each([
    ["a different ENV", ["ENV A=1"]],
    ["a valued ARG", ["ARG A=1"]],
    ["a different WORKDIR", ["WORKDIR /w"]],
    ["a different USER", ["USER nobody"]],
  ])("%s keeps them apart", async (_n, extra) => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        ...extra,
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(isParallel(f, 3, 5)).toBe(true);
    expect(raceLines(f)).toEqual([[3, 5]]);
  });

  test("heredoc RUNs with different bodies are different operations", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x <<EOF",
        "echo a",
        "EOF",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x <<EOF",
        "echo b",
        "EOF",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(f.errors).toEqual([]);
    expect(f.parallel).toEqual([[2, 6]]);
    expect(raceLines(f)).toEqual([[2, 6]]);
  });

  test("heredoc RUNs with identical bodies are one operation", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x <<EOF",
        "echo same",
        "EOF",
        "FROM alpine AS b",
        "RUN --mount=type=cache,target=/x <<EOF",
        "echo same",
        "EOF",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(f.parallel).toEqual([]);
  });

  test("COPY heredocs with different bodies keep the later RUNs apart", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "COPY <<EOF /cfg",
        "a",
        "EOF",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine AS b",
        "COPY <<EOF /cfg",
        "b",
        "EOF",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(f.parallel).toEqual([[5, 10]]);
  });

  test("the keyword's case is not part of the operation", async () => {
    // the op digest covers the command, env, mounts...; the keyword is only in the step's name
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine AS b",
        "run --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(isParallel(f, 2, 4)).toBe(false);
    expect(f.races).toEqual([]);
  });

  test("a different base image keeps them apart", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM debian AS b",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(isParallel(f, 2, 4)).toBe(true);
  });

  test("the same image written differently is the same base", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM docker.io/library/alpine:latest AS b",
        "RUN --mount=type=cache,target=/x echo same",
        "FROM alpine",
        "COPY --from=a /a /a",
        "COPY --from=b /b /b",
      ),
    );
    expect(isParallel(f, 2, 4)).toBe(false);
  });
});

describe("multi-platform", () => {
  const platforms = ["linux/amd64", "linux/arm64"];

  test("a target-platform stage's cache RUN pairs with itself and races with itself", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,target=/var/cache/apk apk add curl"),
      {
        platforms,
      },
    );
    expect(f.errors).toEqual([]);
    expect(f.builds[0].platforms).toEqual(platforms);
    expect(f.parallel).toEqual([[2, 2]]);
    expect(f.races).toHaveLength(1);
    expect(f.races[0].key).toBe("//var/cache/apk");
    expect(f.races[0].uses.map((u) => u.line)).toEqual([2]);
  });

  test("a single platform has no self pair", async () => {
    const f = await analyzeText(df("FROM alpine", "RUN --mount=type=cache,target=/x true"));
    expect(f.parallel).toEqual([]);
    expect(f.races).toEqual([]);
  });

  test("a FROM --platform=$BUILDPLATFORM stage without TARGET* args runs once", async () => {
    const f = await analyzeText(
      df(
        "FROM --platform=$BUILDPLATFORM alpine AS build",
        "RUN --mount=type=cache,target=/x echo build",
        "FROM alpine",
        "COPY --from=build /o /o",
      ),
      { platforms },
    );
    expect(f.errors).toEqual([]);
    expect(f.parallel).toEqual([]);
    expect(f.races).toEqual([]);
  });

  test("the same stage with ARG TARGETARCH does pair with itself", async () => {
    const f = await analyzeText(
      df(
        "FROM --platform=$BUILDPLATFORM alpine AS build",
        "ARG TARGETARCH",
        "RUN --mount=type=cache,target=/x echo build",
        "FROM alpine",
        "COPY --from=build /o /o",
      ),
      { platforms },
    );
    expect(f.errors).toEqual([]);
    expect(f.parallel).toEqual([[3, 3]]);
    expect(raceLines(f)).toEqual([[3]]);
  });

  test("ARG TARGETARCH declared after the RUN does not split it", async () => {
    const f = await analyzeText(
      df(
        "FROM --platform=$BUILDPLATFORM alpine AS build",
        "RUN --mount=type=cache,target=/x echo build",
        "ARG TARGETARCH",
        "RUN --mount=type=cache,target=/y echo $TARGETARCH",
        "FROM alpine",
        "COPY --from=build /o /o",
      ),
      { platforms },
    );
    expect(f.parallel).toEqual([[4, 4]]);
    expect(raceLines(f)).toEqual([[4]]);
  });

  test("a stage FROM a build-platform stage inherits its platform", async () => {
    const f = await analyzeText(
      df(
        "FROM --platform=$BUILDPLATFORM alpine AS build",
        "RUN true",
        "FROM build AS gen",
        "RUN --mount=type=cache,target=/x echo gen",
        "FROM alpine",
        "COPY --from=gen /o /o",
      ),
      { platforms },
    );
    expect(f.errors).toEqual([]);
    expect(f.parallel).toEqual([]);
  });

  test("an id that varies with $TARGETARCH pairs with itself but does not race", async () => {
    const f = await analyzeText(
      df("FROM alpine", "ARG TARGETARCH", "RUN --mount=type=cache,id=c-$TARGETARCH,target=/x true"),
      { platforms },
    );
    expect(f.parallel).toEqual([[3, 3]]);
    expect(f.races).toEqual([]);
  });

  test("a target-platform RUN after COPY --from a build-platform stage comes after it on every platform", async () => {
    const f = await analyzeText(
      df(
        "FROM --platform=$BUILDPLATFORM alpine AS build",
        "RUN --mount=type=cache,target=/x echo build",
        "FROM alpine",
        "COPY --from=build /o /o",
        "RUN --mount=type=cache,target=/x echo final",
      ),
      { platforms },
    );
    expect(isParallel(f, 2, 5)).toBe(false);
    expect(f.parallel).toEqual([[5, 5]]);
  });
});
