/**
 * `buildrace graph`: the step graph of one Dockerfile as Mermaid or Graphviz DOT, for
 * people who would rather look than read. Stages are subgraphs; nodes are each stage's
 * FROM, its RUNs with cache mounts and the instructions that read another stage; edges are
 * the stage order and the dependencies the resolver found (FROM, COPY --from, --mount
 * from=); racing steps are red with one edge per racing pair; stages not built are grey.
 */
import { Instruction, ParsedDockerfile, Stage } from "../parse/dockerfile";
import { FileResult } from "../pipeline";
import { Race, RaceUse } from "../races/races";
import { ResolvedMount, stageLabel, StageEdge } from "../resolve/resolve";

export type GraphFormat = "mermaid" | "dot";

export interface GraphNode {
  id: string;
  line: number;
  kind: "from" | "run" | "copy" | "mount";
  /** Label lines. */
  label: string[];
  /** Worst safety of the races the node takes part in, if any. */
  race?: Race["safety"];
}

export interface GraphStage {
  id: string;
  index: number;
  title: string;
  built: boolean;
  target: boolean;
  nodes: GraphNode[];
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: "order" | StageEdge["kind"] | "race";
  label?: string;
  safety?: Race["safety"];
}

export interface GraphFile {
  /** Subgraph id of the file ("" when the view has one file: no file subgraph). */
  id: string;
  path: string;
  /** What was modelled: builds, targets, platforms. */
  caption: string;
  stages: GraphStage[];
}

export interface GraphView {
  files: GraphFile[];
  edges: GraphEdge[];
}

const RANK: Record<Race["safety"], number> = { safe: 0, serialising: 1, unknown: 2, unsafe: 3 };
const worse = (a: Race["safety"] | undefined, b: Race["safety"]) =>
  a === undefined || RANK[b] > RANK[a] ? b : a;

const EDGE_LABEL: Record<StageEdge["kind"], string> = {
  from: "FROM",
  copy: "COPY --from",
  mount: "--mount from",
};

const posixPath = (p: string) => p.split("\\").join("/");

/**
 * The view of analysed Dockerfiles (those with `parsed`), one diagram for all of them so
 * races between the builds of a compose or bake file are edges too.
 */
