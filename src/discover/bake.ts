/**
 * Builds declared by a `docker buildx bake` file (`docker-bake.hcl` or `docker-bake.json`).
 *
 * bake starts every selected target at once on one builder (BUILDKIT.md section 8).
 *
 * Parsing is HashiCorp's own HCL parser (`@cdktf/hcl2json`, Go compiled to WASM, hence
 * async): it turns the file into JSON whose expressions are HCL template strings, and
 * gives the syntax tree of any expression. This module evaluates those trees the way
 * bake does (buildx `bake/hclparser`, `bake/bake.go` at bx@461836b):
 * - `variable` blocks: `default` (may reference other variables), overridden from the
 *   environment and converted to the default's type (bool, number) or to `type`;
 *   no default means "", `default = null` means null;
 * - top-level attributes are variables too (no environment override);
 * - user `function` blocks and a subset of bake's standard library;
 * - `inherits` (recursive; later parents override earlier, the target overrides all;
 *   args merge key by key and a null arg never overrides);
 * - `matrix` + `name` expand a target into several, and the original label becomes a group;
 * - `dockerfile` is relative to `context`, `context` to the bake file's directory.
 * Anything that cannot be evaluated (unknown function, reference to another target's
 * attribute, ...) is reported as a warning naming the target and left unresolved.
 */
import { createHash } from "crypto";
import * as nodePath from "path";
import { Diagnostic } from "../diagnostics";
import { isFile, isRemoteContext } from "./compose";
import { DeclaredBuild, DeclaredBuilds } from "./types";

/** The platform bake reports as BAKE_LOCAL_PLATFORM: the analyser's default host platform. */
const LOCAL_PLATFORM = "linux/amd64";

type Value = string | number | boolean | null | Value[] | { [key: string]: Value } | Unresolved;

/**
 * A value that could not be evaluated; `text` is the source text it came from. `fatal`
 * when bake itself would reject the file (an undefined variable, a cycle, a bad override),
 * as opposed to something this evaluator does not support.
 */
class Unresolved {
  constructor(
    readonly text: string,
    readonly reason: string,
    readonly fatal = false,
  ) {}
}

interface Scope {
  vars: Map<string, Value>;
  parent?: Scope;
}

/** The syntax tree `@cdktf/hcl2json` returns for an expression. */
interface AstNode {
  type: string;
  meta: Record<string, unknown>;
  children: AstNode[];
  range: { start: { byte: number }; end: { byte: number } };
}

interface Hcl2Json {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
  getExpressionAst(filename: string, expression: string): Promise<AstNode | null>;
}

type Body = Record<string, unknown>;

/** A target after evaluation of the attributes the analysis needs, before inheritance. */
interface TargetAttrs {
  context?: string | Unresolved;
  dockerfile?: string | Unresolved;
  dockerfileInline?: string | Unresolved;
  target?: string | Unresolved;
  args: Record<string, string | Unresolved>;
  platforms?: string[] | Unresolved;
  inherits: string[];
  problems: Problem[];
}

/** Something in a target that could not be evaluated; `fatal` when bake would reject it too. */
interface Problem {
  message: string;
  fatal: boolean;
}

interface TargetDef {
  name: string;
  label: string;
  body: Body;
  scope: Scope;
  line: number;
}

/**
 * The declared builds of a bake file. `path` is absolute; `env` overrides `variable`
 * defaults like bake's environment does; `targets` are target or group names (or glob
 * patterns of target names) as on bake's command line. Without `targets`: group
 * "default", else a target "default", else every target (with a warning: bake itself would
 * ask for target names).
 */
