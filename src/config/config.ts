/**
 * Configuration: `buildrace.config.json`, `.buildracerc.json` or `.buildracerc` (JSON),
 * found upward from each input file, or one file given with `--config`.
 * Precedence (highest first): command-line flags, `--config FILE`, the nearest config file
 * upward from the input, built-in defaults.
 */
import * as fs from "fs";
import * as path from "path";
import { InputFile } from "../discover/discover";
import { Safety, UserRule } from "../knowledge/kb";

export const CONFIG_NAMES = ["buildrace.config.json", ".buildracerc.json", ".buildracerc"];

export interface Config {
  strategy?: "auto" | "lock" | "split" | "merge";
  target?: string;
  buildArgs?: Record<string, string>;
  platforms?: string[];
  /** Extra knowledge: cache paths or ids (globs: `*`, `**`) by safety class. */
  caches?: Partial<Record<Safety, string[]>>;
  /** Files to skip (globs relative to the config file's directory). */
  ignore?: string[];
}

export class ConfigError extends Error {}

const KEYS = new Set([
  "strategy",
  "target",
  "buildArgs",
  "platforms",
  "caches",
  "ignore",
  "$schema",
]);

export function readConfig(file: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new ConfigError(`${file}: must be a JSON object`);
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!KEYS.has(k))
      throw new ConfigError(
        `${file}: unknown setting "${k}" (known: ${[...KEYS].filter((x) => x !== "$schema").join(", ")})`,
      );
  const strings = (v: unknown, name: string): string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
      throw new ConfigError(`${file}: "${name}" must be a list of strings`);
    return v as string[];
  };
  if (
    c.strategy !== undefined &&
    !["auto", "lock", "split", "merge"].includes(c.strategy as string)
  )
    throw new ConfigError(`${file}: "strategy" must be auto, lock, split or merge`);
  if (c.target !== undefined && typeof c.target !== "string")
    throw new ConfigError(`${file}: "target" must be a string`);
  if (c.buildArgs !== undefined) {
    const b = c.buildArgs as Record<string, unknown>;
    if (
      !b ||
      typeof b !== "object" ||
      Array.isArray(b) ||
      Object.values(b).some((v) => typeof v !== "string")
    )
      throw new ConfigError(`${file}: "buildArgs" must map names to strings`);
  }
  const caches: Config["caches"] = {};
  if (c.caches !== undefined) {
    const m = c.caches as Record<string, unknown>;
    if (!m || typeof m !== "object" || Array.isArray(m))
      throw new ConfigError(`${file}: "caches" must be an object`);
    for (const [k, v] of Object.entries(m)) {
      if (!["unsafe", "serialising", "safe", "unknown"].includes(k))
        throw new ConfigError(`${file}: "caches.${k}": use unsafe, serialising or safe`);
      caches[k as Safety] = strings(v, `caches.${k}`);
    }
  }
  return {
    strategy: c.strategy as Config["strategy"],
    target: c.target as string | undefined,
    buildArgs: c.buildArgs as Record<string, string> | undefined,
    platforms: strings(c.platforms, "platforms"),
    caches,
    ignore: strings(c.ignore, "ignore"),
  };
}

/** Whether a directory listing may hold a config file (names compared as a case-insensitive filesystem would). */
const CONFIG_LOWER = new Set(CONFIG_NAMES.map((n) => n.toLowerCase()));
export function mayHoldConfig(names: readonly string[]): boolean {
  return names.some((n) => CONFIG_LOWER.has(n.toLowerCase()));
}

/**
 * The nearest config file upward from `dir`, or undefined. `without`: directories known
 * (from the walk's own listing) to hold no config file, so they are not asked again.
 */
