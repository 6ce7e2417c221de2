import * as fs from "fs";
import * as path from "path";
import { bakeBuilds } from "../../src/discover/bake";
import { DeclaredBuilds } from "../../src/discover/types";

const project = path.resolve(__dirname, "../fixtures/bake/project");
const corpus = path.resolve(__dirname, "../../../shared/corpus/files");

async function load(
  file: string,
  env: Record<string, string> = {},
  targets?: string[],
): Promise<DeclaredBuilds> {
  const p = path.join(project, file);
  return bakeBuilds(p, fs.readFileSync(p, "utf8"), env, targets);
}

function byName(r: DeclaredBuilds, name: string) {
  const b = r.builds.find((x) => x.name === name);
  if (!b) throw new Error(`no build ${name} in ${JSON.stringify(r.builds.map((x) => x.name))}`);
  return b;
}

function lineOf(file: string, re: RegExp): number {
  const lines = fs.readFileSync(path.join(project, file), "utf8").split("\n");
  return lines.findIndex((l) => re.test(l)) + 1;
}

describe("bakeBuilds: docker-bake.hcl", () => {
  let r: DeclaredBuilds;
  beforeAll(async () => {
    r = await load("docker-bake.hcl");
  });

  it("builds the default group, expanding groups inside groups", () => {
    expect(r.path).toBe(path.join(project, "docker-bake.hcl"));
    expect(r.builds.map((b) => b.name)).toEqual(["app", "lint", "test"]);
    expect(r.diagnostics).toEqual([]);
  });

  it("reads dockerfile relative to the context, target, platforms and the target's line", () => {
    const app = byName(r, "app");
    expect(app.context).toBe(project);
    expect(app.dockerfile).toBe(path.join(project, "docker", "app.Dockerfile"));
    expect(app.target).toBe("final");
    expect(app.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    expect(app.line).toBe(lineOf("docker-bake.hcl", /^target "app"/));
  });

  it("merges inherited args key by key; a null arg is unset and never overrides", () => {
    expect(byName(r, "app").buildArgs).toEqual({
      GO_VERSION: "1.22",
      COMMON: "common",
      OVERRIDDEN: "from-app",
      NULLED: "kept",
      DERIVED: "go1.22-latest",
      UNSET: "",
      NIGHTLY: "false",
      NUMBER: "3",
    });
  });

  it("follows inherits recursively, later keys overriding", () => {
    const lint = byName(r, "lint");
    expect(lint.context).toBe(path.join(project, "sub"));
    expect(lint.dockerfile).toBe(path.join(project, "sub", "Dockerfile"));
    expect(lint.target).toBe("lint");
    const test = byName(r, "test");
    expect(test.context).toBe(path.join(project, "sub"));
    expect(test.dockerfile).toBe(path.join(project, "sub", "alt.Dockerfile"));
    expect(test.target).toBe("lint");
    expect(test.platforms).toEqual([]);
    expect(test.buildArgs.OVERRIDDEN).toBe("from-test");
    expect(test.buildArgs.COMMON).toBe("common");
  });

  it("overrides variables from the environment, typed like their default", async () => {
    const env = {
      TAG: "v1",
      NIGHTLY: "true",
      GO_VERSION: "1.23",
      UNSET_DEFAULT: "u",
      NULL_DEFAULT: "n",
    };
    const over = await load("docker-bake.hcl", env, ["app", "lint"]);
    expect(over.builds.map((b) => b.name)).toEqual(["app", "lint"]);
    expect(byName(over, "app").buildArgs).toMatchObject({
      GO_VERSION: "1.23",
      DERIVED: "go1.23-v1",
      NIGHTLY: "true",
      UNSET: "u",
      NULL_VAR: "n",
    });
    expect(byName(over, "lint").target).toBe("nightly");
    const bad = await load("docker-bake.hcl", { NIGHTLY: "maybe" }, ["lint"]);
    expect(bad.diagnostics).toHaveLength(1);
    expect(bad.diagnostics[0]).toMatchObject({
      severity: "error",
      line: lineOf("docker-bake.hcl", /^target "lint"/),
    });
    expect(bad.diagnostics[0].message).toMatch(/invalid bool value for variable NIGHTLY/);
  });

  it("reports a missing Dockerfile as an error on the target's line and drops the build", async () => {
    const m = await load("docker-bake.hcl", {}, ["missing", "app"]);
    expect(m.builds.map((b) => b.name)).toEqual(["app"]);
    expect(m.diagnostics).toEqual([
      {
        line: lineOf("docker-bake.hcl", /^target "missing"/),
        severity: "error",
        message: `target "missing": Dockerfile not found: ${path.join(project, "nope.Dockerfile")}`,
      },
    ]);
  });

  it("warns that dockerfile-inline and remote contexts are not analysed", async () => {
    const w = await load("docker-bake.hcl", {}, ["inline", "remote"]);
    expect(w.builds).toEqual([]);
    expect(w.diagnostics.map((d) => [d.severity, d.line])).toEqual([
      ["warning", lineOf("docker-bake.hcl", /^target "inline"/)],
      ["warning", lineOf("docker-bake.hcl", /^target "remote"/)],
    ]);
    expect(w.diagnostics[0].message).toMatch(/dockerfile-inline is not analysed/);
    expect(w.diagnostics[1].message).toMatch(/remote build context https:\/\/github.com/);
  });

  it("reports unknown targets", async () => {
    const u = await load("docker-bake.hcl", {}, ["nosuch"]);
    expect(u.builds).toEqual([]);
    expect(u.diagnostics[0]).toMatchObject({
      severity: "error",
      message: "bake: failed to find target nosuch",
    });
  });
});

describe("bakeBuilds: docker-bake.json", () => {
  it("reads the same forms, with ${} interpolation and $${} escapes in strings", async () => {
    const r = await load("docker-bake.json", { TAG: "json" });
    expect(r.diagnostics).toEqual([]);
    expect(r.builds.map((b) => b.name)).toEqual(["app", "lint"]);
    const app = byName(r, "app");
    expect(app.dockerfile).toBe(path.join(project, "docker", "app.Dockerfile"));
    expect(app.target).toBe("final");
    expect(app.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    expect(app.buildArgs).toEqual({ COMMON: "common", TAG: "json" });
    expect(app.line).toBe(lineOf("docker-bake.json", /^    "app": \{/));
    const lint = byName(r, "lint");
    expect(lint.dockerfile).toBe(path.join(project, "sub", "Dockerfile"));
    expect(lint.buildArgs).toEqual({ ESCAPED: "${NOT_INTERPOLATED}" });
  });

  it("reports a missing context's Dockerfile", async () => {
    const r = await load("docker-bake.json", {}, ["missing"]);
    expect(r.diagnostics[0].message).toBe(
      `target "missing": Dockerfile not found: ${path.join(project, "nowhere", "Dockerfile")}`,
    );
    expect(r.diagnostics[0].line).toBe(lineOf("docker-bake.json", /"missing": \{/));
  });
});

describe("bakeBuilds: expressions", () => {
  let r: DeclaredBuilds;
  beforeAll(async () => {
    r = await load("functions.hcl");
  });

  it("builds a target named default when there is no default group", () => {
    expect(r.builds.map((b) => b.name)).toEqual(["default"]);
    expect(byName(r, "default").dockerfile).toBe(path.join(project, "Dockerfile"));
  });

  it("evaluates user functions, standard functions, operators, for, directives and indexing", () => {
    expect(byName(r, "default").buildArgs).toMatchObject({
      BIN: "./bin/build",
      JOINED: "a-b-c",
      UPPER: "SHOUT",
      HASH: "3254677a7917c6c01f55212f86c57fbf",
      FIRST: "1.21",
      LAST: "1.22",
      COUNT: "2",
      FOR: "go1.22",
      MATH: "7",
      COMPARE: "true",
      TEMPLATE: "empty",
      OBJECT: "x",
    });
  });

  it("leaves unsupported functions unresolved with a warning naming the target", () => {
    const line = lineOf("functions.hcl", /^target "default"/);
    expect(byName(r, "default").buildArgs.UNKNOWN).toBe("${timestamp()}");
    expect(r.diagnostics).toContainEqual({
      line,
      severity: "warning",
      message:
        'target "default": cannot evaluate build arg UNKNOWN `${timestamp()}` (function timestamp is not supported); value left unresolved',
    });
  });

  it("reports an undefined variable as an error, as bake would", () => {
    const d = r.diagnostics.find((x) => x.message.includes("NO_SUCH_VARIABLE"));
    expect(d).toMatchObject({ severity: "error" });
    expect(d!.message).toMatch(/^target "default": .*variable "NO_SUCH_VARIABLE" does not exist/);
    expect(r.diagnostics).toHaveLength(2);
  });

  it("uses variable overrides inside functions", async () => {
    const over = await load("functions.hcl", { DESTDIR: "/out" });
    expect(byName(over, "default").buildArgs).toMatchObject({ BIN: "/out", TEMPLATE: "set" });
  });
});

describe("bakeBuilds: matrix", () => {
  it("expands a matrix into named targets, and the label into a group", async () => {
    const r = await load("matrix.hcl");
    expect(r.diagnostics).toEqual([]);
    expect(r.builds.map((b) => b.name).sort()).toEqual([
      "build-a-1-0",
      "build-a-2-0",
      "build-b-1-0",
      "build-b-2-0",
    ]);
    const b = byName(r, "build-b-2-0");
    expect(b.target).toBe("b");
    expect(b.buildArgs).toEqual({ VERSION: "2.0" });
    expect(b.line).toBe(lineOf("matrix.hcl", /^target "build"/));
    const one = await load("matrix.hcl", {}, ["build-a-1-0"]);
    expect(one.builds.map((x) => x.name)).toEqual(["build-a-1-0"]);
  });
});

describe("bakeBuilds: target selection", () => {
  it("builds every target when there is no default group or target", async () => {
    const r = await load("nodefault.hcl");
    expect(r.builds.map((b) => b.name)).toEqual(["one", "two"]);
    expect(byName(r, "two").dockerfile).toBe(path.join(project, "sub", "Dockerfile"));
    // bake alone would ask for target names: say that every target is assumed
    expect(r.diagnostics).toEqual([
      {
        line: 1,
        message: expect.stringMatching(/^no "default" group or target: .*--bake-target/),
        severity: "warning",
      },
    ]);
    // named targets: no warning
    expect((await load("nodefault.hcl", {}, ["one"])).diagnostics).toEqual([]);
  });

  it("expands mutually nested groups once, matches globs, reports unknown members", async () => {
    const r = await load("nodefault.hcl", {}, ["both"]);
    expect(r.builds.map((b) => b.name)).toEqual(["one", "two"]);
    expect(r.diagnostics).toEqual([]);
    const g = await load("nodefault.hcl", {}, ["t*"]);
    expect(g.builds.map((b) => b.name)).toEqual(["two"]);
    const broken = await load("nodefault.hcl", {}, ["broken"]);
    expect(broken.builds.map((b) => b.name)).toEqual(["one"]);
    expect(broken.diagnostics).toEqual([
      {
        line: lineOf("nodefault.hcl", /^group "broken"/),
        severity: "error",
        message: 'group "broken": failed to find target ghost',
      },
    ]);
  });

  it("reports a missing parent and an inheritance cycle without hanging", async () => {
    const text = [
      'target "a" {\n  inherits = ["b"]\n}',
      'target "b" {\n  inherits = ["a"]\n  dockerfile = "sub/Dockerfile"\n}',
      'target "c" {\n  inherits = ["nobody"]\n}',
    ].join("\n");
    const r = await bakeBuilds(path.join(project, "generated.hcl"), text, {}, ["a", "b", "c"]);
    expect(r.builds.map((b) => b.name)).toEqual(["a", "b"]);
    expect(r.diagnostics).toEqual([
      { line: 8, severity: "error", message: 'target "c": failed to find target nobody' },
    ]);
  });
});

describe("bakeBuilds: errors never throw", () => {
  it("reports invalid HCL once with the parser's line", async () => {
    const r = await load("invalid.hcl");
    expect(r.builds).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({
      severity: "error",
      line: lineOf("invalid.hcl", /context =\s*$/),
    });
    expect(r.diagnostics[0].message).toMatch(/^invalid HCL: .*Invalid expression/);
  });

  it("reports invalid JSON once with its line", async () => {
    // Stored as .txt so prettier leaves the broken JSON alone; the .json path selects the JSON reader.
    const text = fs.readFileSync(path.join(project, "invalid-json.txt"), "utf8");
    const r = await bakeBuilds(path.join(project, "invalid.json"), text, {});
    expect(r.builds).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ severity: "error", line: 4 });
    expect(r.diagnostics[0].message).toMatch(/^invalid JSON/);
  });

  it.each([
    ["empty HCL", "generated.hcl", "", [], undefined],
    ["empty JSON object", "generated.json", "{}", [], undefined],
    ["JSON array", "generated.json", "[1]", [], ["error", 1, /must be an object/]],
    [
      "unclosed block",
      "generated.hcl",
      'target "a" {\n',
      [],
      ["error", 1, /^invalid HCL: .*Unclosed configuration block/],
    ],
    [
      "variable cycle",
      "generated.hcl",
      'variable "A" {\n  default = B\n}\nvariable "B" {\n  default = A\n}\ntarget "default" {\n  args = { X = A }\n}\n',
      ["default"],
      ["error", 7, /variable cycle not allowed/],
    ],
    [
      "matrix not a map",
      "generated.hcl",
      'target "default" {\n  matrix = 3\n  name = "x"\n}\n',
      ["default"],
      ["warning", 1, /matrix must be a map/],
    ],
    [
      "target attribute reference",
      "generated.hcl",
      'target "a" {\n  args = { X = "1" }\n}\ntarget "default" {\n  args = { Y = target.a.args.X }\n}\n',
      ["default"],
      ["warning", 4, /build arg Y .*references to other targets' attributes are not supported/],
    ],
    [
      "bad types",
      "generated.hcl",
      'target "default" {\n  args = ["x"]\n  platforms = "linux/amd64"\n  inherits = 3\n}\n',
      ["default"],
      ["error", 1, /args must be a map/],
    ],
    [
      "unknown function in context",
      "generated.hcl",
      'target "default" {\n  context = nosuchfn("x")\n}\n',
      [],
      [
        "warning",
        1,
        /build not analysed: cannot evaluate context .*function nosuchfn is not supported/,
      ],
    ],
  ] as [string, string, string, string[], ["error" | "warning", number, RegExp] | undefined][])(
    "%s",
    async (_name, file, text, builds, first) => {
      const r = await bakeBuilds(path.join(project, file), text, {});
      expect(r.builds.map((b) => b.name)).toEqual(builds);
      if (!first) expect(r.diagnostics).toEqual([]);
      else {
        expect(r.diagnostics[0]).toMatchObject({ severity: first[0], line: first[1] });
        expect(r.diagnostics[0].message).toMatch(first[2]);
      }
      for (const d of r.diagnostics) expect(d.line).toBeGreaterThan(0);
    },
  );
});

describe("bakeBuilds: real bake files from the corpus", () => {
  const files = fs.existsSync(corpus)
    ? fs.readdirSync(corpus).filter((f) => /compose|bake/i.test(f) && /\.(hcl|json)$/i.test(f))
    : [];

  it("finds the corpus bake files", () => {
    expect(files.length).toBeGreaterThanOrEqual(1);
  });

  it.each(files)("%s loads and reports missing Dockerfiles for the default group", async (file) => {
    const p = path.join(corpus, file);
    const text = fs.readFileSync(p, "utf8");
    const r = await bakeBuilds(p, text, {});
    expect(r.path).toBe(p);
    expect(r.builds).toEqual([]);
    expect(r.diagnostics.length).toBeGreaterThan(0);
    const lines = text.split("\n");
    for (const d of r.diagnostics) {
      expect(d.severity).toBe("error");
      expect(d.line).toBeGreaterThan(0);
      const m = /^target "([^"]+)": Dockerfile not found: (\/.*)$/.exec(d.message);
      expect(m).not.toBeNull();
      expect(lines[d.line - 1]).toMatch(/^target "/);
      expect(m![2].startsWith(corpus)).toBe(true);
    }
  });

  it.each(files)("%s loads every target without evaluation problems", async (file) => {
    const p = path.join(corpus, file);
    const text = fs.readFileSync(p, "utf8");
    const names = [...text.matchAll(/^target "([^"]+)"/gm)].map((m) => m[1]);
    const r = await bakeBuilds(p, text, {}, names);
    expect(r.diagnostics.filter((d) => !/Dockerfile not found/.test(d.message))).toEqual([]);
    expect(r.diagnostics.length).toBeGreaterThanOrEqual(names.length);
  });

  it("expands moby/buildkit's matrix targets with md5 names", async () => {
    const p = path.join(corpus, "063_moby_buildkit_docker-bake.hcl");
    if (!fs.existsSync(p)) return;
    const r = await bakeBuilds(p, fs.readFileSync(p, "utf8"), {}, ["validate"]);
    const names = r.diagnostics.map((d) => /^target "([^"]+)"/.exec(d.message)![1]);
    expect(names).toContain("lint-gopls");
    expect(names).toContain("validate-dockerfile-3254677a7917c6c01f55212f86c57fbf");
    expect(names).toContain("validate-vendor");
    expect(names).not.toContain("lint");
  });
});
