/**
 * `buildrace explain <rule|tool>`: the longer story behind a finding — why a cache is
 * unsafe, serialising or safe with concurrent writers, what breaks in the field, and the
 * fix options with their costs. Safety facts (class, why, per-platform) come from kb.ts's
 * RULES; this module only adds prose, so the two cannot disagree.
 */
import { RULES, Safety, UNKNOWN } from "./kb";

export type RuleId = "shared-cache-race" | "nested-cache-mount" | "buildrace-error";

export interface RuleDoc {
  id: RuleId;
  /** One line (SARIF shortDescription). */
  short: string;
  /** A paragraph (SARIF fullDescription). */
  full: string;
  /** Error text seen in the field, verbatim. */
  seen: string[];
}

export const RULE_DOCS: Record<RuleId, RuleDoc> = {
  "shared-cache-race": {
    id: "shared-cache-race",
    short: "A cache mount is shared by build steps that can run at the same time",
    full:
      "BuildKit runs every step whose inputs are ready in parallel: sibling stages, the " +
      "services of `docker compose build`, the targets of `docker buildx bake` and the " +
      "platforms of `--platform a,b`. Two such steps that mount a cache with the same key " +
      "(BUILDKIT_CACHE_MOUNT_NS + id, the id defaulting to the target as written, plus any " +
      "from=/uid/gid/mode base) while both use sharing=shared (the default) write into one " +
      "directory at the same time. Package managers that do not lock across containers fail " +
      "or leave a corrupt cache, intermittently.",
    seen: [
      "failed to unpack package `<crate>` ... .cargo-ok File exists (os error 17)",
      "E: Could not get lock /var/lib/apt/lists/lock",
      "mkdir: can't create directory '...': File exists",
    ],
  },
  "nested-cache-mount": {
    id: "nested-cache-mount",
    short: "A cache is mounted inside another shared cache by steps that can run at the same time",
    full:
      "Two steps that can run at the same time mount one cache inside another (for example " +
      "/cache and /cache/npm) while the outer cache is shared. Each step's runc creates the " +
      "inner mount point inside the one shared outer directory; runc 1.2.0 to 1.2.2 fails when " +
      "the other step created it first (fixed in runc 1.2.3).",
    seen: ["mkdirat ... file exists", "failed to create mount point"],
  },
  "buildrace-error": {
    id: "buildrace-error",
    short: "A file that could not be analysed, or that BuildKit would reject",
    full:
      "buildrace could not read or parse the file, or BuildKit would reject the build: an " +
      "unknown --mount option, a bad sharing or mode value, an invalid FROM image reference, " +
      "a forward stage reference, a target that does not exist. Races in a file that cannot " +
      "be analysed are not reported, so fix these first. In stages that are not built these " +
      "are warnings (BuildKit only validates dispatched stages).",
    seen: [],
  },
};

export type FixOption = "lock" | "split" | "merge";

/** What each fix does and what it costs (README "Strategies", SPEC §1). */
export const FIX_OPTIONS: Record<FixOption, { does: string; cost: string }> = {
  lock: {
    does: "add sharing=locked to every use of the cache: one step at a time gets the directory",
    cost:
      "always correct; the steps that share the id wait for each other (one team measured " +
      "~2.7x build time, and several projects reverted it for speed)",
  },
  split: {
    does:
      "give each stage its own id (id=<old id or target>-<stage>; -$TARGETPLATFORM for the " +
      "platforms of one step)",
    cost:
      "no contention and full parallelism, but no reuse between stages: each id is filled " +
      "on its own (more downloads or compiles on a cold builder)",
  },
  merge: {
    does: "move one racing stage's steps into the other, so they run one after the other",
    cost:
      "correct and keeps one warm cache, but no parallelism is left between them; only " +
      "possible when it cannot change the images built (same base, no conflicting state)",
  },
};

export interface ToolNotes {
  /** A typical mount target (for the example line). */
  target: string;
  /** What happens when parallel steps share the cache (or why nothing does). */
  what: string;
  /** Error text seen in the field, verbatim; empty when there is no single message. */
  seen: string[];
}

