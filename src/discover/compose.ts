/**
 * Builds declared by a docker compose file.
 *
 * `docker compose build` hands every selected service to one `buildx bake` call, so all
 * of them build concurrently on one builder (BUILDKIT.md section 8). This module only
 * says which builds a compose file declares; it never reads the Dockerfiles.
 *
 * Semantics follow compose-go (loader, template) and docker/compose `build_bake.go`:
 * - interpolation (`${VAR}`, `$VAR`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`, `${VAR?e}`,
 *   `${VAR:+a}`, `${VAR+a}`, `$$`) of string values, after anchors and merge keys;
 * - services whose `profiles` are not enabled by COMPOSE_PROFILES are not built;
 * - only `build.platforms` reaches bake (a service-level `platform:` is not passed on);
 * - a build arg without a value takes its value from the environment, or is dropped.
 */
import * as fs from "fs";
import * as nodePath from "path";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { Diagnostic } from "../diagnostics";
import { DeclaredBuild, DeclaredBuilds } from "./types";

/** The declared builds of a compose file. `path` is absolute; `env` is process.env merged with `.env`. */
export function composeBuilds(
  path: string,
  text: string,
  env: Record<string, string>,
): DeclaredBuilds {
  const diagnostics: Diagnostic[] = [];
  const builds: DeclaredBuild[] = [];
  const result: DeclaredBuilds = { path, builds, diagnostics };

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line;
    const message = firstLine(err.message).replace(/ at line \d+, column \d+:?$/, "");
    diagnostics.push({
      line: Math.max(1, line),
      message: `invalid YAML: ${message}`,
      severity: "error",
    });
    return result;
  }

  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 10000 });
  } catch (e) {
    diagnostics.push({
      line: 1,
      message: `invalid YAML: ${firstLine(String((e as Error).message ?? e))}`,
      severity: "error",
    });
    return result;
  }
  if (root === null || root === undefined) return result;
  if (!isRecord(root)) {
    diagnostics.push({
      line: 1,
      message: "compose file must be a mapping at top level",
      severity: "error",
    });
    return result;
  }

  const topLine = (key: string): number => keyLine(doc.contents, [key], lineCounter) ?? 1;
  if (root.include !== undefined) {
    diagnostics.push({
      line: topLine("include"),
      message:
        "`include` is not analysed: the builds of included compose files are not part of this analysis",
      severity: "warning",
    });
  }

  const services = root.services;
  if (services === undefined || services === null) return result;
  if (!isRecord(services)) {
    diagnostics.push({
      line: topLine("services"),
      message: "`services` must be a mapping",
      severity: "error",
    });
    return result;
  }

  const activeProfiles = (env.COMPOSE_PROFILES ?? "").split(",").map((p) => p.trim());
  const baseDir = nodePath.dirname(path);

  for (const [name, raw] of Object.entries(services)) {
    const line = keyLine(doc.contents, ["services", name], lineCounter) ?? topLine("services");
    const where = `service "${name}"`;
    if (!isRecord(raw)) {
      diagnostics.push({ line, message: `${where} must be a mapping`, severity: "error" });
      continue;
    }
    const interp = new Interpolation(env);

    let service: Record<string, unknown> = raw;
    if (raw.extends !== undefined) {
      const extended = resolveExtends(raw, services, baseDir, path, new Set([`${path}#${name}`]));
      if (typeof extended === "string") {
        diagnostics.push({ line, message: `${where}: ${extended}`, severity: "error" });
        continue;
      }
      service = extended;
    }

    if (!profileEnabled(service.profiles, activeProfiles, interp)) continue;
    const build = service.build;
    if (build === undefined || build === null) continue; // image-only service

    const declared = declaredBuild(name, build, baseDir, env, interp, where, line, diagnostics);
    diagnostics.push(...interp.diagnostics(where, line));
    if (declared) builds.push(declared);
  }
  return result;
}

