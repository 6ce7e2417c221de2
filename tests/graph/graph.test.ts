/**
 * Graph stage on its own: StepGraph over resolved builds. One vertex per distinct
 * operation; two cache vertices overlap exactly when neither is an ancestor of the other.
 */
import { StepGraph } from "../../src/graph/graph";
import { parseDockerfile } from "../../src/parse/dockerfile";
import { resolveBuild } from "../../src/resolve/resolve";
import { analyzeText, df } from "../helpers/analyze";

function graphOf(text: string, platforms = ["linux/amd64"]): StepGraph {
  const file = parseDockerfile("Dockerfile", text);
  expect(file.errors).toEqual([]);
  const build = { name: "default", file, buildArgs: {}, platforms, context: "/ctx" };
  return new StepGraph(platforms.map((p) => resolveBuild(build, p)));
}

const lineOf = (g: StepGraph, v: number) => g.vertices[v].steps[0].instruction.line;

function overlappingLines(g: StepGraph): [number, number][] {
  const out: [number, number][] = [];
  g.forEachOverlappingPair((a, b) => {
    const [x, y] = [lineOf(g, a), lineOf(g, b)].sort((p, q) => p - q);
    out.push([x, y]);
  });
  return out.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}

test("one cache vertex per distinct cache RUN, in dependency order", () => {
  const g = graphOf(
    df(
      "FROM alpine AS a",
      "RUN --mount=type=cache,target=/x echo a",
      "FROM a AS b",
      "RUN --mount=type=cache,target=/x echo b",
      "FROM alpine AS c",
      "RUN --mount=type=cache,target=/x echo c",
      "FROM b",
      "COPY --from=c /o /o",
    ),
  );
  expect(g.cacheVertices.map((v) => lineOf(g, v))).toEqual([2, 4, 6]);
  const [a, b, c] = g.cacheVertices;
  expect(g.overlaps(a, b)).toBe(false);
  expect(g.overlaps(b, a)).toBe(false);
  expect(g.overlaps(a, c)).toBe(true);
  expect(g.overlaps(b, c)).toBe(true);
  expect(g.overlaps(a, a)).toBe(false);
  expect(overlappingLines(g)).toEqual([
    [2, 6],
    [4, 6],
  ]);
});

test("identical operations share a vertex that records every instance", () => {
  const g = graphOf(
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
  expect(g.cacheVertices).toHaveLength(1);
  expect(g.vertices[g.cacheVertices[0]].steps.map((s) => s.instruction.line)).toEqual([2, 4]);
});

test("per-platform DAGs: a target-platform RUN is one vertex per platform, a build-platform RUN one in all", () => {
  const g = graphOf(
    df(
      "FROM --platform=$BUILDPLATFORM alpine AS build",
      "RUN --mount=type=cache,target=/x echo build",
      "FROM alpine",
      "COPY --from=build /o /o",
      "RUN --mount=type=cache,target=/y echo final",
    ),
    ["linux/amd64", "linux/arm64", "linux/riscv64"],
  );
  const lines = g.cacheVertices.map((v) => lineOf(g, v));
  expect(lines.filter((l) => l === 2)).toHaveLength(1);
  expect(lines.filter((l) => l === 5)).toHaveLength(3);
  expect(g.vertices[g.cacheVertices[0]].steps.map((s) => s.platform)).toEqual([
    "linux/amd64",
    "linux/arm64",
    "linux/riscv64",
  ]);
  // the three final RUNs overlap each other (3 pairs), none overlaps the build RUN
  expect(overlappingLines(g)).toEqual([
    [5, 5],
    [5, 5],
    [5, 5],
  ]);
});

test("a stage with a fixed --platform runs once for all target platforms", async () => {
  const f = await analyzeText(
    df(
      "FROM --platform=linux/amd64 alpine AS tools",
      "RUN --mount=type=cache,target=/x echo tools",
      "FROM alpine",
      "COPY --from=tools /o /o",
    ),
    { platforms: ["linux/amd64", "linux/arm64"] },
  );
  expect(f.errors).toEqual([]);
  expect(f.parallel).toEqual([]);
});

test("more than 32 cache steps (bit sets over several words)", () => {
  const n = 40;
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(`FROM alpine AS s${i}`, `RUN --mount=type=cache,target=/c${i} echo ${i}`);
  lines.push("FROM alpine", ...Array.from({ length: n }, (_x, i) => `COPY --from=s${i} /o /s${i}`));
  // and a chain after the fan-in: it comes after all of them
  lines.push("RUN --mount=type=cache,target=/after echo after");
  const g = graphOf(df(...lines));
  let pairs = 0;
  let withAfter = 0;
  const afterLine = 2 * n + 1 + n + 1;
  g.forEachOverlappingPair((a, b) => {
    pairs++;
    if (lineOf(g, a) === afterLine || lineOf(g, b) === afterLine) withAfter++;
  });
  expect(pairs).toBe((n * (n - 1)) / 2);
  expect(withAfter).toBe(0);
  const last = g.cacheVertices[g.cacheVertices.length - 1];
  expect(lineOf(g, last)).toBe(afterLine);
  for (const v of g.cacheVertices.slice(0, n)) expect(g.overlaps(v, last)).toBe(false);
});