export async function bakeBuilds(
  path: string,
  text: string,
  env: Record<string, string>,
  targets?: string[],
): Promise<DeclaredBuilds> {
  const diagnostics: Diagnostic[] = [];
  const builds: DeclaredBuild[] = [];
  const result: DeclaredBuilds = { path, builds, diagnostics };
  const isJson = /\.json$/i.test(path);

  let hcl: Hcl2Json;
  try {
    hcl = (await import("@cdktf/hcl2json")) as unknown as Hcl2Json;
  } catch (e) {
    diagnostics.push({
      line: 1,
      message: `HCL parser unavailable: ${(e as Error).message}`,
      severity: "error",
    });
    return result;
  }

  let raw: unknown;
  if (isJson) {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      const message = (e as Error).message;
      diagnostics.push({
        line: jsonErrorLine(message, text),
        message: `invalid JSON: ${message}`,
        severity: "error",
      });
      return result;
    }
  } else {
    try {
      raw = await hcl.parse(nodePath.basename(path), text);
    } catch (e) {
      const message = String((e as Error).message ?? e)
        .replace(/^parse config: \[?/, "")
        .replace(/\]$/, "");
      diagnostics.push({
        line: hclErrorLine(message),
        message: `invalid HCL: ${message}`,
        severity: "error",
      });
      return result;
    }
  }
  if (!isRecord(raw)) {
    diagnostics.push({
      line: 1,
      message: "bake file must be an object at top level",
      severity: "error",
    });
    return result;
  }

  const locator = new Locator(text, isJson);
  const evaluator = new Evaluator(hcl, raw, env);
  const baseDir = nodePath.dirname(path);

  // Expand matrices: every target gets its final name(s).
  const defs = new Map<string, TargetDef>();
  const groups = new Map<string, { members: string[]; line: number }>();
  for (const [label, body] of blocks(raw.target)) {
    const line = locator.block("target", label);
    const expanded = await evaluator.expandMatrix(label, body);
    for (const problem of expanded.problems) {
      diagnostics.push({ line, message: `target "${label}": ${problem}`, severity: "warning" });
    }
    for (const { name, scope } of expanded.instances)
      defs.set(name, { name, label, body, scope, line });
    const names = expanded.instances.map((i) => i.name);
    if (names.length !== 1 || names[0] !== label) groups.set(label, { members: names, line });
  }
  for (const [name, body] of blocks(raw.group)) {
    const line = locator.block("group", name);
    const value = await evaluator.evalJson(body.targets, rootScope());
    const members = stringList(value);
    if (members instanceof Unresolved) {
      diagnostics.push({
        line,
        message: `group "${name}": cannot evaluate targets (${members.reason})`,
        severity: "warning",
      });
      continue;
    }
    const previous = groups.get(name);
    groups.set(name, { members: [...(previous?.members ?? []), ...members], line });
  }

  // Which targets are built.
  const selected: string[] = [];
  const addSelected = (name: string) => {
    if (!selected.includes(name)) selected.push(name);
  };
  const expand = (name: string, visiting: Set<string>, from: string | undefined, line: number) => {
    const group = groups.get(name);
    if (group) {
      if (visiting.has(name)) return;
      visiting.add(name);
      for (const member of group.members) expand(member, visiting, name, group.line);
      return;
    }
    if (defs.has(name)) addSelected(name);
    else {
      const who = from ? `group "${from}"` : "bake";
      diagnostics.push({
        line,
        message: `${who}: failed to find target ${name}`,
        severity: "error",
      });
    }
  };
  if (targets && targets.length > 0) {
    for (const requested of targets) {
      if (groups.has(requested) || defs.has(requested) || !/[*?[]/.test(requested)) {
        expand(requested, new Set(), undefined, 1);
        continue;
      }
      const re = globToRegExp(requested);
      const matched = [...defs.keys()].filter((n) => re.test(n));
      if (matched.length === 0) {
        diagnostics.push({
          line: 1,
          message: `bake: could not find any target matching '${requested}'`,
          severity: "error",
        });
      }
      matched.forEach(addSelected);
    }
  } else if (groups.has("default") || defs.has("default")) {
    expand("default", new Set(), undefined, 1);
  } else {
    // `docker buildx bake` alone fails here ("failed to find target default"): the worst
    // case a user can ask for is every target at once, so that is what is analysed
    if (defs.size > 1)
      diagnostics.push({
        line: [...defs.values()][0].line,
        message:
          'no "default" group or target: `docker buildx bake` needs target names here; every target is analysed as if all were named at once (choose with --bake-target)',
        severity: "warning",
      });
    [...defs.keys()].forEach(addSelected);
  }

  // Resolve inheritance and turn each selected target into a build.
  for (const name of selected) {
    const def = defs.get(name)!;
    const where = `target "${name}"`;
    const resolved = await resolveTarget(name, defs, evaluator, new Map());
    if (typeof resolved === "string" || resolved === null) {
      diagnostics.push({
        line: def.line,
        message: `${where}: ${resolved ?? "inheritance cycle"}`,
        severity: "error",
      });
      continue;
    }
    const warn = (message: string, cause?: Unresolved | boolean) => {
      const full = `${where}: ${message}`;
      const fatal = cause instanceof Unresolved ? cause.fatal : cause === true;
      if (!diagnostics.some((d) => d.message === full && d.line === def.line)) {
        diagnostics.push({ line: def.line, message: full, severity: fatal ? "error" : "warning" });
      }
    };
    resolved.problems.forEach((p) => warn(p.message, p.fatal));
    const build = toBuild(name, resolved, baseDir, def.line, warn, diagnostics);
    if (build) builds.push(build);
  }
  return result;
}

/** Merged attributes of a target and its parents (buildx `Config.target` + `Target.Merge`). */
async function resolveTarget(
  name: string,
  defs: Map<string, TargetDef>,
  evaluator: Evaluator,
  visited: Map<string, TargetAttrs | null>,
): Promise<TargetAttrs | null | string> {
  if (visited.has(name)) return visited.get(name)!;
  visited.set(name, null);
  const def = defs.get(name);
  if (!def) return `failed to find target ${name}`;
  const own = await evaluator.targetAttrs(def);
  const inherited: TargetAttrs = { args: {}, inherits: [], problems: [] };
  for (const parent of own.inherits) {
    const resolved = await resolveTarget(parent, defs, evaluator, visited);
    if (typeof resolved === "string") return resolved;
    if (resolved) mergeInto(inherited, resolved);
  }
  const merged: TargetAttrs = { args: {}, inherits: [], problems: [] };
  mergeInto(merged, inherited);
  mergeInto(merged, own);
  visited.set(name, merged);
  return merged;
}

function mergeInto(into: TargetAttrs, from: TargetAttrs): void {
  if (from.context !== undefined) into.context = from.context;
  if (from.dockerfile !== undefined) into.dockerfile = from.dockerfile;
  if (from.dockerfileInline !== undefined) into.dockerfileInline = from.dockerfileInline;
  if (from.target !== undefined) into.target = from.target;
  if (from.platforms !== undefined) into.platforms = from.platforms;
  Object.assign(into.args, from.args);
  for (const p of from.problems)
    if (!into.problems.some((q) => q.message === p.message)) into.problems.push(p);
}