export function graphView(results: FileResult[]): GraphView | undefined {
  const drawn = results.filter((f) => f.parsed);
  if (drawn.length === 0) return undefined;
  const prefixOf = new Map<ParsedDockerfile, string>();
  drawn.forEach((f, k) =>
    prefixOf.set(f.parsed as ParsedDockerfile, drawn.length > 1 ? `f${k}_` : ""),
  );
  const nodeAt = new Map<string, GraphNode>();
  const nodeId = (file: ParsedDockerfile, st: Stage, line: number) =>
    `${prefixOf.get(file) ?? "x_"}s${st.index}_l${line}`;
  const files: GraphFile[] = [];
  const edges: GraphEdge[] = [];

  for (const f of drawn) {
    const parsed = f.parsed as ParsedDockerfile;
    const prefix = prefixOf.get(parsed) as string;
    const resolved = f.resolved ?? [];
    const built = (i: number) => resolved.some((rb) => rb.built[i]);
    const targets = new Set(resolved.map((rb) => rb.targetStage?.index));
    const edgesSeen = new Set<string>();
    const stageEdges: StageEdge[] = [];
    for (const rb of resolved)
      for (const e of rb.stageEdges ?? []) {
        const k = `${e.from},${e.to},${e.line},${e.kind}`;
        if (edgesSeen.has(k)) continue;
        edgesSeen.add(k);
        stageEdges.push(e);
      }

    const stages: GraphStage[] = parsed.stages.map((st) => ({
      id: `${prefix}s${st.index}`,
      index: st.index,
      title:
        `stage ${stageLabel(st)}` +
        (targets.has(st.index) ? " (target)" : "") +
        (built(st.index) ? "" : " (not built)"),
      built: built(st.index),
      target: targets.has(st.index),
      nodes: [],
    }));
    const addNode = (st: Stage, ins: Instruction, kind: GraphNode["kind"], label: string[]) => {
      const id = nodeId(parsed, st, ins.line);
      const existing = nodeAt.get(id);
      if (existing) return existing;
      const node: GraphNode = { id, line: ins.line, kind, label };
      nodeAt.set(id, node);
      stages[st.index].nodes.push(node);
      return node;
    };

    for (const st of parsed.stages) addNode(st, st.from, "from", [short(st.from)]);

    // RUNs with cache mounts: their mount ids (every build and platform of the line).
    const mountsAt = new Map<string, { stage: Stage; ins: Instruction; mounts: Set<string> }>();
    for (const cr of f.cacheRuns) {
      const k = nodeId(parsed, cr.stage, cr.instruction.line);
      const entry = mountsAt.get(k) ?? { stage: cr.stage, ins: cr.instruction, mounts: new Set() };
      for (const m of cr.mounts) entry.mounts.add(mountLabel(m));
      mountsAt.set(k, entry);
    }
    for (const { stage, ins, mounts } of mountsAt.values())
      addNode(stage, ins, "run", [short(ins), ...mounts]);

    // Instructions that read another stage.
    const insByLine = new Map<string, Instruction>();
    for (const st of parsed.stages)
      for (const ins of st.instructions) insByLine.set(nodeId(parsed, st, ins.line), ins);
    const fromNode = (st: Stage) => nodeAt.get(nodeId(parsed, st, st.from.line)) as GraphNode;
    const target = (e: StageEdge): GraphNode => {
      const st = parsed.stages[e.to];
      if (e.kind === "from") return fromNode(st);
      const ins = insByLine.get(nodeId(parsed, st, e.line));
      // An ONBUILD trigger of the base runs at the start of the stage.
      if (!ins) return fromNode(st);
      return addNode(st, ins, e.kind === "copy" ? "copy" : "mount", [short(ins)]);
    };
    const edgeTargets = stageEdges.map((e) => ({ e, node: target(e) }));

    for (const s of stages) s.nodes.sort((a, b) => a.line - b.line);
    for (const s of stages)
      for (let i = 1; i < s.nodes.length; i++)
        edges.push({ from: s.nodes[i - 1].id, to: s.nodes[i].id, kind: "order" });
    // A stage is read whole: the edge leaves its last node.
    for (const { e, node } of edgeTargets) {
      const src = stages[e.from].nodes[stages[e.from].nodes.length - 1];
      edges.push({ from: src.id, to: node.id, kind: e.kind, label: EDGE_LABEL[e.kind] });
    }

    const caption = f.builds
      .map(
        (b) =>
          `${b.name === "default" ? "build" : `build ${b.name}`}: target ${b.target || "?"}, ${b.platforms.join(" + ")}`,
      )
      .join("; ");
    files.push({
      id: drawn.length > 1 ? `f${files.length}` : "",
      path: posixPath(f.path),
      caption,
      stages,
    });
  }

  // Races: the racing nodes, and one edge per pair of consecutive racing nodes.
  const pairs = new Map<string, { from: string; to: string; parts: Map<string, Race["safety"]> }>();
  const racingMounts = new Map<string, Race["safety"]>();
  const races = new Set(drawn.flatMap((f) => f.races));
  const useNode = (u: RaceUse) =>
    nodeAt.get(nodeId(u.step.build.file, u.step.stage, u.step.instruction.line));
  for (const r of races) {
    if (r.suppressed) continue;
    const nodes = [...new Set(r.uses.map(useNode))].filter((n): n is GraphNode => n !== undefined);
    nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const n of nodes) n.race = worse(n.race, r.safety);
    for (const u of r.uses) {
      const n = useNode(u);
      const i = n ? n.label.indexOf(mountLabel(u.mount)) : -1;
      if (!n || i <= 0) continue;
      const k = `${n.id}\u0000${i}`;
      racingMounts.set(k, worse(racingMounts.get(k), r.safety));
    }
    const elsewhere = new Set(
      r.uses
        .filter((u) => !useNode(u))
        .map((u) => `${posixPath(u.step.build.file.path)}:${u.step.instruction.line}`),
    );
    const what = (extra: string) =>
      `${r.rule === "nested-cache-mount" ? "nested " : ""}${r.key} (${r.kind.tool}, ${r.safety}${extra})` +
      (elsewhere.size ? ` + ${[...elsewhere].join(", ")}` : "");
    const links: [GraphNode, GraphNode][] = [];
    for (let i = 1; i < nodes.length; i++) links.push([nodes[i - 1], nodes[i]]);
    // A step racing with another instance of itself (platforms, builds) gets a loop.
    const instances = (n: GraphNode) => r.uses.filter((u) => useNode(u) === n).length;
    const loops = nodes.filter(
      (n) => (r.selfRace.platforms || r.selfRace.builds) && instances(n) > 1,
    );
    // A use whose partners are all outside the drawing: the loop carries the annotation.
    if (nodes.length === 1 && loops.length === 0) loops.push(nodes[0]);
    for (const n of loops) links.push([n, n]);
    const self = r.selfRace.platforms ? ", each platform" : r.selfRace.builds ? ", each build" : "";
    for (const [a, b] of links) {
      const k = `${a.id}->${b.id}`;
      const p = pairs.get(k) ?? { from: a.id, to: b.id, parts: new Map() };
      p.parts.set(what(a === b ? self : ""), r.safety);
      pairs.set(k, p);
    }
  }
  for (const [k, safety] of racingMounts) {
    const [id, i] = k.split("\u0000");
    const n = nodeAt.get(id) as GraphNode;
    n.label[Number(i)] += ` [race: ${safety}]`;
  }
  for (const p of pairs.values()) {
    let safety: Race["safety"] | undefined;
    for (const s of p.parts.values()) safety = worse(safety, s);
    edges.push({
      from: p.from,
      to: p.to,
      kind: "race",
      label: ["race:", ...p.parts.keys()].join("\n"),
      safety,
    });
  }
  return { files, edges };
}