function declaredBuild(
  name: string,
  build: unknown,
  baseDir: string,
  env: Record<string, string>,
  interp: Interpolation,
  where: string,
  line: number,
  diagnostics: Diagnostic[],
): DeclaredBuild | undefined {
  if (typeof build !== "string" && !isRecord(build)) {
    diagnostics.push({
      line,
      message: `${where}: \`build\` must be a string or a mapping`,
      severity: "error",
    });
    return undefined;
  }
  const spec: Record<string, unknown> = typeof build === "string" ? { context: build } : build;

  if (spec.dockerfile_inline !== undefined && spec.dockerfile_inline !== null) {
    diagnostics.push({
      line,
      message: `${where}: dockerfile_inline is not analysed`,
      severity: "warning",
    });
    return undefined;
  }

  const context = scalarString(spec.context, interp) ?? ".";
  if (isRemoteContext(context)) {
    diagnostics.push({
      line,
      message: `${where}: remote build context ${context} is not analysed`,
      severity: "warning",
    });
    return undefined;
  }
  const contextAbs = nodePath.resolve(baseDir, context === "" ? "." : context);
  const dockerfileName = scalarString(spec.dockerfile, interp) || "Dockerfile";
  const dockerfile = nodePath.resolve(contextAbs, dockerfileName);
  // Interpolate everything before checking the file, so variable problems are reported too.
  const buildArgsValue = buildArgs(spec.args, env, interp, where, line, diagnostics);
  const platforms = platformList(spec.platforms, interp, where, line, diagnostics);
  const target = scalarString(spec.target, interp);
  if (!isFile(dockerfile)) {
    diagnostics.push({
      line,
      message: `${where}: Dockerfile not found: ${dockerfile}`,
      severity: "error",
    });
    return undefined;
  }

  const declared: DeclaredBuild = {
    name,
    dockerfile,
    context: contextAbs,
    buildArgs: buildArgsValue,
    platforms,
    line,
  };
  if (target) declared.target = target;
  return declared;
}