function toBuild(
  name: string,
  t: TargetAttrs,
  baseDir: string,
  line: number,
  warn: (message: string, cause?: Unresolved) => void,
  diagnostics: Diagnostic[],
): DeclaredBuild | undefined {
  const where = `target "${name}"`;
  if (t.dockerfileInline !== undefined) {
    warn("dockerfile-inline is not analysed");
    return undefined;
  }
  if (t.context instanceof Unresolved || t.dockerfile instanceof Unresolved) {
    const u = (t.context instanceof Unresolved ? t.context : t.dockerfile) as Unresolved;
    warn(
      `build not analysed: cannot evaluate ${t.context === u ? "context" : "dockerfile"} \`${u.text}\` (${u.reason})`,
      u,
    );
    return undefined;
  }
  let context = t.context ?? ".";
  if (context.startsWith("cwd://")) context = context.slice("cwd://".length);
  if (isRemoteContext(context)) {
    warn(`remote build context ${context} is not analysed`);
    return undefined;
  }
  const contextAbs = nodePath.resolve(baseDir, context || ".");
  const dockerfileName = t.dockerfile || "Dockerfile";
  const dockerfile = dockerfileName.startsWith("cwd://")
    ? nodePath.resolve(baseDir, dockerfileName.slice("cwd://".length))
    : nodePath.resolve(contextAbs, dockerfileName);
  if (!isFile(dockerfile)) {
    diagnostics.push({
      line,
      message: `${where}: Dockerfile not found: ${dockerfile}`,
      severity: "error",
    });
    return undefined;
  }

  const buildArgs: Record<string, string> = {};
  for (const [key, value] of Object.entries(t.args)) {
    if (value instanceof Unresolved) {
      warn(
        `cannot evaluate build arg ${key} \`${value.text}\` (${value.reason}); value left unresolved`,
        value,
      );
      buildArgs[key] = value.text;
    } else buildArgs[key] = value;
  }
  let platforms: string[] = [];
  if (t.platforms instanceof Unresolved) {
    warn(
      `cannot evaluate platforms \`${t.platforms.text}\` (${t.platforms.reason}); using the default platform`,
      t.platforms,
    );
  } else if (t.platforms) platforms = t.platforms;

  const build: DeclaredBuild = {
    name,
    dockerfile,
    context: contextAbs,
    buildArgs,
    platforms,
    line,
  };
  if (t.target instanceof Unresolved) {
    warn(
      `cannot evaluate target \`${t.target.text}\` (${t.target.reason}); value left unresolved`,
      t.target,
    );
    build.target = t.target.text;
  } else if (t.target) build.target = t.target;
  return build;
}

// ---------------------------------------------------------------------------
// Evaluation of hcl2json values (JSON whose strings are HCL templates)

const HEREDOC = "EOT_BUILDRACE_TEMPLATE";

function rootScope(): Scope {
  return { vars: new Map() };
}

class Evaluator {
  private readonly variables: Map<string, Body>;
  private readonly attributes: Map<string, unknown>;
  private readonly functions: Map<string, Body>;
  private readonly resolved = new Map<string, Value>();
  private readonly resolving = new Set<string>();
  private readonly asts = new Map<string, AstNode | Error>();
  private callDepth = 0;

  constructor(
    private readonly hcl: Hcl2Json,
    raw: Body,
    private readonly env: Record<string, string>,
  ) {
    this.variables = blocks(raw.variable);
    this.functions = blocks(raw.function);
    this.attributes = new Map(
      Object.entries(raw).filter(([k]) => !["target", "group", "variable", "function"].includes(k)),
    );
  }

  /** The names and matrix scopes a target block expands to. */
  async expandMatrix(
    label: string,
    body: Body,
  ): Promise<{ instances: { name: string; scope: Scope }[]; problems: string[] }> {
    const problems: string[] = [];
    if (body.matrix === undefined)
      return { instances: [{ name: label, scope: rootScope() }], problems };
    const matrix = await this.evalJson(body.matrix, rootScope());
    if (!isRecord(matrix) || matrix instanceof Unresolved) {
      const why = matrix instanceof Unresolved ? matrix.reason : "matrix must be a map";
      problems.push(`cannot evaluate matrix (${why}); target analysed without it`);
      return { instances: [{ name: label, scope: rootScope() }], problems };
    }
    let combos: Map<string, Value>[] = [new Map()];
    for (const key of Object.keys(matrix).sort()) {
      const values = (matrix as Record<string, Value>)[key];
      if (!Array.isArray(values)) {
        problems.push(`matrix values of ${key} must be a list; target analysed without the matrix`);
        return { instances: [{ name: label, scope: rootScope() }], problems };
      }
      combos = combos.flatMap((c) => values.map((v) => new Map([...c, [key, v]])));
    }
    const instances: { name: string; scope: Scope }[] = [];
    for (const vars of combos) {
      const scope: Scope = { vars, parent: rootScope() };
      let name = label;
      if (body.name !== undefined) {
        const v = await this.evalJson(body.name, scope);
        const s = asString(v);
        if (s instanceof Unresolved)
          problems.push(`cannot evaluate name \`${s.text}\` (${s.reason})`);
        else name = s;
      }
      if (!instances.some((i) => i.name === name)) instances.push({ name, scope });
    }
    return { instances, problems };
  }

  /** The attributes the analysis needs, evaluated in the target's own scope. */
  async targetAttrs(def: TargetDef): Promise<TargetAttrs> {
    const { body, scope } = def;
    const attrs: TargetAttrs = { args: {}, inherits: [], problems: [] };
    const str = async (key: string): Promise<string | Unresolved | undefined> => {
      if (body[key] === undefined) return undefined;
      const v = await this.evalJson(body[key], scope);
      if (v === null) return undefined;
      return asString(v);
    };
    attrs.context = await str("context");
    attrs.dockerfile = await str("dockerfile");
    attrs.dockerfileInline = await str("dockerfile-inline");
    attrs.target = await str("target");

    if (body.args !== undefined) {
      const args = await this.evalJson(body.args, scope);
      if (args instanceof Unresolved) {
        attrs.problems.push({
          message: `cannot evaluate args \`${args.text}\` (${args.reason})`,
          fatal: args.fatal,
        });
      } else if (isRecord(args)) {
        for (const [key, value] of Object.entries(args)) {
          if (value === null) continue; // a null arg is unset and never overrides
          attrs.args[key] = asString(value);
        }
      } else if (args !== null) attrs.problems.push({ message: "args must be a map", fatal: true });
    }
    if (body.platforms !== undefined) {
      const platforms = await this.evalJson(body.platforms, scope);
      if (platforms !== null) attrs.platforms = stringList(platforms);
    }
    if (body.inherits !== undefined) {
      const inherits = stringList(await this.evalJson(body.inherits, scope));
      if (inherits instanceof Unresolved) {
        attrs.problems.push({
          message: `cannot evaluate inherits (${inherits.reason})`,
          fatal: inherits.fatal,
        });
      } else attrs.inherits = inherits;
    }
    return attrs;
  }

