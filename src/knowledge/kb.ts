/**
 * Knowledge base: what each well-known cache directory is, and whether its tool survives
 * concurrent writers (SPEC §2 "Cache safety knowledge base"). Drives `--strategy auto`.
 */

export type Safety = "unsafe" | "serialising" | "safe" | "unknown";

export interface CacheKind {
  tool: string;
  safety: Safety;
  /** Contents depend on the platform or tool version: split per platform even when locked. */
  perPlatform?: boolean;
  why: string;
}

interface Rule extends CacheKind {
  /** Matched against the absolute mount point and against the cache id. */
  pattern: RegExp;
}

const p = (s: string) => new RegExp(s);

/** Order matters: the first rule whose pattern matches wins. */
export const RULES: Rule[] = [
  {
    pattern: p("^/var/cache/apt(/|$)|(^|[-_/])apt[-_]?(cache|archives)"),
    tool: "apt",
    safety: "unsafe",
    why: "apt takes /var/cache/apt/archives/lock; parallel apt-get fails with 'Could not get lock' or leaves half-written archives",
  },
  {
    pattern: p("^/var/lib/apt(/|$)|(^|[-_/])apt[-_]?lists?"),
    tool: "apt",
    safety: "unsafe",
    why: "apt-get update takes /var/lib/apt/lists/lock; parallel runs fail with 'Could not get lock'",
  },
  {
    pattern: p("^/var/cache/apk(/|$)|^/etc/apk/cache(/|$)|(^|[-_/])apk($|[-_/])"),
    tool: "apk",
    safety: "unsafe",
    perPlatform: true,
    why: "apk's cache is per architecture and not safe for concurrent writers",
  },
  {
    pattern: p("^/var/cache/(dnf|yum)(/|$)|(^|[-_/])(dnf|yum)($|[-_/])"),
    tool: "dnf",
    safety: "unsafe",
    why: "dnf/yum lock their cache; concurrent runs fail or corrupt metadata",
  },
  {
    pattern: p("^/var/cache/zypp(/|$)|zypper"),
    tool: "zypper",
    safety: "unsafe",
    why: "zypper locks its cache; concurrent runs fail",
  },
  {
    pattern: p("cargo/registry(/|$)|(^|[-_/])cargo[-_]?registry"),
    tool: "cargo-registry",
    safety: "unsafe",
    why: "cargo unpacks crates without a lock shared across containers: 'failed to unpack package ... .cargo-ok File exists (os error 17)'",
  },
  {
    pattern: p("cargo/git(/|$)|(^|[-_/])cargo[-_]?git"),
    tool: "cargo-git",
    safety: "unsafe",
    why: "cargo checks out git dependencies without a cross-container lock",
  },
  {
    pattern: p("sccache"),
    tool: "sccache",
    safety: "unsafe",
    why: "sccache's local disk cache is not safe for several concurrent servers",
  },
  {
    pattern: p("/\\.cache/yarn(/|$)|/share/\\.cache/yarn(/|$)|(^|[-_/])yarn[-_]?(v1|cache)?$"),
    tool: "yarn-v1",
    safety: "unsafe",
    why: "yarn v1's cache is not safe for concurrent installs (yarn documents --mutex for this)",
  },
  {
    pattern: p("pypoetry|(^|[-_/])poetry"),
    tool: "poetry",
    safety: "unsafe",
    why: "poetry's cache is not safe for concurrent writers",
  },
  {
    pattern: p("/\\.m2(/|$)|(^|[-_/])(maven|m2)($|[-_/])"),
    tool: "maven",
    safety: "unsafe",
    why: "maven ≤ 3.9 writes its local repository without cross-process locking",
  },
  {
    pattern: p("/\\.gradle(/|$)|(^|[-_/])gradle"),
    tool: "gradle",
    safety: "unsafe",
    why: "gradle's caches take file locks that fail across containers sharing the directory",
  },
  {
    pattern: p("composer"),
    tool: "composer",
    safety: "unsafe",
    why: "composer's cache is not safe for concurrent writers",
  },
  {
    pattern: p("nuget"),
    tool: "nuget",
    safety: "unsafe",
    why: "NuGet extracts packages without a lock shared across containers",
  },
  {
    pattern: p("/\\.conan2?(/|$)|(^|[-_/])conan"),
    tool: "conan",
    safety: "unsafe",
    why: "conan's cache is not safe for concurrent writers",
  },
  {
    pattern: p("bazel[-_]?disk|disk[-_]?cache"),
    tool: "bazel-disk-cache",
    safety: "safe",
    why: "bazel's disk cache is content-addressed and safe to share",
  },
  {
    pattern: p("/\\.cache/bazel(/|$)|(^|[-_/])bazel"),
    tool: "bazel",
    safety: "unsafe",
    why: "bazel's output root is owned by one server process",
  },
  {
    pattern: p("(^|/)target(/|$)|cargo[-_]?target"),
    tool: "cargo-target",
    safety: "serialising",
    perPlatform: true,
    why: "cargo locks target/ for the whole build: shared, parallel builds wait for each other; its contents are per target triple",
  },
  {
    pattern: p("(^|/)(bundle|\\.bundle)(/|$)|bundler"),
    tool: "bundler",
    safety: "serialising",
    why: "bundler serialises on its own lock",
  },
  {
    pattern: p("/go/pkg/mod(/|$)|(^|[-_/])go[-_]?mod"),
    tool: "go-mod",
    safety: "safe",
    why: "the Go module cache is designed for concurrent use",
  },
  {
    pattern: p("go-build|(^|[-_/])gocache"),
    tool: "go-build",
    safety: "safe",
    why: "the Go build cache is designed for concurrent use",
  },
  {
    pattern: p("ccache"),
    tool: "ccache",
    safety: "safe",
    why: "ccache is safe for concurrent use",
  },
  {
    pattern: p("/\\.npm(/|$)|(^|[-_/])npm($|[-_/])"),
    tool: "npm",
    safety: "safe",
    why: "npm's cache (cacache) is safe for concurrent use within one platform; field reports show EEXIST races between platforms",
  },
  {
    pattern: p("berry|/\\.yarn/cache(/|$)"),
    tool: "yarn-berry",
    safety: "safe",
    why: "yarn berry's cache is safe for concurrent use",
  },
  {
    pattern: p("pnpm"),
    tool: "pnpm",
    safety: "safe",
    why: "the pnpm store is safe for concurrent use",
  },
  {
    pattern: p("/\\.cache/pip(/|$)|(^|[-_/])pip($|[-_/])"),
    tool: "pip",
    safety: "safe",
    perPlatform: true,
    why: "pip's cache is safe for concurrent use by one pip version; wheels differ by interpreter and platform",
  },
  {
    pattern: p("/\\.cache/uv(/|$)|(^|[-_/])uv($|[-_/])"),
    tool: "uv",
    safety: "safe",
    perPlatform: true,
    why: "uv's cache is safe for concurrent use; built wheels differ by interpreter and platform",
  },
  {
    pattern: p("(^|/)(build|dist|out|\\.next|node_modules/\\.cache)(/|$)"),
    tool: "build-output",
    safety: "serialising",
    why: "build output directories are rewritten by each build; share them and builds trample or wait on each other",
  },
];

export const UNKNOWN: CacheKind = {
  tool: "unknown",
  safety: "unknown",
  why: "buildrace does not know this cache; it is treated as unsafe (correct first, then fast)",
};

export interface UserRule {
  pattern: string;
  tool?: string;
  safety: Safety;
}

/** Classifies a cache by its mount point and id; user rules (from config) come first. */
export function classify(
  mountPoint: string | undefined,
  id: string,
  extra: UserRule[] = [],
): CacheKind {
  for (const r of extra) {
    const re = globToRegExp(r.pattern);
    if ((mountPoint && re.test(mountPoint)) || re.test(id))
      return {
        tool: r.tool ?? "custom",
        safety: r.safety,
        why: `configured as ${r.safety} (${r.pattern})`,
      };
  }
  for (const r of RULES) {
    if ((mountPoint && r.pattern.test(mountPoint)) || r.pattern.test(id)) {
      const { pattern: _pattern, ...kind } = r;
      return kind;
    }
  }
  return UNKNOWN;
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        re += ".*";
        i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