/** Prose per tool of kb.ts RULES (and "unknown"); a test keeps the two lists equal. */
export const TOOL_NOTES: Record<string, ToolNotes> = {
  apt: {
    target: "/var/cache/apt",
    what:
      "apt-get takes a lock file inside the cache (/var/cache/apt/archives/lock, " +
      "/var/lib/apt/lists/lock): a second step's apt-get finds it held and fails at once " +
      "instead of waiting, or both write the same partial files. Docker's own " +
      "documentation mounts both apt caches with sharing=locked.",
    seen: [
      "E: Could not get lock /var/lib/apt/lists/lock",
      "E: Could not get lock /var/cache/apt/archives/lock",
      "E: Unable to lock directory /var/cache/apt/archives/",
    ],
  },
  apk: {
    target: "/var/cache/apk",
    what:
      "apk does not coordinate writers of its cache across containers, and the cache holds " +
      "packages and indexes of one architecture: shared between platforms it serves the " +
      "wrong architecture's files even when locked.",
    seen: [],
  },
  dnf: {
    target: "/var/cache/dnf",
    what:
      "dnf and yum lock their metadata and package cache with lock files that only work " +
      "within one container; parallel runs rewrite the same metadata and packages.",
    seen: [],
  },
  zypper: {
    target: "/var/cache/zypp",
    what: "zypper's lock lives in the container, not in the shared cache; parallel runs collide.",
    seen: [],
  },
  "cargo-registry": {
    target: "/usr/local/cargo/registry",
    what:
      "cargo's package-cache lock file ($CARGO_HOME/.package-cache) lives outside the " +
      "mounted registry directory, so each container locks its own copy: two builds unpack " +
      "the same crate into the same directory. Measured by one team building 5 services with " +
      "docker compose build: 70% success without a lock (10-15 min), 100% with " +
      "sharing=locked (25-30 min).",
    seen: ["failed to unpack package `<crate>` ... .cargo-ok File exists (os error 17)"],
  },
  "cargo-git": {
    target: "/usr/local/cargo/git",
    what: "cargo checks out git dependencies into the shared directory without a lock that holds across containers.",
    seen: [],
  },
  sccache: {
    target: "/root/.cache/sccache",
    what: "each step starts its own sccache server on the same local cache directory; they do not coordinate.",
    seen: [],
  },
  "yarn-v1": {
    target: "/usr/local/share/.cache/yarn",
    what:
      "yarn v1 writes its cache without locking; yarn documents --mutex for concurrent " +
      "installs on one machine, which does not reach across containers.",
    seen: [],
  },
  poetry: {
    target: "/root/.cache/pypoetry",
    what: "poetry downloads and unpacks into its cache without coordinating concurrent writers.",
    seen: [],
  },
  maven: {
    target: "/root/.m2",
    what:
      "maven up to 3.9 writes the local repository without cross-process locking: parallel " +
      "builds can read half-written artifacts and metadata.",
    seen: [],
  },
  gradle: {
    target: "/root/.gradle",
    what:
      "gradle's caches take file locks owned by one Gradle process, which releases them " +
      "when another process asks over the loopback network; a process in another " +
      "container cannot ask, so it waits and times out.",
    seen: ["Timeout waiting to lock ... It is currently in use by another Gradle instance."],
  },
  composer: {
    target: "/root/.composer/cache",
    what: "composer's cache is written without coordinating concurrent writers.",
    seen: [],
  },
  nuget: {
    target: "/root/.nuget/packages",
    what: "NuGet extracts packages into the global packages folder with locks that do not hold across containers.",
    seen: [],
  },
  conan: {
    target: "/root/.conan2",
    what: "the conan cache is not designed for concurrent writers.",
    seen: [],
  },
  "bazel-disk-cache": {
    target: "/root/.cache/bazel-disk",
    what: "the disk cache is content-addressed: entries are written whole and never change, so writers do not conflict.",
    seen: [],
  },
  bazel: {
    target: "/root/.cache/bazel",
    what:
      "bazel's output root belongs to one bazel server; a server in another container does " +
      "not see it and both write the same output base.",
    seen: [],
  },
  "cargo-target": {
    target: "/src/target",
    what:
      "cargo locks target/ for the whole build, so shared parallel builds do not corrupt " +
      "it: they wait for each other ('Blocking waiting for file lock on build directory'), " +
      "which serialises the stages. Its contents are per target triple, so platforms should " +
      "not share one.",
    seen: ["Blocking waiting for file lock on build directory"],
  },
  bundler: {
    target: "/usr/local/bundle",
    what: "bundler serialises installs on its own lock: shared parallel steps wait for each other.",
    seen: [],
  },
  "go-mod": {
    target: "/go/pkg/mod",
    what:
      "the go command locks each module it downloads and extracts it atomically, so go " +
      "commands in parallel steps share GOMODCACHE without harm.",
    seen: [],
  },
  "go-build": {
    target: "/root/.cache/go-build",
    what:
      "entries of GOCACHE are content-addressed and written atomically; parallel go builds " +
      "at worst compute the same entry twice.",
    seen: [],
  },
  ccache: {
    target: "/root/.ccache",
    what: "ccache writes its entries atomically and is safe for concurrent use.",
    seen: [],
  },
  npm: {
    target: "/root/.npm",
    what:
      "npm's cache (cacache) is safe for concurrent use within one platform; field reports " +
      "show EEXIST races between the platforms of one multi-platform build sharing it, so " +
      "buildrace splits it per platform there.",
    seen: ["npm ERR! code EEXIST"],
  },
  "yarn-berry": {
    target: "/root/.yarn/berry/cache",
    what: "yarn berry's cache holds immutable archives written atomically: safe for concurrent use.",
    seen: [],
  },
  pnpm: {
    target: "/root/.local/share/pnpm/store",
    what: "the pnpm store is content-addressable and safe for concurrent use.",
    seen: [],
  },
  pip: {
    target: "/root/.cache/pip",
    what:
      "pip's cache is safe for concurrent use by one pip version; the wheels it builds " +
      "depend on the interpreter and platform, so platforms should not share one.",
    seen: [],
  },
  uv: {
    target: "/root/.cache/uv",
    what:
      "uv's cache is safe for concurrent use; built wheels depend on the interpreter and " +
      "platform, so platforms should not share one.",
    seen: [],
  },
  "build-output": {
    target: "/src/dist",
    what:
      "build output directories are rewritten by each build: shared between parallel steps " +
      "the builds trample on each other's files or wait on each other's locks.",
    seen: [],
  },
  unknown: {
    target: "/cache",
    what:
      "buildrace does not know the tool behind this cache, so it cannot tell whether " +
      "concurrent writers are safe; it treats it as unsafe. Configure it (path or id pattern " +
      "→ safe, serialising or unsafe) to change that.",
    seen: [],
  },
};