  /** Evaluates a hcl2json value: strings are templates, arrays and objects recurse. */
  async evalJson(v: unknown, scope: Scope): Promise<Value> {
    if (typeof v === "string") return this.evalTemplate(v, scope);
    if (typeof v === "number" || typeof v === "boolean" || v === null) return v;
    if (Array.isArray(v)) {
      const out: Value[] = [];
      for (const item of v) out.push(await this.evalJson(item, scope));
      return out;
    }
    if (isRecord(v)) {
      const out: { [key: string]: Value } = {};
      for (const [k, item] of Object.entries(v)) {
        let key = k;
        if (k.includes("${")) {
          const kv = asString(await this.evalTemplate(k, scope));
          if (kv instanceof Unresolved) return kv;
          key = kv;
        }
        out[key] = await this.evalJson(item, scope);
      }
      return out;
    }
    return null;
  }

  /** Evaluates one HCL template (the string form hcl2json gives every expression). */
  async evalTemplate(text: string, scope: Scope): Promise<Value> {
    if (!text.includes("${") && !text.includes("%{")) return unescapeTemplate(text, false);
    const ast = await this.ast(text);
    if (ast instanceof Error)
      return new Unresolved(text, `cannot parse expression: ${firstLine(ast.message)}`);
    // The template is wrapped in a heredoc, whose content ends with one extra newline.
    const parts = [...ast.children];
    const last = parts[parts.length - 1];
    if (last && last.type === "literalValue") {
      const rawText = String(last.meta.value ?? "");
      const trimmed = rawText.endsWith("\n") ? rawText.slice(0, -1) : rawText;
      if (trimmed === "") parts.pop();
      else parts[parts.length - 1] = { ...last, meta: { ...last.meta, value: trimmed } };
    }
    let value: Value;
    if (parts.length === 1 && parts[0].type !== "literalValue") {
      value = await this.evalNode(parts[0], scope, false); // "${x}" is x itself, of any type
    } else value = await this.concat(parts, scope, false);
    return value instanceof Unresolved ? new Unresolved(text, value.reason, value.fatal) : value;
  }

  private async ast(text: string): Promise<AstNode | Error> {
    const cached = this.asts.get(text);
    if (cached) return cached;
    let result: AstNode | Error;
    try {
      const wrapped = `<<${HEREDOC}\n${text}\n${HEREDOC}\n`;
      const ast = await this.hcl.getExpressionAst("expression.hcl", wrapped);
      if (ast) annotateObjectKeys(ast, Buffer.from(wrapped, "utf8"));
      result = ast ?? new Error("empty expression");
    } catch (e) {
      result = e instanceof Error ? e : new Error(String(e));
    }
    this.asts.set(text, result);
    return result;
  }

  private async concat(parts: AstNode[], scope: Scope, quoted: boolean): Promise<Value> {
    let out = "";
    for (const part of parts) {
      if (part.type === "literalValue" && part.meta.type === "string") {
        out += unescapeTemplate(String(part.meta.value ?? ""), quoted);
        continue;
      }
      const s = templatePiece(await this.evalNode(part, scope, quoted));
      if (s instanceof Unresolved) return s;
      out += s;
    }
    return out;
  }

  private async evalNode(node: AstNode, scope: Scope, quoted: boolean): Promise<Value> {
    const meta = node.meta ?? {};
    const kids = node.children ?? [];
    const source = typeof meta.value === "string" ? meta.value : node.type;
    switch (node.type) {
      case "literalValue": {
        const text = String(meta.value ?? "");
        if (meta.type === "number") return Number(text);
        if (meta.type === "bool") return text === "true";
        if (meta.type === "string") return unescapeTemplate(text, quoted);
        if (text === "null") return null;
        return new Unresolved(text, "unsupported literal");
      }
      case "template": {
        const value = String(meta.value ?? "");
        const q = value.startsWith('"') ? true : value.startsWith("<<") ? false : quoted;
        return this.concat(kids, scope, q);
      }
      case "templateWrap":
        return kids[0] ? this.evalNode(kids[0], scope, quoted) : null;
      case "templateJoin": {
        const list = kids[0] ? await this.evalNode(kids[0], scope, quoted) : [];
        if (list instanceof Unresolved) return list;
        if (!Array.isArray(list)) return new Unresolved(source, "template for directive");
        let out = "";
        for (const item of list) {
          const s = templatePiece(item);
          if (s instanceof Unresolved) return s;
          out += s;
        }
        return out;
      }
      case "":
        // Parentheses (and object keys, handled in "object").
        return kids[0]
          ? this.evalNode(kids[0], scope, quoted)
          : new Unresolved(source, "empty expression");
      case "scopeTraversal": {
        const steps = (meta.traversal as { type: string; segment: string }[] | undefined) ?? [];
        if (steps.length === 0) return new Unresolved(source, "empty reference");
        const root = await this.lookup(steps[0].segment, scope);
        return traverse(root, steps.slice(1), source);
      }
      case "relativeTraversal": {
        const base = kids[0] ? await this.evalNode(kids[0], scope, quoted) : null;
        const steps = (meta.traversal as { type: string; segment: string }[] | undefined) ?? [];
        return traverse(base, steps, source);
      }
      case "index": {
        const collection = await this.evalNode(kids[0], scope, quoted);
        const key = await this.evalNode(kids[1], scope, quoted);
        if (collection instanceof Unresolved) return collection;
        if (key instanceof Unresolved) return key;
        return index(collection, key, source);
      }
      case "splat": {
        const base = await this.evalNode(kids[0], scope, quoted);
        if (base instanceof Unresolved) return base;
        const each = kids[1];
        const steps =
          (each?.meta?.traversal as { type: string; segment: string }[] | undefined) ?? [];
        const items = base === null ? [] : Array.isArray(base) ? base : [base];
        return items.map((item) => traverse(item, steps, source));
      }
      case "tuple": {
        const out: Value[] = [];
        for (const kid of kids) out.push(await this.evalNode(kid, scope, quoted));
        return out;
      }
      case "object": {
        const out: { [key: string]: Value } = {};
        for (let i = 0; i + 1 < kids.length; i += 2) {
          const keyNode = kids[i];
          let key: Value;
          // A bare identifier key has no children; ast() recorded its source text.
          if (keyNode.type === "" && keyNode.children.length === 0)
            key = String(keyNode.meta?.keyText ?? "");
          else key = await this.evalNode(keyNode, scope, quoted);
          const k = asString(key);
          if (k instanceof Unresolved) return k;
          out[k] = await this.evalNode(kids[i + 1], scope, quoted);
        }
        return out;
      }
      case "conditional": {
        const cond = truthy(await this.evalNode(kids[0], scope, quoted));
        if (cond instanceof Unresolved) return cond;
        return this.evalNode(cond ? kids[1] : kids[2], scope, quoted);
      }
      case "unaryOp": {
        const v = await this.evalNode(kids[0], scope, quoted);
        if (v instanceof Unresolved) return v;
        if (meta.operator === "logicalNot") {
          const b = truthy(v);
          return b instanceof Unresolved ? b : !b;
        }
        const n = toNumber(v);
        return n === undefined ? new Unresolved(source, "not a number") : -n;
      }
      case "binaryOp":
        return this.binary(String(meta.operator), kids, scope, quoted, source);
      case "function":
        return this.call(
          String(meta.name),
          kids,
          meta.expandedFinalArgument === true,
          scope,
          quoted,
          source,
        );
      case "for":
        return this.forExpr(node, scope, quoted, source);
      default:
        return new Unresolved(source, `unsupported expression (${node.type})`);
    }
  }

