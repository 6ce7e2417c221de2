/** What one build is: which Dockerfile, target, args and platforms (from the CLI, compose or bake). */
import { ParsedDockerfile } from "../parse/dockerfile";

export interface BuildSpec {
  /** "default" for a plain Dockerfile; the service or bake target name otherwise. */
  name: string;
  file: ParsedDockerfile;
  target?: string;
  buildArgs: Record<string, string>;
  /** Target platforms; one DAG each, solved concurrently. */
  platforms: string[];
  /** Build context directory (absolute); COPY from the context depends on it. */
  context: string;
  /** The compose/bake file that defined this build, if any. */
  definedIn?: string;
}

export const HOST_PLATFORM = "linux/amd64";

export interface PlatformParts {
  platform: string;
  os: string;
  arch: string;
  variant: string;
}

export function splitPlatform(p: string): PlatformParts {
  const [os = "linux", arch = "amd64", variant = ""] = p.split("/");
  return { platform: p, os, arch, variant };
}

/** BuildKit's automatic platform args for a target platform (build platform: the host). */
export function automaticArgs(target: string, stageName?: string): Record<string, string> {
  const t = splitPlatform(target);
  const b = splitPlatform(HOST_PLATFORM);
  const args: Record<string, string> = {
    BUILDPLATFORM: b.platform,
    BUILDOS: b.os,
    BUILDARCH: b.arch,
    BUILDVARIANT: b.variant,
    TARGETPLATFORM: t.platform,
    TARGETOS: t.os,
    TARGETARCH: t.arch,
    TARGETVARIANT: t.variant,
  };
  if (stageName !== undefined) args.TARGETSTAGE = stageName;
  return args;
}
