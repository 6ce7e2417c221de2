/** `--format github`: workflow command annotations and GitHub's escaping rules. */
import { escapeData, escapeProperty, toGithub, workflowCommand } from "../../src/report/github";
import { inDir, inProject, lines, plan, RACY, ROOT } from "./helpers";

/** Parses `::cmd k=v,k=v::msg` back, undoing the escapes (as the runner does). */
function parseCommand(line: string) {
  const m = /^::(\w+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (!m) return undefined;
  const unescape = (s: string) =>
    s
      .replace(/%0D/g, "\r")
      .replace(/%0A/g, "\n")
      .replace(/%3A/g, ":")
      .replace(/%2C/g, ",")
      .replace(/%25/g, "%");
  const props: Record<string, string> = {};
  for (const kv of (m[2] ?? "").split(",").filter(Boolean)) {
    const eq = kv.indexOf("=");
    props[kv.slice(0, eq)] = unescape(kv.slice(eq + 1));
  }
  return { command: m[1], props, message: unescape(m[3]) };
}

describe("escaping", () => {
  test("message data: %, CR and LF", () => {
    expect(escapeData("100% done\r\nnext: a,b")).toBe("100%25 done%0D%0Anext: a,b");
  });

  test("property values: also : and ,", () => {
    expect(escapeProperty("a:b,c%\nd")).toBe("a%3Ab%2Cc%25%0Ad");
  });

  test("% is escaped first, so an escape sequence in the text survives", () => {
    expect(escapeData("%0A")).toBe("%250A");
    expect(parseCommand(workflowCommand("error", {}, "%0A"))?.message).toBe("%0A");
  });

  test("workflowCommand: empty and undefined properties are left out", () => {
    expect(workflowCommand("notice", { file: "Dockerfile", line: undefined, title: "" }, "m")).toBe(
      "::notice file=Dockerfile::m",
    );
    expect(workflowCommand("warning", {}, "m")).toBe("::warning::m");
  });

  test("round trip of awkward file names and titles", () => {
    const line = workflowCommand(
      "error",
      { file: "dir,with:odd%chars/Dockerfile", line: 3, title: "a: b, c" },
      "two\nlines, 50%",
    );
    expect(line.split("\n")).toHaveLength(1);
    expect(parseCommand(line)).toEqual({
      command: "error",
      props: { file: "dir,with:odd%chars/Dockerfile", line: "3", title: "a: b, c" },
      message: "two\nlines, 50%",
    });
  });
});

describe("toGithub", () => {
  test("one annotation per race: error for unsafe, warning for serialising", async () => {
    const out = await inDir(ROOT, async () =>
      toGithub((await plan(["examples/rust-multistage"])).result),
    );
    const cmds = out
      .trim()
      .split("\n")
      .map(parseCommand)
      .filter((c) => c !== undefined);
    expect(cmds).toHaveLength(3);
    const byTool = new Map(cmds.map((c) => [c.props.title, c]));
    const registry = [...byTool.values()].find((c) => c.props.title.includes("cargo-registry"));
    const target = [...byTool.values()].find((c) => c.props.title.includes("cargo-target"));
    expect(registry?.command).toBe("error");
    expect(target?.command).toBe("warning");
    expect(registry?.props.file).toBe("examples/rust-multistage/Dockerfile");
    expect(registry?.props.line).toBe("10");
    expect(registry?.message).toContain("//usr/local/cargo/registry");
    expect(registry?.message).toContain("line 18 (stage build-cli)");
    expect(registry?.message.split("\n").length).toBeGreaterThan(2);
    expect(registry?.message).toContain("buildrace explain cargo-registry");
    // Raw output: the title's colon and the message's newlines are escaped.
    expect(out).toContain("title=buildrace%3A shared-cache-race");
    expect(out).toMatch(/%0AFix: split/);
    expect(out.trim().split("\n").pop()).toBe(
      "buildrace: 1 file, 3 races to fix, 0 safe, 0 errors",
    );
  });

  test("safe caches are notices", async () => {
    const out = await inDir(ROOT, async () =>
      toGithub((await plan(["examples/nested-caches"])).result),
    );
    const npm = out
      .split("\n")
      .map(parseCommand)
      .find((c) => c?.props.title?.includes("npm"));
    expect(npm?.command).toBe("notice");
  });

  test("errors and warnings of the analysis become annotations", async () => {
    const out = await inProject(
      { Dockerfile: lines("FROM alpine", "RUN --mount=type=cache,target=/x,color=red true") },
      async () => toGithub((await plan(["."])).result),
    );
    const first = parseCommand(out.split("\n")[0]);
    expect(first?.command).toBe("error");
    expect(first?.props).toMatchObject({ file: "Dockerfile", line: "2" });
    expect(first?.message).toMatch(/color/);
  });

  test("suppressed races produce no annotation", async () => {
    const text = RACY.replace("FROM base AS b\n", "FROM base AS b\n# buildrace-ignore\n");
    const out = await inProject({ Dockerfile: text }, async () =>
      toGithub((await plan(["."])).result),
    );
    expect(out.trim().split("\n")).toEqual(["buildrace: 1 file, 0 races to fix, 0 safe, 0 errors"]);
  });
});