  private async binary(
    op: string,
    kids: AstNode[],
    scope: Scope,
    quoted: boolean,
    source: string,
  ): Promise<Value> {
    const lhs = await this.evalNode(kids[0], scope, quoted);
    if (op === "logicalAnd" || op === "logicalOr") {
      const l = truthy(lhs);
      if (!(l instanceof Unresolved) && l === (op === "logicalOr")) return l;
      const r = truthy(await this.evalNode(kids[1], scope, quoted));
      if (l instanceof Unresolved) return r === (op === "logicalOr") ? r : l;
      return r;
    }
    const rhs = await this.evalNode(kids[1], scope, quoted);
    if (lhs instanceof Unresolved) return lhs;
    if (rhs instanceof Unresolved) return rhs;
    if (op === "equal") return deepEqual(lhs, rhs);
    if (op === "notEqual") return !deepEqual(lhs, rhs);
    const a = toNumber(lhs);
    const b = toNumber(rhs);
    if (a === undefined || b === undefined)
      return new Unresolved(source, "arithmetic on a non-number");
    switch (op) {
      case "add":
        return a + b;
      case "subtract":
        return a - b;
      case "multiply":
        return a * b;
      case "divide":
        return b === 0 ? new Unresolved(source, "division by zero") : a / b;
      case "modulo":
        return b === 0 ? new Unresolved(source, "division by zero") : a % b;
      case "lessThan":
        return a < b;
      case "lessThanOrEqual":
        return a <= b;
      case "greaterThan":
        return a > b;
      case "greaterThanOrEqual":
        return a >= b;
      default:
        return new Unresolved(source, `unsupported operator ${op}`);
    }
  }

  private async forExpr(
    node: AstNode,
    scope: Scope,
    quoted: boolean,
    source: string,
  ): Promise<Value> {
    const meta = node.meta;
    const kids = [...node.children];
    const collection = await this.evalNode(kids.shift()!, scope, quoted);
    if (collection instanceof Unresolved) return collection;
    const keyExpr = meta.keyExpression ? kids.shift() : undefined;
    const valueExpr = kids.shift();
    const condExpr = meta.conditionalExpression ? kids.shift() : undefined;
    if (!valueExpr) return new Unresolved(source, "malformed for expression");
    const entries: [Value, Value][] = Array.isArray(collection)
      ? collection.map((v, i) => [i, v])
      : isRecord(collection)
        ? Object.keys(collection)
            .sort()
            .map((k) => [k, (collection as Record<string, Value>)[k]])
        : [];
    const keyVar = String(meta.keyVar ?? "");
    const valVar = String(meta.valVar ?? "");
    const list: Value[] = [];
    const obj: { [key: string]: Value } = {};
    for (const [k, v] of entries) {
      const vars = new Map<string, Value>();
      if (keyVar) vars.set(keyVar, k);
      if (valVar) vars.set(valVar, v);
      const inner: Scope = { vars, parent: scope };
      if (condExpr) {
        const c = truthy(await this.evalNode(condExpr, inner, quoted));
        if (c instanceof Unresolved) return c;
        if (!c) continue;
      }
      const value = await this.evalNode(valueExpr, inner, quoted);
      if (!keyExpr) {
        list.push(value);
        continue;
      }
      const key = asString(await this.evalNode(keyExpr, inner, quoted));
      if (key instanceof Unresolved) return key;
      if (meta.groupedValue) {
        const existing = obj[key];
        obj[key] = Array.isArray(existing) ? [...existing, value] : [value];
      } else obj[key] = value;
    }
    return keyExpr ? obj : list;
  }

  private async call(
    name: string,
    kids: AstNode[],
    expandLast: boolean,
    scope: Scope,
    quoted: boolean,
    source: string,
  ): Promise<Value> {
    const args: Value[] = [];
    for (const kid of kids) args.push(await this.evalNode(kid, scope, quoted));
    if (expandLast && args.length > 0) {
      const last = args.pop()!;
      if (last instanceof Unresolved) return last;
      if (!Array.isArray(last)) return new Unresolved(source, "expanded argument is not a list");
      args.push(...last);
    }
    const unresolved = args.find((a) => a instanceof Unresolved);
    if (unresolved) return unresolved;

    const user = this.functions.get(name);
    if (user) return this.callUser(name, user, args, source);
    const builtin = STDLIB[name];
    if (!builtin) return new Unresolved(source, `function ${name} is not supported`);
    try {
      const v = builtin(args);
      return v === undefined ? new Unresolved(source, `invalid arguments to ${name}`) : v;
    } catch {
      return new Unresolved(source, `invalid arguments to ${name}`);
    }
  }