function mountLabel(m: ResolvedMount): string {
  const sharing = m.spec.sharing !== "shared" ? ` (${m.spec.sharing})` : "";
  return `cache ${m.explicitId ? "id=" : ""}${m.id.text}${sharing}`;
}

/** The instruction as one short line: keyword, flags other than --mount, and the start of its arguments. */
function short(ins: Instruction): string {
  const flags = ins.flags
    .filter((fl) => fl.name !== "mount")
    .map((fl) => `--${fl.name}${fl.value !== null ? `=${fl.value}` : ""}`);
  const rest = ins.rest.text.replace(/\s+/g, " ").trim();
  const text = [ins.keyword, ...flags, rest].filter(Boolean).join(" ");
  const max = 48;
  return `L${ins.line} ${text.length > max ? `${text.slice(0, max - 1)}…` : text}`;
}

const COLORS = {
  unsafe: "#d00000",
  unknown: "#d00000",
  serialising: "#d98200",
  safe: "#7a7a7a",
};
const FILL = { unsafe: "#ffe0e0", unknown: "#ffe0e0", serialising: "#fff1d6", safe: "#f0f0f0" };

/** Mermaid flowchart (renders in GitHub and GitLab markdown). */
export function toMermaid(v: GraphView): string {
  const title = v.files.map(fileTitle).join("; ");
  const out: string[] = [`%% buildrace graph ${title}`, "flowchart TB"];
  const text = (lines: string[]) => `"${lines.map(mermaidText).join("<br/>")}"`;
  for (const f of v.files) {
    const indent = f.id ? "    " : "  ";
    if (f.id) out.push(`  subgraph ${f.id}[${text([fileTitle(f)])}]`);
    for (const s of f.stages) {
      out.push(`${indent}subgraph ${s.id}[${text([s.title])}]`);
      for (const n of s.nodes) {
        const [open, close] = n.kind === "from" ? ["([", "])"] : ["[", "]"];
        out.push(`${indent}  ${n.id}${open}${text(n.label)}${close}`);
      }
      out.push(`${indent}end`);
    }
    if (f.id) out.push("  end");
  }
  const linkStyles: string[] = [];
  v.edges.forEach((e, i) => {
    if (e.kind === "order") out.push(`  ${e.from} --> ${e.to}`);
    else if (e.kind === "race") {
      out.push(`  ${e.from} <-.->|${text((e.label ?? "race").split("\n"))}| ${e.to}`);
      const c = COLORS[e.safety ?? "unsafe"];
      linkStyles.push(`  linkStyle ${i} stroke:${c},stroke-width:2px,color:${c}`);
    } else out.push(`  ${e.from} ==>|${text([e.label ?? e.kind])}| ${e.to}`);
  });
  out.push(
    `  classDef race fill:${FILL.unsafe},stroke:${COLORS.unsafe},stroke-width:2px,color:#600000`,
    `  classDef slow fill:${FILL.serialising},stroke:${COLORS.serialising},stroke-width:2px`,
    `  classDef unbuilt fill:#f4f4f4,stroke:#bbbbbb,color:#999999,stroke-dasharray:4 3`,
  );
  const stages = v.files.flatMap((f) => f.stages);
  const cls = (pred: (n: GraphNode, s: GraphStage) => boolean) =>
    stages.flatMap((s) => s.nodes.filter((n) => pred(n, s)).map((n) => n.id));
  const racing = cls((n) => n.race === "unsafe" || n.race === "unknown");
  const slow = cls((n) => n.race === "serialising");
  const unbuilt = cls((n, s) => !s.built && !n.race);
  if (racing.length) out.push(`  class ${racing.join(",")} race`);
  if (slow.length) out.push(`  class ${slow.join(",")} slow`);
  if (unbuilt.length) out.push(`  class ${unbuilt.join(",")} unbuilt`);
  for (const s of stages)
    if (!s.built) out.push(`  style ${s.id} fill:#fafafa,stroke:#cccccc,color:#999999`);
  out.push(...linkStyles);
  return out.join("\n") + "\n";
}