export function findConfig(
  dir: string,
  cache = new Map<string, string | null>(),
  without?: ReadonlySet<string>,
): string | undefined {
  let d = path.resolve(dir);
  const visited: string[] = [];
  for (;;) {
    const hit = cache.get(d);
    if (hit !== undefined) {
      for (const v of visited) cache.set(v, hit);
      return hit ?? undefined;
    }
    visited.push(d);
    const found = without?.has(d)
      ? undefined
      : CONFIG_NAMES.map((n) => path.join(d, n)).find((p) => fs.existsSync(p));
    if (found) {
      for (const v of visited) cache.set(v, found);
      return found;
    }
    const parent = path.dirname(d);
    if (parent === d) {
      for (const v of visited) cache.set(v, null);
      return undefined;
    }
    d = parent;
  }
}

export function rulesOf(config: Config): UserRule[] {
  const out: UserRule[] = [];
  for (const safety of ["safe", "serialising", "unsafe", "unknown"] as Safety[])
    for (const pattern of config.caches?.[safety] ?? []) out.push({ pattern, safety });
  return out;
}

export function globMatch(glob: string, rel: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (ch === "*") re += "[^/]*";
    else if (ch === "?") re += "[^/]";
    else re += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}(?:/.*)?$`).test(rel);
}

/** Merges configs, later ones winning (defaults < found < --config < flags). */
export function mergeConfigs(...cs: (Config | undefined)[]): Config {
  const out: Config = {};
  for (const c of cs) {
    if (!c) continue;
    if (c.strategy !== undefined) out.strategy = c.strategy;
    if (c.target !== undefined) out.target = c.target;
    if (c.platforms !== undefined && c.platforms.length) out.platforms = c.platforms;
    if (c.buildArgs) out.buildArgs = { ...(out.buildArgs ?? {}), ...c.buildArgs };
    if (c.caches) {
      out.caches = { ...(out.caches ?? {}) };
      for (const [k, v] of Object.entries(c.caches))
        if (v) out.caches[k as Safety] = [...v, ...(out.caches[k as Safety] ?? [])];
    }
    if (c.ignore) out.ignore = [...(out.ignore ?? []), ...c.ignore];
  }
  return out;
}

export interface RunGroup {
  /** The config file that applies (undefined: none found). */
  configPath?: string;
  config: Config;
  files: InputFile[];
  /** Files skipped by `ignore`. */
  ignored: InputFile[];
}

/**
 * Splits the inputs by the config that applies to each. `explicit` (from --config) applies
 * to all, over any found file; `flags` (command line) win over both.
 */
export function groupByConfig(files: InputFile[], flags: Config, explicit?: string): RunGroup[] {
  const grouper = configGrouper(flags, explicit);
  for (const f of files) grouper.add(f);
  return grouper.groups();
}

/**
 * groupByConfig one file at a time (a run places inputs as the walk finds them). `listed`
 * takes the walk's listing of a directory before its files are added: a directory whose
 * listing has no config name is not looked at again.
 */
export function configGrouper(
  flags: Config,
  explicit?: string,
): {
  add(f: InputFile): { group: RunGroup; ignored: boolean };
  listed(dir: string, names: readonly string[]): void;
  groups(): RunGroup[];
} {
  const explicitConfig = explicit ? readConfig(explicit) : undefined;
  const cache = new Map<string, string | null>();
  const without = new Set<string>();
  const groups = new Map<string, RunGroup>();
  return {
    listed(dir, names) {
      if (!explicit && !mayHoldConfig(names)) without.add(path.resolve(dir));
    },
    add(f) {
      const found = explicit ? undefined : findConfig(path.dirname(f.path), cache, without);
      const key = explicit ?? found ?? "";
      let g = groups.get(key);
      if (!g) {
        const base = found ? readConfig(found) : undefined;
        g = {
          configPath: explicit ?? found,
          config: mergeConfigs(base, explicitConfig, flags),
          files: [],
          ignored: [],
        };
        groups.set(key, g);
      }
      const root = g.configPath ? path.dirname(path.resolve(g.configPath)) : process.cwd();
      const rel = path.relative(root, path.resolve(f.path)).split(path.sep).join("/");
      const ignored = (g.config.ignore ?? []).some((glob) => globMatch(glob, rel));
      (ignored ? g.ignored : g.files).push(f);
      return { group: g, ignored };
    },
    groups: () => [...groups.values()],
  };
}