  private async callUser(name: string, fn: Body, args: Value[], source: string): Promise<Value> {
    const paramName = (p: unknown) => String(p).replace(/^\$\{\s*(.*?)\s*\}$/, "$1");
    const params = Array.isArray(fn.params) ? fn.params.map(paramName) : [];
    const variadic =
      fn.variadic_params !== undefined && fn.variadic_params !== null
        ? paramName(fn.variadic_params)
        : undefined;
    if (args.length < params.length || (!variadic && args.length > params.length)) {
      return new Unresolved(source, `wrong number of arguments to ${name}`);
    }
    if (this.callDepth > 32) return new Unresolved(source, `recursion in function ${name}`);
    const vars = new Map<string, Value>();
    params.forEach((p, i) => vars.set(p, args[i]));
    if (variadic) vars.set(variadic, args.slice(params.length));
    this.callDepth++;
    try {
      return await this.evalJson(fn.result, { vars, parent: rootScope() });
    } finally {
      this.callDepth--;
    }
  }

  /** A name in scope: local (matrix, function params, for), then variables, attributes, built-ins. */
  private async lookup(name: string, scope: Scope): Promise<Value> {
    for (let s: Scope | undefined = scope; s; s = s.parent) {
      if (s.vars.has(name)) return s.vars.get(name)!;
    }
    // Built-in variables cannot be overridden (buildx resolveValue).
    if (name === "BAKE_LOCAL_PLATFORM") return LOCAL_PLATFORM;
    if (name === "BAKE_CMD_CONTEXT") return ".";
    if (this.resolved.has(name)) return this.resolved.get(name)!;
    if (this.variables.has(name) || this.attributes.has(name)) {
      if (this.resolving.has(name))
        return new Unresolved(name, `variable cycle not allowed for ${name}`, true);
      this.resolving.add(name);
      const value = this.variables.has(name)
        ? await this.variable(name, this.variables.get(name)!)
        : await this.evalJson(this.attributes.get(name), rootScope());
      this.resolving.delete(name);
      this.resolved.set(name, value);
      return value;
    }
    if (name === "target")
      return new Unresolved(name, "references to other targets' attributes are not supported");
    return new Unresolved(name, `variable "${name}" does not exist`, true);
  }

  /** buildx `resolveValue` for a `variable` block. */
  private async variable(name: string, body: Body): Promise<Value> {
    const type =
      typeof body.type === "string"
        ? body.type.replace(/^\$\{\s*(.*?)\s*\}$/, "$1").replace(/\s+/g, "")
        : undefined;
    const typed = type !== undefined && type !== "any";
    const hasEnv = Object.prototype.hasOwnProperty.call(this.env, name);
    // A typed variable favours a JSON override in NAME_JSON (unless that is itself a variable).
    const jsonEnv = this.variables.has(`${name}_JSON`) ? undefined : this.env[`${name}_JSON`];
    if (typed && jsonEnv !== undefined) {
      try {
        return JSON.parse(jsonEnv) as Value;
      } catch {
        return new Unresolved(jsonEnv, `${name}_JSON is not valid JSON`, true);
      }
    }
    if (!("default" in body) && !hasEnv) return typed ? null : "";
    const def = "default" in body ? await this.evalJson(body.default, rootScope()) : null;
    if (!hasEnv) return def;
    const envValue = this.env[name];
    if (typed) return convertPrimitive(envValue, type, name);
    if (def instanceof Unresolved || def === null || def === undefined) return envValue;
    if (typeof def === "boolean") return convertPrimitive(envValue, "bool", name);
    if (typeof def === "number") return convertPrimitive(envValue, "number", name);
    if (typeof def === "string") return envValue;
    return new Unresolved(
      envValue,
      `cannot override variable ${name} of a complex type from the environment`,
    );
  }
}

/** Records the source text of bare-identifier object keys, which the AST gives only as a range. */
function annotateObjectKeys(node: AstNode, src: Buffer): void {
  if (node.type === "object") {
    for (let i = 0; i < node.children.length; i += 2) {
      const key = node.children[i];
      if (key.type === "" && key.children.length === 0 && key.range) {
        key.meta = {
          ...(key.meta ?? {}),
          keyText: src.subarray(key.range.start.byte, key.range.end.byte).toString("utf8"),
        };
      }
    }
  }
  for (const child of node.children ?? []) annotateObjectKeys(child, src);
}

function convertPrimitive(text: string, type: string, name: string): Value {
  if (type === "string") return text;
  if (type === "bool") {
    if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
    if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
    return new Unresolved(text, `invalid bool value for variable ${name}`, true);
  }
  if (type === "number") {
    const n = Number(text);
    return text.trim() === "" || Number.isNaN(n)
      ? new Unresolved(text, `invalid number value for variable ${name}`, true)
      : n;
  }
  const list = /^(list|set)\((string|number|bool)\)$/.exec(type);
  if (list) {
    const items = text === "" ? [] : text.split(",").map((s) => s.trim());
    return items.map((s) => convertPrimitive(s, list[2], name));
  }
  return new Unresolved(text, `unsupported type ${type} for variable ${name}`);
}

// ---------------------------------------------------------------------------
// Value helpers

function traverse(value: Value, steps: { type: string; segment: string }[], source: string): Value {
  let current = value;
  for (const step of steps) {
    if (current instanceof Unresolved) return current;
    const key: Value =
      step.type === "indexTraversal"
        ? parseIndexSegment(step.segment)
        : step.segment.replace(/^\./, "");
    current = index(current, key, source);
  }
  return current;
}

function parseIndexSegment(segment: string): Value {
  const s = segment.trim();
  if (s.startsWith('"')) {
    try {
      return JSON.parse(s) as string;
    } catch {
      return s.slice(1, -1);
    }
  }
  const n = Number(s);
  return Number.isNaN(n) ? s : n;
}