function fileTitle(f: GraphFile): string {
  return f.caption ? `${f.path} (${f.caption})` : f.path;
}

/** Mermaid text inside a quoted label: quotes and markup as entity codes. */
function mermaidText(s: string): string {
  return s
    .replace(/#/g, "#35;")
    .replace(/&/g, "#amp;")
    .replace(/"/g, "#quot;")
    .replace(/</g, "#lt;")
    .replace(/>/g, "#gt;");
}

/** Graphviz DOT (`dot -Tsvg graph.dot > graph.svg`). */
export function toDot(v: GraphView): string {
  const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const q = (s: string) => `"${esc(s).replace(/\n/g, "\\n")}"`;
  // `\l` ends a left-aligned label line.
  const label = (lines: string[]) => `"${lines.map(esc).join("\\l")}\\l"`;
  const title = v.files.map(fileTitle).join("\n");
  const out: string[] = [
    `digraph ${q(`buildrace ${v.files.map((f) => f.path).join(" ")}`)} {`,
    `  graph [rankdir=TB, fontname="Helvetica", fontsize=11, labelloc=t, label=${q(title)}];`,
    `  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];`,
    `  edge [fontname="Helvetica", fontsize=9];`,
  ];
  for (const f of v.files) {
    const indent = f.id ? "    " : "  ";
    if (f.id) out.push(`  subgraph cluster_${f.id} {`, `    label=${q(f.path)}; style="bold";`);
    for (const s of f.stages) {
      out.push(`${indent}subgraph cluster_${s.id} {`);
      out.push(`${indent}  label=${q(s.title)};`);
      if (s.built) out.push(`${indent}  style="rounded"; color="#888888";`);
      else
        out.push(
          `${indent}  style="rounded,dashed,filled"; fillcolor="#f7f7f7"; color="#bbbbbb"; fontcolor="#999999";`,
        );
      for (const n of s.nodes) {
        const attrs = [`label=${label(n.label)}`];
        if (n.kind === "from") attrs.push(`style="rounded,filled,bold"`);
        if (n.race && n.race !== "safe")
          attrs.push(`color=${q(COLORS[n.race])}`, `fillcolor=${q(FILL[n.race])}`, `penwidth=2`);
        else if (!s.built)
          attrs.push(`color="#bbbbbb"`, `fontcolor="#999999"`, `fillcolor="#f4f4f4"`);
        out.push(`${indent}  ${n.id} [${attrs.join(", ")}];`);
      }
      out.push(`${indent}}`);
    }
    if (f.id) out.push("  }");
  }
  for (const e of v.edges) {
    if (e.kind === "order") out.push(`  ${e.from} -> ${e.to};`);
    else if (e.kind === "race") {
      const c = q(COLORS[e.safety ?? "unsafe"]);
      out.push(
        `  ${e.from} -> ${e.to} [dir=both, style=dashed, constraint=false, penwidth=2, color=${c}, fontcolor=${c}, label=${q(e.label ?? "race")}];`,
      );
    } else out.push(`  ${e.from} -> ${e.to} [style=bold, label=${q(e.label ?? e.kind)}];`);
  }
  out.push("}");
  return out.join("\n") + "\n";
}
