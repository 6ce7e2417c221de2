/**
 * The large-file shortcuts of the race stage give exactly what the pair-by-pair loops give:
 * `firstAdded` (racing and locked sets of one key, in insertion order, from the ancestor
 * bitsets) against the loop `for j, for i < j: consider(list[i], list[j])` it replaces, and
 * `forEachOverlappingPair` (whole words skipped) against a bit-by-bit scan, on random
 * multi-stage Dockerfiles with long lists of uses of a few caches.
 */
import fc from "fast-check";
import { StepGraph } from "../../src/graph/graph";
import { parseDockerfile } from "../../src/parse/dockerfile";
import { firstAdded, Member } from "../../src/races/races";
import { resolveBuild } from "../../src/resolve/resolve";

interface Shape {
  stages: {
    from: number;
    copies: number[];
    runs: { id: number; sharing: number; twice: boolean }[];
  }[];
  platforms: number;
}

const SHARING = ["shared", "shared", "locked", "private"];

function dockerfile(shape: Shape): string {
  const lines = ["FROM alpine AS s0", "RUN echo base"];
  shape.stages.forEach((st, n) => {
    const i = n + 1;
    // FROM an earlier stage (chains) or an image (parallel roots)
    const from = st.from % (i + 1);
    lines.push(from === i ? `FROM alpine AS s${i}` : `FROM s${from} AS s${i}`);
    for (const c of st.copies) lines.push(`COPY --from=s${c % i} /o /in${c % i}`);
    st.runs.forEach((r, k) => {
      const m = `--mount=type=cache,id=c${r.id},target=/c${k},sharing=${SHARING[r.sharing]}`;
      // `twice`: a second mount of the same cache in the same step (the slow path's case)
      lines.push(`RUN ${m}${r.twice ? ` ${m.replace(`/c${k}`, `/d${k}`)}` : ""} echo ${i}-${k}`);
    });
  });
  lines.push("FROM alpine AS final");
  for (let i = 0; i <= shape.stages.length; i++) lines.push(`COPY --from=s${i} /o /f${i}`);
  return lines.join("\n") + "\n";
}

function graphOf(shape: Shape): StepGraph {
  const file = parseDockerfile("Dockerfile", dockerfile(shape));
  const platforms = ["linux/amd64", "linux/arm64"].slice(0, shape.platforms);
  const build = { name: "default", file, buildArgs: {}, platforms, context: "/ctx" };
  return new StepGraph(platforms.map((p) => resolveBuild(build, p)));
}

/** The lists of uses by resolved key, as findRaces builds them. */
function lists(graph: StepGraph): Member[][] {
  const byKey = new Map<string, Member[]>();
  for (const v of graph.cacheVertices)
    for (const mount of graph.vertices[v].steps[0].cacheMounts) {
      const k = mount.match.value as string;
      byKey.set(k, [...(byKey.get(k) ?? []), { vertex: v, mount }]);
    }
  return [...byKey.values()];
}

/** The pairwise loop firstAdded stands for (equal resolved keys: mayEqual always holds). */
function reference(graph: StepGraph, list: Member[]) {
  let key: string | undefined;
  const racing = new Set<Member>();
  const locked = new Set<Member>();
  for (let j = 1; j < list.length; j++)
    for (let i = 0; i < j; i++) {
      const x = list[i];
      const y = list[j];
      if (x.vertex === y.vertex || !graph.overlaps(x.vertex, y.vertex)) continue;
      key ??= x.mount.key;
      const xs = x.mount.spec.sharing === "shared";
      const ys = y.mount.spec.sharing === "shared";
      if (xs && ys) {
        racing.add(x);
        racing.add(y);
      } else {
        if (!xs) locked.add(x);
        if (!ys) locked.add(y);
      }
    }
  return { key, racing: [...racing], locked: [...locked] };
}

const shapes = fc.record({
  stages: fc.array(
    fc.record({
      from: fc.nat(40),
      copies: fc.array(fc.nat(40), { maxLength: 2 }),
      runs: fc.array(fc.record({ id: fc.nat(2), sharing: fc.nat(3), twice: fc.boolean() }), {
        maxLength: 4,
      }),
    }),
    { minLength: 1, maxLength: 45 },
  ),
  platforms: fc.integer({ min: 1, max: 2 }),
});

test("firstAdded adds what the pairwise loop adds, in the same order", () => {
  let compared = 0;
  fc.assert(
    fc.property(shapes, (shape) => {
      const graph = graphOf(shape);
      for (const list of lists(graph)) {
        const fast = firstAdded(graph, list);
        if (!fast) {
          // only a step with two uses of the key leaves the shortcut
          const vs = list.map((m) => m.vertex);
          expect(new Set(vs).size).toBeLessThan(vs.length);
          continue;
        }
        compared++;
        expect(fast).toEqual(reference(graph, list));
      }
    }),
    { numRuns: 300 },
  );
  // the shortcut ran on many lists (about 110 of 300 random shapes; a fixed bar well below
  // that, so the random shapes cannot make it flaky)
  expect(compared).toBeGreaterThan(50);
});

test("forEachOverlappingPair visits the pairs a bit-by-bit scan finds, in order", () => {
  fc.assert(
    fc.property(shapes, (shape) => {
      const graph = graphOf(shape);
      const got: [number, number][] = [];
      graph.forEachOverlappingPair((a, b) => got.push([a, b]));
      const want: [number, number][] = [];
      const cv = graph.cacheVertices;
      for (let j = 1; j < cv.length; j++)
        for (let i = 0; i < j; i++) if (graph.overlaps(cv[i], cv[j])) want.push([cv[i], cv[j]]);
      expect(got).toEqual(want);
    }),
    { numRuns: 300 },
  );
});