function index(collection: Value, key: Value, source: string): Value {
  if (collection instanceof Unresolved) return collection;
  if (Array.isArray(collection)) {
    const i = toNumber(key);
    if (i === undefined || i < 0 || i >= collection.length || !Number.isInteger(i)) {
      return new Unresolved(source, "index out of range");
    }
    return collection[i];
  }
  if (isRecord(collection)) {
    const k = asString(key);
    if (k instanceof Unresolved) return k;
    if (!Object.prototype.hasOwnProperty.call(collection, k))
      return new Unresolved(source, `no attribute ${k}`);
    return (collection as Record<string, Value>)[k];
  }
  return new Unresolved(source, "cannot index a non-collection");
}

function asString(v: Value): string | Unresolved {
  if (v instanceof Unresolved) return v;
  if (typeof v === "string") return v;
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  return new Unresolved(JSON.stringify(v), "not a string");
}

/** A value interpolated into a template: null and collections are errors in HCL. */
function templatePiece(v: Value): string | Unresolved {
  if (v === null) return new Unresolved("null", "null value in a string template");
  return asString(v);
}

function stringList(v: Value): string[] | Unresolved {
  if (v instanceof Unresolved) return v;
  if (!Array.isArray(v)) return new Unresolved(JSON.stringify(v), "not a list");
  const out: string[] = [];
  for (const item of v) {
    if (item === null) continue;
    const s = asString(item);
    if (s instanceof Unresolved) return s;
    out.push(s);
  }
  return out;
}

function truthy(v: Value): boolean | Unresolved {
  if (v instanceof Unresolved) return v;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  return new Unresolved(JSON.stringify(v), "condition is not a bool");
}

function toNumber(v: Value): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}

function deepEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every(
        (k) =>
          Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as any)[k], (b as any)[k]),
      )
    );
  }
  return false;
}

/**
 * Literal template text: `$${` and `%%{` are escapes; inside a quoted string
 * (not a heredoc) backslash escapes apply too.
 */
function unescapeTemplate(text: string, quoted: boolean): string {
  let s = text;
  if (quoted) {
    s = s.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_, e: string) => {
      switch (e[0]) {
        case "n":
          return "\n";
        case "r":
          return "\r";
        case "t":
          return "\t";
        case "u":
        case "U":
          return String.fromCodePoint(parseInt(e.slice(1), 16));
        default:
          return e;
      }
    });
  }
  return s.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
}

// A subset of bake's standard library (bake/hclparser/stdlib.go); arguments are evaluated.
type Builtin = (args: Value[]) => Value | undefined;
const str = (v: Value): string => {
  const s = asString(v);
  if (s instanceof Unresolved) throw new Error("not a string");
  return s;
};
const list = (v: Value): Value[] => {
  if (!Array.isArray(v)) throw new Error("not a list");
  return v;
};
const map = (v: Value): Record<string, Value> => {
  if (!isRecord(v)) throw new Error("not a map");
  return v as Record<string, Value>;
};
const hash = (algo: string) => (a: Value[]) => createHash(algo).update(str(a[0])).digest("hex");
const STDLIB: Record<string, Builtin> = {
  upper: (a) => str(a[0]).toUpperCase(),
  lower: (a) => str(a[0]).toLowerCase(),
  title: (a) =>
    str(a[0]).replace(
      /(^|[^\p{L}\p{N}])(\p{L})/gu,
      (_, p: string, c: string) => p + c.toUpperCase(),
    ),
  trimspace: (a) => str(a[0]).trim(),
  chomp: (a) => str(a[0]).replace(/(\r\n|\n|\r)+$/, ""),
  trim: (a) => {
    const cut = new Set(str(a[1]));
    const chars = [...str(a[0])];
    let i = 0;
    let j = chars.length;
    while (i < j && cut.has(chars[i])) i++;
    while (j > i && cut.has(chars[j - 1])) j--;
    return chars.slice(i, j).join("");
  },
  trimprefix: (a) =>
    str(a[0]).startsWith(str(a[1])) ? str(a[0]).slice(str(a[1]).length) : str(a[0]),
  trimsuffix: (a) =>
    str(a[1]) !== "" && str(a[0]).endsWith(str(a[1]))
      ? str(a[0]).slice(0, -str(a[1]).length)
      : str(a[0]),
  replace: (a) => str(a[0]).split(str(a[1])).join(str(a[2])),
  regex_replace: (a) =>
    str(a[0]).replace(new RegExp(str(a[1]), "g"), str(a[2]).replace(/\$\{?(\d+)\}?/g, "$$$1")),
  join: (a) => a.slice(1).flatMap(list).map(str).join(str(a[0])),
  split: (a) => str(a[1]).split(str(a[0])),
  strlen: (a) => [...str(a[0])].length,
  substr: (a) => {
    const chars = [...str(a[0])];
    let offset = toNumber(a[1]) ?? 0;
    const length = toNumber(a[2]) ?? -1;
    if (offset < 0) offset = Math.max(0, chars.length + offset);
    return chars.slice(offset, length < 0 ? undefined : offset + length).join("");
  },
  sanitize: (a) => str(a[0]).replace(/[^a-zA-Z0-9_-]/gu, "_"),
  concat: (a) => a.flatMap(list),
  coalesce: (a) => a.find((v) => v !== null && v !== "") ?? undefined,
  coalescelist: (a) => a.find((v) => Array.isArray(v) && v.length > 0) ?? undefined,
  compact: (a) => list(a[0]).filter((v) => v !== null && v !== ""),
  contains: (a) => list(a[0]).some((v) => deepEqual(v, a[1])),
  distinct: (a) => list(a[0]).filter((v, i, all) => all.findIndex((w) => deepEqual(v, w)) === i),
  element: (a) => {
    const l = list(a[0]);
    const i = toNumber(a[1]);
    return l.length === 0 || i === undefined
      ? undefined
      : l[((i % l.length) + l.length) % l.length];
  },
  flatten: (a) => {
    const flat = (v: Value[]): Value[] => v.flatMap((x) => (Array.isArray(x) ? flat(x) : [x]));
    return flat(list(a[0]));
  },
  reverse: (a) => [...list(a[0])].reverse(),
  reverselist: (a) => [...list(a[0])].reverse(),
  sort: (a) => list(a[0]).map(str).sort(),
  slice: (a) => list(a[0]).slice(toNumber(a[1]), toNumber(a[2])),
  length: (a) =>
    Array.isArray(a[0])
      ? a[0].length
      : isRecord(a[0])
        ? Object.keys(a[0]).length
        : [...str(a[0])].length,
  keys: (a) => Object.keys(map(a[0])).sort(),
  values: (a) => {
    const m = map(a[0]);
    return Object.keys(m)
      .sort()
      .map((k) => m[k]);
  },
  lookup: (a) => {
    const m = map(a[0]);
    const k = str(a[1]);
    return Object.prototype.hasOwnProperty.call(m, k) ? m[k] : a.length > 2 ? a[2] : undefined;
  },
  merge: (a) => Object.assign({}, ...a.filter((v) => v !== null).map(map)),
  equal: (a) => deepEqual(a[0], a[1]),
  notequal: (a) => !deepEqual(a[0], a[1]),
  and: (a) => a.every((v) => v === true),
  or: (a) => a.some((v) => v === true),
  not: (a) => (typeof a[0] === "boolean" ? !a[0] : undefined),
  md5: hash("md5"),
  sha1: hash("sha1"),
  sha256: hash("sha256"),
  sha512: hash("sha512"),
  base64encode: (a) => Buffer.from(str(a[0]), "utf8").toString("base64"),
  base64decode: (a) => Buffer.from(str(a[0]), "base64").toString("utf8"),
  basename: (a) => nodePath.posix.basename(str(a[0])),
  dirname: (a) => nodePath.posix.dirname(str(a[0])),
  jsonencode: (a) => JSON.stringify(a[0]),
  jsondecode: (a) => JSON.parse(str(a[0])) as Value,
  urlencode: (a) => encodeURIComponent(str(a[0])),
  max: (a) => Math.max(...a.map((v) => toNumber(v) ?? NaN)),
  min: (a) => Math.min(...a.map((v) => toNumber(v) ?? NaN)),
  abs: (a) => Math.abs(toNumber(a[0]) ?? NaN),
  absolute: (a) => Math.abs(toNumber(a[0]) ?? NaN),
  ceil: (a) => Math.ceil(toNumber(a[0]) ?? NaN),
  floor: (a) => Math.floor(toNumber(a[0]) ?? NaN),
  int: (a) => Math.trunc(toNumber(a[0]) ?? NaN),
  parseint: (a) => parseInt(str(a[0]), toNumber(a[1]) ?? 10),
  range: (a) => {
    const nums = a.map((v) => toNumber(v) ?? NaN);
    const [start, end, step] =
      nums.length === 1
        ? [0, nums[0], 1]
        : [nums[0], nums[1], nums[2] ?? (nums[1] >= nums[0] ? 1 : -1)];
    const out: number[] = [];
    if (!step) return undefined;
    for (let i = start; step > 0 ? i < end : i > end; i += step) {
      out.push(i);
      if (out.length > 1024) return undefined;
    }
    return out;
  },
};

