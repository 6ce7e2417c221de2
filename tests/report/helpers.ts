/**
 * Helpers for report tests: run the real pipeline on example directories or on Dockerfile
 * text (written to a temp dir), with the verified fixes `check --format sarif` attaches.
 * Paths are analysed relative to a working directory, as the CLI would see them.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FixPlan, planFixes } from "../../src/apply/fix";
import { Strategy } from "../../src/apply/load";
import { discover } from "../../src/discover/discover";
import { defaultLoader } from "../../src/discover/load";
import { AnalyzeOptions } from "../../src/pipeline";

export const ROOT = path.resolve(__dirname, "../..");

export type PlanOptions = AnalyzeOptions & { strategy?: Strategy };

/** Runs `fn` with `dir` as the working directory. */
export async function inDir<T>(dir: string, fn: () => Promise<T> | T): Promise<T> {
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(cwd);
  }
}

/** discover → analyze → planFixes, in the current working directory. */
export async function plan(paths: string[], opts: PlanOptions = {}): Promise<FixPlan> {
  const found = discover(paths);
  return planFixes(found.files, { strategy: "auto", ...opts }, defaultLoader);
}

/** Runs `fn` in a temp dir holding `files` (name → text), then removes it. */
export async function inProject<T>(
  files: Record<string, string>,
  fn: (dir: string) => Promise<T> | T,
): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-report-"));
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    }
    return await inDir(dir, () => fn(dir));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Joins lines with LF and a final newline. */
export const lines = (...ls: string[]) => ls.join("\n") + "\n";

/** Two stages that race on the cargo registry, apt and target caches. */
export const RACY = lines(
  "FROM rust:1.82 AS base",
  "WORKDIR /src",
  "FROM base AS a",
  "RUN --mount=type=cache,target=/usr/local/cargo/registry \\",
  "    --mount=type=cache,target=/src/target cargo build --bin a",
  "FROM base AS b",
  "RUN --mount=type=cache,target=/usr/local/cargo/registry \\",
  "    --mount=type=cache,target=/src/target cargo build --bin b",
  "FROM debian:bookworm-slim",
  "COPY --from=a /src/a /a",
  "COPY --from=b /src/b /b",
);
