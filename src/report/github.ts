/**
 * `--format github`: GitHub Actions workflow commands, shown as annotations on the pull
 * request (`::error file=Dockerfile,line=10,title=...::message`). One annotation per race
 * per file: error for unsafe and unknown caches, warning for serialising ones, notice for
 * caches that are safe to share.
 */
import { knownNames } from "../knowledge/explain";
import { AnalysisResult } from "../pipeline";
import { Race, RaceUse } from "../races/races";
import { stageLabel } from "../resolve/resolve";

type Command = "error" | "warning" | "notice";

const COMMAND_OF_SAFETY: Record<Race["safety"], Command> = {
  unsafe: "error",
  unknown: "error",
  serialising: "warning",
  safe: "notice",
};

const FIX_TEXT: Record<Race["fix"], string> = {
  lock: "lock: add sharing=locked to every use of this cache (buildrace fix)",
  split: "split: give each stage (and platform) its own cache id (buildrace fix)",
  none: "none needed: the tool is safe with concurrent writers",
};

/** Escapes a command's message (the runner's escapeData: %, CR, LF). */
export function escapeData(s: string): string {
  return s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

/** Escapes a command property value (escapeData plus `:` and `,`). */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, "%3A").replace(/,/g, "%2C");
}

/** One workflow command line. */
export function workflowCommand(
  command: Command,
  props: Record<string, string | number | undefined>,
  message: string,
): string {
  const ps = Object.entries(props)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(",");
  return `::${command}${ps ? ` ${ps}` : ""}::${escapeData(message)}`;
}

const posixPath = (p: string) => p.split("\\").join("/");

export function toGithub(result: AnalysisResult): string {
  const out: string[] = [];
  const printed = new Set<Race>();
  let errors = 0;
  for (const f of result.files) {
    for (const d of f.diagnostics) {
      if (d.severity === "error") errors++;
      out.push(
        workflowCommand(
          d.severity === "error" ? "error" : "warning",
          {
            file: posixPath(d.file ?? f.path),
            line: d.line > 0 ? d.line : undefined,
            title: `buildrace: ${d.severity}`,
          },
          d.message,
        ),
      );
    }
    const inFile = new Set<Race>();
    for (const r of f.races) {
      if (inFile.has(r)) continue;
      inFile.add(r);
      printed.add(r);
      if (r.suppressed) continue;
      const mine = r.uses.filter((u) => samePath(u.step.build.file.path, f.path));
      const first = [...(mine.length ? mine : r.uses)].sort(
        (a, b) => a.step.instruction.line - b.step.instruction.line,
      )[0];
      out.push(
        workflowCommand(
          COMMAND_OF_SAFETY[r.safety],
          {
            file: posixPath(f.path),
            line: first.step.instruction.line,
            title: `buildrace: ${r.rule} on ${r.kind.tool} cache (${r.safety})`,
          },
          message(r, f.path),
        ),
      );
    }
  }
  const races = [...printed].filter((r) => !r.suppressed);
  const failing = races.filter((r) => r.safety !== "safe").length;
  out.push(
    `buildrace: ${result.files.length} file${result.files.length === 1 ? "" : "s"}, ` +
      `${failing} race${failing === 1 ? "" : "s"} to fix, ` +
      `${races.length - failing} safe, ${errors} error${errors === 1 ? "" : "s"}`,
  );
  return out.join("\n") + "\n";
}

function samePath(a: string, b: string): boolean {
  return posixPath(a) === posixPath(b);
}

function who(u: RaceUse, filePath: string): string {
  const where = samePath(u.step.build.file.path, filePath)
    ? `line ${u.step.instruction.line}`
    : `${posixPath(u.step.build.file.path)}:${u.step.instruction.line}`;
  const parts = [`stage ${stageLabel(u.step.stage)}`];
  if (u.step.build.name !== "default") parts.push(`build ${u.step.build.name}`);
  if (u.step.build.platforms.length > 1) parts.push(u.step.platform);
  return `${where} (${parts.join(", ")})`;
}

function message(r: Race, filePath: string): string {
  const uses = [...new Set(r.uses.map((u) => who(u, filePath)))];
  const head =
    r.rule === "nested-cache-mount"
      ? `A cache is mounted inside the shared cache ${r.key} by steps that can run at the same time: ${uses.join(", ")}.`
      : `Cache ${r.key} (${r.kind.tool}) is mounted with sharing=shared by steps that can run at the same time: ${uses.join(", ")}.`;
  const lines = [head];
  if (r.selfRace.platforms) lines.push("The same step runs once per platform, at the same time.");
  if (r.selfRace.builds) lines.push("The same step runs in several builds, at the same time.");
  lines.push(`Why: ${r.reason}`);
  lines.push(`Fix: ${FIX_TEXT[r.fix]}`);
  lines.push(
    `More: buildrace explain ${r.rule === "shared-cache-race" && knownNames().includes(r.kind.tool) ? r.kind.tool : r.rule}`,
  );
  return lines.join("\n");
}
