import { Diagnostic } from "../diagnostics";

/** A build declared by a compose service or a bake target, before its Dockerfile is parsed. */
export interface DeclaredBuild {
  /** Service or target name. */
  name: string;
  /** Absolute path of the Dockerfile. */
  dockerfile: string;
  /** Absolute path of the build context directory. */
  context: string;
  target?: string;
  buildArgs: Record<string, string>;
  /** Empty means the default (host) platform. */
  platforms: string[];
  /** 1-based line in the compose/bake file where the service/target is defined, when known. */
  line?: number;
}

/** What a compose or bake file contributes: builds that run concurrently on one builder. */
export interface DeclaredBuilds {
  /** Absolute path of the compose/bake file. */
  path: string;
  builds: DeclaredBuild[];
  /** Problems in the compose/bake file itself (invalid YAML/HCL, missing Dockerfile, ...). */
  diagnostics: Diagnostic[];
}