interface ToolFacts {
  tool: string;
  safety: Safety;
  perPlatform: boolean;
  why: string[];
  patterns: string[];
}

/** kb.ts facts grouped by tool (a tool may have several patterns, e.g. apt's two caches). */
export function toolFacts(): Map<string, ToolFacts> {
  const out = new Map<string, ToolFacts>();
  for (const r of RULES) {
    const f = out.get(r.tool) ?? {
      tool: r.tool,
      safety: r.safety,
      perPlatform: false,
      why: [],
      patterns: [],
    };
    f.perPlatform ||= Boolean(r.perPlatform);
    if (!f.why.includes(r.why)) f.why.push(r.why);
    f.patterns.push(r.pattern.source);
    out.set(r.tool, f);
  }
  out.set(UNKNOWN.tool, {
    tool: UNKNOWN.tool,
    safety: UNKNOWN.safety,
    perPlatform: false,
    why: [UNKNOWN.why],
    patterns: [],
  });
  return out;
}

/** Every name `explain` knows: the rules, then the tools in knowledge-base order. */
export function knownNames(): string[] {
  return [...Object.keys(RULE_DOCS), ...toolFacts().keys()];
}

/** The recommended fix per safety class, as `--strategy auto` applies it. */
export function recommended(safety: Safety): FixOption | "none" {
  return safety === "safe" ? "none" : safety === "serialising" ? "split" : "lock";
}

const SAFETY_TEXT: Record<Safety, string> = {
  unsafe: "unsafe with concurrent writers",
  serialising: "safe to share, but parallel steps serialise on the tool's own lock",
  safe: "safe with concurrent writers",
  unknown: "unknown: treated as unsafe (correct first, then fast)",
};

/** The fix options, the recommended one first. */
export function fixOptions(
  first: FixOption | "none",
): { option: FixOption; recommended: boolean; does: string; cost: string }[] {
  const order: FixOption[] = ["lock", "split", "merge"];
  if (first !== "none") order.sort((a, b) => (a === first ? -1 : b === first ? 1 : 0));
  return order.map((o) => ({ option: o, recommended: o === first, ...FIX_OPTIONS[o] }));
}

