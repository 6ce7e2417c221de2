/** The CLI as a user runs it: commands, formats, exit codes (SPEC §5), help, colour. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { useColor } from "../../src/cli/main";
import { ensureBuilt, ROOT, run } from "./run";

const ESC = "\u001b[";

beforeAll(() => ensureBuilt(), 120000);

function tempDockerfile(text: string): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-cli-"));
  fs.writeFileSync(path.join(dir, "Dockerfile"), text);
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe("--bake-target", () => {
  // two different steps (identical ones would run once) on one apt cache
  const RUN = (pkg: string) =>
    `FROM busybox\nRUN --mount=type=cache,target=/var/lib/apt,id=apt apt-get install ${pkg}\n`;
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-cli-bake-"));
    fs.mkdirSync(path.join(dir, "a"));
    fs.mkdirSync(path.join(dir, "b"));
    fs.writeFileSync(path.join(dir, "a", "Dockerfile"), RUN("curl"));
    fs.writeFileSync(path.join(dir, "b", "Dockerfile"), RUN("git"));
    fs.writeFileSync(
      path.join(dir, "docker-bake.hcl"),
      'target "a" {\n  context = "a"\n}\n\ntarget "b" {\n  context = "b"\n}\n',
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bake = () => path.join(dir, "docker-bake.hcl");

  test("without a default group every target is analysed, with a warning", () => {
    const r = run(["check", bake()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/docker-bake\.hcl:1: warning: no "default" group or target/);
    expect(r.stdout).toContain("shared-cache-race on cache /apt");
  });

  test("one target named: nothing races; both named (comma or repeated): the race", () => {
    const one = run(["check", "--bake-target", "a", bake()]);
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain("warning");
    for (const args of [
      ["--bake-target", "a,b"],
      ["--bake-target", "a", "--bake-target", "b"],
    ]) {
      const both = run(["check", ...args, "--format", "json", bake()]);
      expect(both.code).toBe(1);
      const races = JSON.parse(both.stdout).files.flatMap((f: { races: unknown[] }) => f.races);
      expect(races.length).toBeGreaterThan(0);
    }
  });

  test("an unknown target is an error naming the bake file", () => {
    const r = run(["check", "--bake-target", "ghost", bake()]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/docker-bake\.hcl:1: error: bake: failed to find target ghost/);
  });
});

describe("help and usage", () => {
  test("--help lists every command", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["check [paths..]", "fix [paths..]", "graph <file>", "explain [name]"])
      expect(r.stdout).toContain(c);
  });

  test.each([
    [
      "check",
      ["--format", "sarif", "github", "--verbose", "--quiet", "buildrace check . --format sarif"],
    ],
    ["fix", ["--strategy", "--write", "--check", "buildrace fix --check"]],
    ["graph", ["--format", "mermaid", "dot", "buildrace graph Dockerfile --format dot"]],
    ["explain", ["buildrace explain cargo-registry", "buildrace explain shared-cache-race"]],
  ])("%s --help shows its options and examples", (cmd, expected) => {
    const r = run([cmd, "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Examples:");
    for (const e of expected) expect(r.stdout).toContain(e);
  });

  test.each(["check", "fix", "graph"])("%s --help names each option and choice once", (cmd) => {
    const r = run([cmd, "--help"]);
    expect(r.code).toBe(0);
    const section = r.stdout.slice(r.stdout.indexOf("Options:"), r.stdout.indexOf("Examples:"));
    const options = [...section.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]);
    expect(options.length).toBeGreaterThan(3);
    expect(new Set(options).size).toBe(options.length);
    for (const m of section.matchAll(/\[choices: ([^\]]+)\]/g)) {
      const choices = m[1].split(", ");
      expect(new Set(choices).size).toBe(choices.length);
    }
  });

  test("--help tells the exit codes and the environment variables", () => {
    const r = run(["--help"]);
    expect(r.stdout).toMatch(/Exit codes: 0 nothing to fix.*1 races need fixing.*2 usage error/s);
    for (const v of ["NO_COLOR", "FORCE_COLOR", "BUILDRACE_WORKERS", "BUILDRACE_AST_MEMO"])
      expect(r.stdout).toContain(v);
  });

  test("a BUILDRACE_WORKERS that is not a number is a usage error, not ignored", () => {
    const bad = run(["check", "examples/no-race"], { env: { BUILDRACE_WORKERS: "two" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("BUILDRACE_WORKERS must be a whole number");
    const good = run(["check", "examples/no-race"], { env: { BUILDRACE_WORKERS: "2" } });
    expect(good.code).toBe(0);
  });

  test("--version prints package.json's version", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const r = run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  test("usage errors exit 2", () => {
    expect(run([]).code).toBe(2);
    expect(run([]).stderr).toContain("check, fix, graph or explain");
    expect(run(["check", "--no-such-flag", "examples/no-race"]).code).toBe(2);
    expect(run(["check", "--format", "xml", "examples/no-race"]).code).toBe(2);
    const both = run(["check", "-q", "-v", "examples/no-race"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--quiet and --verbose");
    expect(run(["graph"]).code).toBe(2);
    expect(run(["fix", "--format", "sarif", "examples/no-race"]).code).toBe(2);
  });
});

describe("check", () => {
  test("text: races, exit 1, a summary line with the elapsed time", () => {
    const r = run(["check", "examples/rust-multistage"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("unsafe: shared-cache-race on cache //usr/local/cargo/registry");
    expect(r.stdout).toMatch(/\n1 file, 3 races to fix, 0 errors \(\d+\.\d\ds\)\n$/);
    expect(r.stdout).not.toContain(ESC);
  });

  test("--platform given twice is the same as comma-separated; a bad one is a usage error", () => {
    const comma = run([
      "check",
      "--format",
      "json",
      "--platform",
      "linux/amd64,linux/arm64",
      "examples/multi-platform",
    ]);
    const twice = run([
      "check",
      "--format",
      "json",
      "--platform",
      "linux/amd64",
      "--platform",
      "linux/arm64",
      "examples/multi-platform",
    ]);
    expect(twice.stderr).toBe("");
    expect(twice.code).toBe(comma.code);
    expect(twice.stdout).toBe(comma.stdout);
    const builds = JSON.parse(twice.stdout).files.flatMap(
      (f: { builds: { platforms: string[] }[] }) => f.builds,
    );
    expect(builds.length).toBeGreaterThan(0);
    for (const b of builds) expect(b.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    const bad = run([
      "check",
      "--platform",
      "linux/amd64",
      "--platform",
      "amd64",
      "examples/no-race",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--platform: "amd64" is not os/arch');
  });

  test("--target and --config given twice: the last one counts, as with docker build", () => {
    const last = run([
      "check",
      "--format",
      "json",
      "--target",
      "build-api",
      "examples/rust-multistage",
    ]);
    const twice = run([
      "check",
      "--format",
      "json",
      "--target",
      "no-such-stage",
      "--target",
      "build-api",
      "examples/rust-multistage",
    ]);
    expect(twice.stderr).toBe("");
    expect(twice.stdout).toBe(last.stdout);
    expect(JSON.parse(twice.stdout).files[0].builds[0].target).toBe("build-api");
    const t = tempDockerfile("FROM alpine\n");
    try {
      fs.writeFileSync(path.join(t.dir, "good.json"), "{}");
      const r = run([
        "check",
        "--config",
        path.join(t.dir, "missing.json"),
        "--config",
        path.join(t.dir, "good.json"),
        t.dir,
      ]);
      expect(r.stderr).not.toContain("internal error");
      expect(r.code).toBe(0);
    } finally {
      t.cleanup();
    }
  });

  test("exit 0 without races, 2 when a file cannot be analysed", () => {
    expect(run(["check", "examples/no-race"]).code).toBe(0);
    const t = tempDockerfile("FROM alpine\nRUN --mount=type=cache,target=/x,sharing=maybe true\n");
    try {
      const r = run(["check", t.dir]);
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/Dockerfile:2: error: /);
    } finally {
      t.cleanup();
    }
  });

  test("--quiet hides safe caches; --verbose lists parallel pairs and quiet cache runs", () => {
    const normal = run(["check", "examples/nested-caches"]);
    const quiet = run(["check", "-q", "examples/nested-caches"]);
    expect(normal.stdout).toContain("info: shared-cache-race on cache /npm (npm)");
    expect(quiet.stdout).not.toContain("(npm)");
    expect(quiet.code).toBe(normal.code);

    const verbose = run(["check", "--verbose", "examples/monorepo-targets"]);
    expect(verbose.code).toBe(1);
    expect(verbose.stdout).toContain("cache steps that may run at the same time:");
    expect(verbose.stdout).toContain("line 10 (stage builder) and line 42 (stage server)");
    expect(verbose.stdout).toContain("cache runs that race with nothing:");
    expect(verbose.stdout).toContain("line 22 (stage web): //root/.npm — stage not built");
    expect(normal.stdout).not.toContain("cache runs that race with nothing:");
  });

  test("--format sarif: one SARIF 2.1.0 document on stdout, same exit code", () => {
    const r = run(["check", "--format", "sarif", "examples/rust-multistage"]);
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout);
    expect(log.version).toBe("2.1.0");
    expect(log.runs[0].results).toHaveLength(3);
    expect(log.runs[0].results[0].fixes[0].description.text).toContain("--strategy auto");
    const locked = run([
      "check",
      "--format",
      "sarif",
      "--strategy",
      "lock",
      "examples/rust-multistage",
    ]);
    expect(JSON.parse(locked.stdout).runs[0].results[0].fixes[0].description.text).toContain(
      "--strategy lock",
    );
    expect(run(["check", "--format", "sarif", "examples/no-race"]).code).toBe(0);
  });

  test("--format github: workflow commands, same exit code", () => {
    const r = run(["check", "--format", "github", "examples/rust-multistage"]);
    expect(r.code).toBe(1);
    const cmds = r.stdout.split("\n").filter((l) => l.startsWith("::"));
    expect(cmds).toHaveLength(3);
    expect(
      cmds.filter((l) => l.startsWith("::error file=examples/rust-multistage/Dockerfile,line=10,")),
    ).toHaveLength(2);
    expect(cmds.filter((l) => l.startsWith("::warning "))).toHaveLength(1);
  });

  test("--format json is unchanged (SPEC §4)", () => {
    const r = run(["check", "--format", "json", "examples/rust-multistage"]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.version).toBe(1);
    expect(doc.files[0].parallel).toEqual([[10, 18]]);
  });
});

describe("colour", () => {
  test("only on a terminal, NO_COLOR wins, FORCE_COLOR forces (0/false: off)", () => {
    expect(useColor({}, true)).toBe(true);
    expect(useColor({}, false)).toBe(false);
    expect(useColor({}, undefined as unknown as boolean)).toBe(false);
    expect(useColor({ NO_COLOR: "1" }, true)).toBe(false);
    expect(useColor({ NO_COLOR: "1", FORCE_COLOR: "1" }, true)).toBe(false);
    expect(useColor({ NO_COLOR: "" }, true)).toBe(true);
    expect(useColor({ FORCE_COLOR: "1" }, false)).toBe(true);
    expect(useColor({ FORCE_COLOR: "" }, false)).toBe(true);
    expect(useColor({ FORCE_COLOR: "0" }, true)).toBe(false);
    expect(useColor({ FORCE_COLOR: "false" }, true)).toBe(false);
  });

  test("the CLI: plain when piped, coloured with FORCE_COLOR, plain with NO_COLOR", () => {
    expect(run(["check", "examples/rust-multistage"]).stdout).not.toContain(ESC);
    const forced = run(["check", "examples/rust-multistage"], { env: { FORCE_COLOR: "1" } });
    expect(forced.stdout).toContain(`${ESC}31munsafe${ESC}0m`);
    const none = run(["check", "examples/rust-multistage"], {
      env: { FORCE_COLOR: "1", NO_COLOR: "1" },
    });
    expect(none.stdout).not.toContain(ESC);
    // Machine formats never carry colour.
    const sarif = run(["check", "--format", "sarif", "examples/rust-multistage"], {
      env: { FORCE_COLOR: "1" },
    });
    expect(sarif.stdout).not.toContain(ESC);
  });
});

describe("graph", () => {
  test("mermaid by default, dot on request, exit 0 even with races", () => {
    const m = run(["graph", "examples/rust-multistage/Dockerfile"]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain("flowchart TB");
    expect(m.stdout).toContain("s1_l10 <-.->");
    const d = run(["graph", "examples/rust-multistage/Dockerfile", "--format", "dot"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^digraph /);
    expect(d.stdout).toContain("s1_l10 -> s2_l18 [dir=both");
  });

  test("--target, --build-arg and --platform change what is drawn", () => {
    const slim = run(["graph", "examples/monorepo-targets/Dockerfile"]);
    expect(slim.stdout).toContain('subgraph s5["stage base-debug (not built)"]');
    const debug = run([
      "graph",
      "examples/monorepo-targets/Dockerfile",
      "--build-arg",
      "VARIANT=debug",
    ]);
    expect(debug.stdout).toContain('subgraph s5["stage base-debug"]');
    const web = run(["graph", "examples/monorepo-targets/Dockerfile", "--target", "web"]);
    expect(web.stdout).toContain('subgraph s1["stage web (target)"]');
    const plat = run([
      "graph",
      "examples/rust-multistage/Dockerfile",
      "--platform",
      "linux/amd64,linux/arm64",
    ]);
    expect(plat.stdout).toContain("linux/amd64 + linux/arm64");
  });

  test("a missing file exits 2", () => {
    const r = run(["graph", "no/such/Dockerfile"]);
    expect(r.code).toBe(2);
  });
});

describe("explain", () => {
  test("a tool, a rule, the list, an unknown name", () => {
    const tool = run(["explain", "cargo-registry"]);
    expect(tool.code).toBe(0);
    expect(tool.stdout).toContain("cargo-registry: unsafe with concurrent writers");
    expect(tool.stdout).toContain(".cargo-ok File exists (os error 17)");
    const rule = run(["explain", "Shared-Cache-Race"]);
    expect(rule.code).toBe(0);
    expect(rule.stdout).toMatch(/^shared-cache-race: /);
    const list = run(["explain"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("  apt\n");
    const unknown = run(["explain", "left-pad"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain('no rule or tool named "left-pad"');
    expect(unknown.stderr).toContain("cargo-registry");
  });
});
