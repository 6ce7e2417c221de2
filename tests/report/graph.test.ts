/** `buildrace graph`: Mermaid and DOT output of the step graph, races marked. */
import { graphView, GraphView, toDot, toMermaid } from "../../src/report/graph";
import { inDir, inProject, lines, plan, RACY, ROOT } from "./helpers";

async function viewOf(paths: string[], opts = {}): Promise<GraphView> {
  const p = await inDir(ROOT, () => plan(paths, opts));
  const v = graphView(p.result.files);
  if (!v) throw new Error("nothing drawn");
  return v;
}

const nodeIds = (v: GraphView) => v.files.flatMap((f) => f.stages.flatMap((s) => s.nodes));

describe("graph of examples/rust-multistage", () => {
  let view: GraphView;
  let mermaid: string;
  let dot: string;
  beforeAll(async () => {
    view = await viewOf(["examples/rust-multistage/Dockerfile"]);
    mermaid = toMermaid(view);
    dot = toDot(view);
  });

  test("model: stages, cache RUN nodes with their mount ids, dependency and race edges", () => {
    const stages = view.files[0].stages;
    expect(stages.map((s) => s.title)).toEqual([
      "stage base",
      "stage build-api",
      "stage build-cli",
      "stage 3 (target)",
    ]);
    const nodes = nodeIds(view);
    const run10 = nodes.find((n) => n.id === "s1_l10");
    expect(run10?.kind).toBe("run");
    expect(run10?.label).toEqual([
      "L10 RUN cargo build --release --bin acme-api && cp …",
      "cache /usr/local/cargo/registry [race: unsafe]",
      "cache /usr/local/cargo/git [race: unsafe]",
      "cache /src/target [race: serialising]",
    ]);
    expect(run10?.race).toBe("unsafe");
    const edges = view.edges.map((e) => `${e.from} ${e.kind} ${e.to}`);
    expect(edges).toEqual(
      expect.arrayContaining([
        "s0_l2 from s1_l9",
        "s0_l2 from s2_l17",
        "s1_l9 order s1_l10",
        "s1_l10 copy s3_l28",
        "s2_l18 copy s3_l29",
        "s1_l10 race s2_l18",
      ]),
    );
    const race = view.edges.find((e) => e.kind === "race");
    expect(race?.safety).toBe("unsafe");
    expect(race?.label?.split("\n")).toEqual([
      "race:",
      "//src/target (cargo-target, serialising)",
      "//usr/local/cargo/git (cargo-git, unsafe)",
      "//usr/local/cargo/registry (cargo-registry, unsafe)",
    ]);
  });

  test("mermaid: subgraphs, nodes, edges, race edge in red, racing nodes classed", () => {
    expect(mermaid).toMatch(/^%% buildrace graph examples\/rust-multistage\/Dockerfile/);
    expect(mermaid).toContain("flowchart TB");
    expect(mermaid).toContain('  subgraph s1["stage build-api"]');
    expect(mermaid).toContain('    s0_l2(["L2 FROM rust:1.82-bookworm AS base"])');
    expect(mermaid).toContain(
      '    s1_l10["L10 RUN cargo build --release --bin acme-api #amp;#amp; cp …<br/>cache /usr/local/cargo/registry [race: unsafe]',
    );
    expect(mermaid).toContain('  s0_l2 ==>|"FROM"| s1_l9');
    expect(mermaid).toContain('  s1_l10 ==>|"COPY --from"| s3_l28');
    expect(mermaid).toMatch(/ {2}s1_l10 <-\.->\|"race:<br\/>\/\/src\/target .*\| s2_l18/);
    expect(mermaid).toContain("  class s1_l10,s2_l18 race");
    const lines = mermaid.split("\n");
    const links = lines.filter((l) => / (-->|==>|<-\.->)/.test(l));
    const raceIndex = links.findIndex((l) => l.includes("<-.->"));
    expect(mermaid).toContain(`  linkStyle ${raceIndex} stroke:#d00000`);
    expect(mermaid).not.toContain("unbuilt fill:#f4f4f4,stroke:#bbbbbb,color:#999999\n  class");
  });

  test("dot: clusters, nodes, bold dependency edges, a red dashed race edge", () => {
    expect(dot).toMatch(/^digraph "buildrace examples\/rust-multistage\/Dockerfile" \{/);
    expect(dot).toContain("  subgraph cluster_s1 {");
    expect(dot).toContain('    label="stage build-api";');
    expect(dot).toMatch(
      / {4}s1_l10 \[label="L10 RUN .*\\lcache \/src\/target \[race: serialising\]\\l", color="#d00000"/,
    );
    expect(dot).toContain('  s0_l2 -> s1_l9 [style=bold, label="FROM"];');
    expect(dot).toContain('  s2_l18 -> s3_l29 [style=bold, label="COPY --from"];');
    expect(dot).toMatch(
      /s1_l10 -> s2_l18 \[dir=both, style=dashed, constraint=false, penwidth=2, color="#d00000", fontcolor="#d00000", label="race:\\n/,
    );
    expect(dot.trim().endsWith("}")).toBe(true);
    // Balanced braces and quotes.
    expect(dot.split("{").length).toBe(dot.split("}").length);
    expect((dot.replace(/\\"/g, "").match(/"/g) ?? []).length % 2).toBe(0);
  });
});

describe("graph details", () => {
  test("unbuilt stages are grey; FROM with global args follows the resolver", async () => {
    const v = await viewOf(["examples/monorepo-targets/Dockerfile"]);
    const stages = v.files[0].stages;
    const web = stages.find((s) => s.title.startsWith("stage web "));
    expect(web?.built).toBe(false);
    expect(web?.title).toBe("stage web (not built)");
    const server = stages.find((s) => s.title.startsWith("stage server"));
    expect(server?.title).toBe("stage server (target)");
    // FROM base-${VARIANT} AS server: base-slim by default.
    const slim = stages.find((s) => s.title.startsWith("stage base-slim")) as { id: string };
    expect(v.edges).toContainEqual(
      expect.objectContaining({ from: `${slim.id}_l34`, kind: "from", label: "FROM" }),
    );
    const m = toMermaid(v);
    expect(m).toMatch(/class [^\n]*s1_l22[^\n]* unbuilt/);
    expect(m).toContain(`style ${web?.id} fill:#fafafa`);
    expect(toDot(v)).toContain('style="rounded,dashed,filled"; fillcolor="#f7f7f7"');

    const debug = await viewOf(["examples/monorepo-targets/Dockerfile"], {
      buildArgs: { VARIANT: "debug" },
    });
    const s = debug.files[0].stages.find((x) => x.title.startsWith("stage base-debug"));
    expect(s?.built).toBe(true);
  });

  test("a step racing with itself across platforms gets a loop", async () => {
    const v = await inProject(
      {
        Dockerfile: lines(
          "FROM debian AS app",
          "RUN --mount=type=cache,target=/var/cache/apt apt-get update",
        ),
      },
      async () => {
        const p = await plan(["."], { platforms: ["linux/amd64", "linux/arm64"] });
        return graphView(p.result.files) as GraphView;
      },
    );
    const loop = v.edges.find((e) => e.kind === "race");
    expect(loop).toMatchObject({ from: "s0_l2", to: "s0_l2", safety: "unsafe" });
    expect(loop?.label).toContain("//var/cache/apt (apt, unsafe, each platform)");
    expect(v.files[0].caption).toBe("build: target app, linux/amd64 + linux/arm64");
  });

  test("a bake file: one diagram, one subgraph per Dockerfile, races across files", async () => {
    const v = await viewOf(["examples/bake-group"]);
    expect(v.files.map((f) => f.path)).toEqual([
      "examples/bake-group/Dockerfile",
      "examples/bake-group/migrate.Dockerfile",
    ]);
    expect(v.files.map((f) => f.id)).toEqual(["f0", "f1"]);
    const cross = v.edges.filter(
      (e) => e.kind === "race" && e.from.slice(0, 3) !== e.to.slice(0, 3),
    );
    expect(cross.length).toBeGreaterThan(0);
    const m = toMermaid(v);
    expect(m).toContain('  subgraph f0["examples/bake-group/Dockerfile');
    expect(m).toContain("    subgraph f0_s0[");
    expect(toDot(v)).toContain("  subgraph cluster_f1 {");
  });

  test("labels are escaped for mermaid and dot", async () => {
    const text = lines(
      "FROM alpine AS one",
      'RUN --mount=type=cache,target=/c echo "a<b>#1" \\\\ done',
      "FROM alpine AS two",
      'RUN --mount=type=cache,target=/c echo "x"',
    );
    const v = await inProject({ Dockerfile: text }, async () => {
      const p = await plan(["."], { target: "one" });
      return graphView(p.result.files) as GraphView;
    });
    const m = toMermaid(v);
    expect(m).toContain("echo #quot;a#lt;b#gt;#35;1#quot;");
    const d = toDot(v);
    expect(d).toContain('echo \\"a<b>#1\\" \\\\\\\\ done');
  });

  test("a file that does not parse still draws its stages", async () => {
    const v = await inProject({ Dockerfile: RACY + "ADD --from=a /x /y\n" }, async () => {
      const p = await plan(["."]);
      return graphView(p.result.files) as GraphView;
    });
    expect(v.files[0].stages.length).toBe(4);
    expect(v.edges.some((e) => e.kind === "race")).toBe(false);
  });
});