/** Lines listing the fix options, the recommended one first, with their trade-offs. */
export function fixOptionLines(first: FixOption | "none", width = 88): string[] {
  const lines: string[] = [];
  for (const o of fixOptions(first)) {
    const mark = o.recommended ? " (recommended)" : "";
    lines.push(...wrap(`${o.option}${mark}: ${o.does}.`, width, "  ", "      "));
    lines.push(...wrap(`cost: ${o.cost}.`, width, "      ", "        "));
  }
  return lines;
}

/** Word-wraps `text` to `width` columns; later lines take `hanging` as their indent. */
function wrap(text: string, width = 88, indent = "", hanging = indent): string[] {
  const out: string[] = [];
  let line = "";
  const lead = () => (out.length ? hanging : indent);
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && (lead() + line + " " + word).length > width) {
      out.push(lead() + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(lead() + line);
  return out;
}

/** The text `buildrace explain NAME` prints, or undefined for an unknown name. */
export function explain(name: string): string | undefined {
  const n = name.trim().toLowerCase();
  if (n in RULE_DOCS) return explainRule(RULE_DOCS[n as RuleId]);
  const facts = toolFacts().get(n);
  if (facts) return explainTool(facts);
  return undefined;
}

function explainRule(doc: RuleDoc): string {
  const lines = [`${doc.id}: ${doc.short}`, "", ...wrap(doc.full)];
  if (doc.seen.length) {
    lines.push("", "Seen in the field:");
    for (const s of doc.seen) lines.push(`  ${s}`);
  }
  if (doc.id === "shared-cache-race") {
    lines.push(
      "",
      "Whether it needs fixing depends on the tool (`buildrace explain <tool>`):",
      ...wrap(
        "unsafe and unknown caches are locked by --strategy auto, serialising caches " +
          "(cargo target/, build output) are split, safe caches (go, npm, pnpm, pip, uv, " +
          "ccache, ...) are left shared and reported as information.",
        88,
        "  ",
      ),
      "",
      "Fix options:",
      ...fixOptionLines("lock"),
    );
  } else if (doc.id === "nested-cache-mount") {
    lines.push(
      "",
      "Fix options:",
      "  lock (recommended): add sharing=locked to the outer cache, so the steps never share it.",
      "  move: mount the inner cache outside the outer one (e.g. /cache-npm next to /cache).",
      "  upgrade: runc 1.2.3 or later does not fail here (the cache is still shared).",
    );
  } else {
    lines.push("", "Fix: correct the line reported; `docker build` would fail on the same error.");
  }
  lines.push("", `Known names: ${knownNames().join(", ")}`);
  return lines.join("\n") + "\n";
}

function explainTool(f: ToolFacts): string {
  const notes = TOOL_NOTES[f.tool];
  const rec = recommended(f.safety);
  const lines = [`${f.tool}: ${SAFETY_TEXT[f.safety]}`, ""];
  if (f.patterns.length) {
    lines.push("Recognised by a cache mount whose target or id matches:");
    for (const p of f.patterns) lines.push(`  /${p}/`);
  } else lines.push("Any cache mount that no knowledge-base rule or config rule matches.");
  if (notes) lines.push(`  e.g. RUN --mount=type=cache,target=${notes.target} ...`);
  lines.push("", "Why:");
  for (const w of f.why) lines.push(...wrap(w, 88, "  "));
  if (notes) lines.push(...wrap(notes.what, 88, "  "));
  if (notes?.seen.length) {
    lines.push("", "Seen in the field:");
    for (const s of notes.seen) lines.push(`  ${s}`);
  }
  lines.push("", "What `buildrace fix` (--strategy auto) does:");
  if (rec === "none") lines.push("  nothing: the race is reported as information and left shared.");
  else if (rec === "lock") lines.push("  lock: adds sharing=locked to every racing use.");
  else lines.push("  split: gives each racing stage (and platform) its own cache id.");
  if (f.perPlatform || f.tool === "npm")
    lines.push(
      ...wrap(
        "With several platforms (--platform a,b) it splits per platform instead " +
          "(id=<id>-$TARGETPLATFORM after ARG TARGETPLATFORM): the contents differ by " +
          "platform, so even a locked cache would be shared wrongly.",
        88,
        "  ",
      ),
    );
  lines.push("", "Fix options:");
  if (rec === "none") lines.push("  none needed: leave the cache shared. If you still want one:");
  lines.push(...fixOptionLines(rec));
  return lines.join("\n") + "\n";
}