/** `args` in map form (`KEY: VAL`, `KEY:` from env) or list form (`- KEY=VAL`, `- KEY` from env). */
function buildArgs(
  args: unknown,
  env: Record<string, string>,
  interp: Interpolation,
  where: string,
  line: number,
  diagnostics: Diagnostic[],
): Record<string, string> {
  const out: Record<string, string> = {};
  const fromEnv = (key: string): void => {
    if (Object.prototype.hasOwnProperty.call(env, key)) out[key] = env[key];
  };
  if (args === undefined || args === null) return out;
  if (Array.isArray(args)) {
    for (const item of args) {
      if (item === null || item === undefined) continue;
      const text = interp.apply(scalarText(item));
      const eq = text.indexOf("=");
      if (eq < 0) fromEnv(text);
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  if (isRecord(args)) {
    for (const [key, value] of Object.entries(args)) {
      if (value === null || value === undefined) fromEnv(key);
      else out[key] = interp.apply(scalarText(value));
    }
    return out;
  }
  diagnostics.push({
    line,
    message: `${where}: build.args must be a mapping or a list`,
    severity: "error",
  });
  return out;
}

function platformList(
  platforms: unknown,
  interp: Interpolation,
  where: string,
  line: number,
  diagnostics: Diagnostic[],
): string[] {
  if (platforms === undefined || platforms === null) return [];
  if (!Array.isArray(platforms)) {
    diagnostics.push({
      line,
      message: `${where}: build.platforms must be a list`,
      severity: "error",
    });
    return [];
  }
  return platforms
    .filter((p) => p !== null && p !== undefined)
    .map((p) => interp.apply(scalarText(p)));
}

/** compose-go `HasProfile`: no profiles, or one of them active (`*` activates all). */
function profileEnabled(profiles: unknown, active: string[], interp: Interpolation): boolean {
  if (!Array.isArray(profiles) || profiles.length === 0) return true;
  const declared = profiles.map((p) => interp.apply(scalarText(p)));
  return active.some((a) => a === "*" || declared.includes(a));
}

/**
 * `extends: name` or `extends: {service, file}`: the base service's definition with this
 * one's keys over it; `build` mappings are merged key by key and `build.args` by arg.
 * Returns an error message when the base cannot be found.
 */
function resolveExtends(
  service: Record<string, unknown>,
  services: Record<string, unknown>,
  baseDir: string,
  file: string,
  seen: Set<string>,
): Record<string, unknown> | string {
  const ext = service.extends;
  let baseName: string | undefined;
  let baseFile: string | undefined;
  if (typeof ext === "string") baseName = ext;
  else if (isRecord(ext)) {
    baseName = typeof ext.service === "string" ? ext.service : undefined;
    baseFile = typeof ext.file === "string" ? ext.file : undefined;
  }
  if (!baseName) return "`extends` must name a service";

  let pool = services;
  let poolFile = file;
  if (baseFile) {
    poolFile = nodePath.resolve(baseDir, baseFile);
    let text: string;
    try {
      text = fs.readFileSync(poolFile, "utf8");
    } catch {
      return `extends: cannot read ${poolFile}`;
    }
    const parsed = parseDocument(text, { merge: true });
    const js = parsed.errors.length ? undefined : parsed.toJS({ maxAliasCount: 10000 });
    if (!isRecord(js) || !isRecord(js.services)) return `extends: ${poolFile} has no services`;
    pool = js.services;
  }
  const key = `${poolFile}#${baseName}`;
  if (seen.has(key)) return `extends: cycle through service "${baseName}"`;
  seen.add(key);
  let base = pool[baseName];
  if (!isRecord(base))
    return `extends: service "${baseName}" not found${baseFile ? ` in ${poolFile}` : ""}`;
  if (base.extends !== undefined) {
    const deeper = resolveExtends(base, pool, nodePath.dirname(poolFile), poolFile, seen);
    if (typeof deeper === "string") return deeper;
    base = deeper;
  }
  // A build context in another file is relative to that file's directory.
  const baseBuild = normaliseBuild((base as Record<string, unknown>).build);
  if (baseBuild && poolFile !== file) {
    const ctx = typeof baseBuild.context === "string" ? baseBuild.context : ".";
    if (!isRemoteContext(ctx))
      baseBuild.context = nodePath.resolve(nodePath.dirname(poolFile), ctx);
  }

  const merged: Record<string, unknown> = { ...(base as Record<string, unknown>), ...service };
  delete merged.extends;
  const ownBuild = normaliseBuild(service.build);
  if (baseBuild && ownBuild) {
    const build: Record<string, unknown> = { ...baseBuild, ...ownBuild };
    if (baseBuild.args !== undefined || ownBuild.args !== undefined) {
      build.args = { ...argsAsMap(baseBuild.args), ...argsAsMap(ownBuild.args) };
    }
    merged.build = build;
  } else {
    merged.build = ownBuild ?? baseBuild;
  }
  return merged;
}

function normaliseBuild(build: unknown): Record<string, unknown> | undefined {
  if (typeof build === "string") return { context: build };
  if (isRecord(build)) return { ...build };
  return undefined;
}

function argsAsMap(args: unknown): Record<string, unknown> {
  if (isRecord(args)) return args;
  const out: Record<string, unknown> = {};
  if (Array.isArray(args)) {
    for (const item of args) {
      if (item === null || item === undefined) continue;
      const text = scalarText(item);
      const eq = text.indexOf("=");
      if (eq < 0) out[text] = null;
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Interpolation (compose-go template package)

const NAME = /^[_a-zA-Z][_a-zA-Z0-9]*/;

/** Applies compose interpolation and remembers unset and required variables for diagnostics. */
class Interpolation {
  readonly unset = new Set<string>();
  readonly required: string[] = [];
  readonly invalid: string[] = [];

  constructor(private readonly env: Record<string, string>) {}

  apply(text: string): string {
    return interpolate(text, (name) => this.lookup(name), {
      missingRequired: (msg) => this.required.push(msg),
      invalid: (t) => this.invalid.push(t),
      unset: (name) => this.unset.add(name),
    });
  }

  diagnostics(where: string, line: number): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const msg of new Set(this.required))
      out.push({ line, message: `${where}: ${msg}`, severity: "error" });
    for (const t of new Set(this.invalid))
      out.push({ line, message: `${where}: invalid interpolation in "${t}"`, severity: "error" });
    for (const name of this.unset) {
      out.push({
        line,
        message: `${where}: variable "${name}" is not set, defaulting to a blank string`,
        severity: "warning",
      });
    }
    return out;
  }

  private lookup(name: string): string | undefined {
    if (Object.prototype.hasOwnProperty.call(this.env, name)) return this.env[name];
    return undefined;
  }
}

interface InterpolationHooks {
  missingRequired?: (message: string) => void;
  invalid?: (template: string) => void;
  unset?: (name: string) => void;
}

/**
 * Compose variable interpolation of one string. `lookup` returns undefined for an unset
 * variable. `$` not followed by `$`, `{` or a name is kept as is (compose does the same).
 */
export function interpolate(
  text: string,
  lookup: (name: string) => string | undefined,
  hooks: InterpolationHooks = {},
): string {
  if (!text.includes("$")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      const end = closingBrace(text, i + 2);
      if (end < 0) {
        hooks.invalid?.(text);
        out += text.slice(i);
        break;
      }
      out += substituteBraced(text.slice(i + 2, end), text, lookup, hooks);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m) {
      const value = lookup(m[0]);
      if (value === undefined) hooks.unset?.(m[0]);
      out += value ?? "";
      i += 1 + m[0].length;
      continue;
    }
    out += "$";
    i++;
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`, counting nested `${`. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function substituteBraced(
  body: string,
  whole: string,
  lookup: (name: string) => string | undefined,
  hooks: InterpolationHooks,
): string {
  const m = NAME.exec(body);
  if (!m) {
    hooks.invalid?.(whole);
    return "";
  }
  const name = m[0];
  const rest = body.slice(name.length);
  const value = lookup(name);
  if (rest === "") {
    if (value === undefined) hooks.unset?.(name);
    return value ?? "";
  }
  const op = /^(:?)([-+?])/.exec(rest);
  if (!op) {
    hooks.invalid?.(whole);
    return "";
  }
  const colon = op[1] === ":";
  const arg = () => interpolate(rest.slice(op[0].length), lookup, hooks);
  const unsetOrEmpty = value === undefined || (colon && value === "");
  switch (op[2]) {
    case "-":
      return unsetOrEmpty ? arg() : (value as string);
    case "+":
      return unsetOrEmpty ? "" : arg();
    default: {
      if (!unsetOrEmpty) return value as string;
      const reason = arg();
      hooks.missingRequired?.(
        reason
          ? `required variable ${name} is missing a value: ${reason}`
          : `required variable ${name} is missing a value`,
      );
      return "";
    }
  }
}

// ---------------------------------------------------------------------------
// .env

/**
 * Reads `<dir>/.env` as compose does: `KEY=VAL` (or `KEY: VAL`) lines, optional `export `,
 * `#` comments, single quotes (literal), double quotes (escapes, interpolation), unquoted
 * values with inline ` #` comments, `${VAR}` from earlier lines or the process environment.
 * Returns {} when there is no such file.
 */
export function loadDotEnv(dir: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(nodePath.join(dir, ".env"), "utf8");
  } catch {
    return {};
  }
  return parseDotEnv(text, process.env);
}

/** Parses dotenv text; `outer` supplies variables not defined earlier in the file. */
export function parseDotEnv(
  text: string,
  outer: Record<string, string | undefined> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  const lookup = (name: string): string | undefined =>
    Object.prototype.hasOwnProperty.call(out, name) ? out[name] : outer[name];
  const src = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  let i = 0;
  while (i < src.length) {
    let eol = src.indexOf("\n", i);
    if (eol < 0) eol = src.length;
    const lineText = src.slice(i, eol);
    const trimmed = lineText.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i = eol + 1;
      continue;
    }
    const m = /^\s*(?:export\s+)?([A-Za-z_.][A-Za-z0-9_.\-]*)\s*[=:]\s?/.exec(lineText);
    if (!m) {
      i = eol + 1;
      continue;
    }
    const key = m[1];
    let pos = i + m[0].length;
    while (src[pos] === " " || src[pos] === "\t") pos++;
    const q = src[pos];
    if (q === "'" || q === '"') {
      const close = findClosingQuote(src, pos + 1, q);
      if (close >= 0) {
        const raw = src.slice(pos + 1, close);
        out[key] = q === "'" ? raw : interpolate(unescapeDouble(raw), lookup);
        const after = src.indexOf("\n", close);
        i = after < 0 ? src.length : after + 1;
        continue;
      }
    }
    let value = src.slice(pos, eol);
    const comment = value.search(/\s#/);
    if (comment >= 0) value = value.slice(0, comment);
    out[key] = interpolate(value.trim(), lookup);
    i = eol + 1;
  }
  return out;
}

function findClosingQuote(src: string, from: number, q: string): number {
  for (let i = from; i < src.length; i++) {
    if (src[i] === "\\" && q === '"') {
      i++;
      continue;
    }
    if (src[i] === q) return i;
  }
  return -1;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\([\\"nrt$])/g, (_, c: string) => {
    switch (c) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "$":
        return "$$"; // stays a literal `$` through interpolation
      default:
        return c;
    }
  });
}

// ---------------------------------------------------------------------------
// helpers

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function scalarText(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return "";
}

function scalarString(v: unknown, interp: Interpolation): string | undefined {
  if (v === undefined || v === null) return undefined;
  return interp.apply(scalarText(v));
}

/** Remote contexts: URLs (`git://`, `https://`, ...), `git@host:...`, `github.com/...`. */
export function isRemoteContext(context: string): boolean {
  return (
    /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(context) ||
    /^git@/.test(context) ||
    /^github\.com\//.test(context)
  );
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0].trim();
}

/** 1-based line of the key at `keys` (a path of map keys) in the YAML node tree. */
function keyLine(node: unknown, keys: string[], lc: LineCounter): number | undefined {
  let current: unknown = node;
  let line: number | undefined;
  for (const key of keys) {
    if (!isMap(current)) return undefined;
    const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (!pair) return undefined;
    const range = isScalar(pair.key) ? pair.key.range : undefined;
    if (range) line = lc.linePos(range[0]).line;
    current = pair.value;
  }
  return line;
}