// ---------------------------------------------------------------------------
// File structure helpers

/** Block bodies by label; hcl2json gives each as an array of bodies (repeated blocks merge). */
function blocks(raw: unknown): Map<string, Body> {
  const out = new Map<string, Body>();
  if (!isRecord(raw)) return out;
  for (const [label, value] of Object.entries(raw)) {
    const bodies = Array.isArray(value) ? value : [value];
    const merged: Body = out.get(label) ?? {};
    for (const body of bodies) {
      if (!isRecord(body)) continue;
      for (const [k, v] of Object.entries(body)) {
        merged[k] =
          k === "args" && isRecord(merged[k]) && isRecord(v) ? { ...(merged[k] as Body), ...v } : v;
      }
    }
    out.set(label, merged);
  }
  return out;
}

/** Finds the line of a block in the source (hcl2json keeps no positions). */
class Locator {
  private readonly lineStarts: number[] = [0];

  constructor(
    private readonly text: string,
    private readonly isJson: boolean,
  ) {
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.lineStarts.push(i + 1);
  }

  block(type: string, label: string): number {
    const l = escapeRegExp(label);
    let re: RegExp;
    if (this.isJson) {
      const section = this.text.search(new RegExp(`"${type}"\\s*:`));
      if (section < 0) return 1;
      re = new RegExp(`"${l}"\\s*:`, "g");
      re.lastIndex = section;
      const m = re.exec(this.text);
      return m ? this.lineOf(m.index) : this.lineOf(section);
    }
    re = new RegExp(`^[ \\t]*${type}[ \\t]+"${l}"`, "m");
    const m = re.exec(this.text);
    return m ? this.lineOf(m.index + m[0].length - 1) : 1;
  }

  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

/** The first `file:LINE,COL` in an HCL diagnostic. */
function hclErrorLine(message: string): number {
  const m = /:(\d+),(\d+)(?:-\d+(?:,\d+)?)?:/.exec(message);
  return m ? Math.max(1, Number(m[1])) : 1;
}

/** The line of a JSON.parse error (newer V8 says "line N", older "position N"). */
function jsonErrorLine(message: string, text: string): number {
  const line = /line (\d+)/.exec(message);
  if (line) return Math.max(1, Number(line[1]));
  const pos = /position (\d+)/.exec(message);
  if (pos) return text.slice(0, Number(pos[1])).split("\n").length;
  return 1;
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Unresolved);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Go `path.Match` patterns (`*`, `?`, `[...]`), whole-name. */
function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re +=
          "[" +
          pattern
            .slice(i + 1, end)
            .replace(/^\^/, "^")
            .replace(/\\/g, "\\\\") +
          "]";
        i = end;
      }
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`);
}

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}
