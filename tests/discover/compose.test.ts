import * as fs from "fs";
import * as path from "path";
import { composeBuilds, interpolate, loadDotEnv, parseDotEnv } from "../../src/discover/compose";
import { DeclaredBuilds } from "../../src/discover/types";

const project = path.resolve(__dirname, "../fixtures/compose/project");
const corpus = path.resolve(__dirname, "../../../shared/corpus/files");

function load(file: string, env: Record<string, string> = {}): DeclaredBuilds {
  const p = path.join(project, file);
  return composeBuilds(p, fs.readFileSync(p, "utf8"), env);
}

function byName(r: DeclaredBuilds, name: string) {
  const b = r.builds.find((x) => x.name === name);
  if (!b) throw new Error(`no build ${name} in ${JSON.stringify(r.builds.map((x) => x.name))}`);
  return b;
}

/** 1-based line of the first line of `text` that matches `re`. */
function lineOf(file: string, re: RegExp): number {
  const lines = fs.readFileSync(path.join(project, file), "utf8").split("\n");
  return lines.findIndex((l) => re.test(l)) + 1;
}

describe("composeBuilds: build forms", () => {
  const r = load("compose.yaml", { FROM_ENV: "env-value" });

  it("returns the compose path and builds for services with a build section only", () => {
    expect(r.path).toBe(path.join(project, "compose.yaml"));
    expect(r.builds.map((b) => b.name).sort()).toEqual(["api", "root", "web"]);
  });

  it("takes a string build as the context, with the default Dockerfile", () => {
    const b = byName(r, "root");
    expect(b.context).toBe(project);
    expect(b.dockerfile).toBe(path.join(project, "Dockerfile"));
    expect(b.target).toBeUndefined();
    expect(b.buildArgs).toEqual({});
    expect(b.platforms).toEqual([]);
    expect(b.line).toBe(lineOf("compose.yaml", /^  root:/));
  });

  it("reads context, dockerfile relative to the context, target, map args and platforms", () => {
    const b = byName(r, "api");
    expect(b.context).toBe(path.join(project, "api"));
    expect(b.dockerfile).toBe(path.join(project, "api", "Dockerfile.api"));
    expect(b.target).toBe("runtime");
    expect(b.buildArgs).toEqual({
      PLAIN: "value",
      NUMBER: "42",
      FLAG: "true",
      FROM_ENV: "env-value",
    });
    expect(b.platforms).toEqual(["linux/amd64", "linux/arm64"]);
    expect(b.line).toBe(lineOf("compose.yaml", /^  api:/));
  });

  it("reads list args; a bare KEY takes its value from env or is omitted", () => {
    const b = byName(r, "web");
    expect(b.dockerfile).toBe(path.join(project, "web", "Dockerfile"));
    expect(b.buildArgs).toEqual({
      LIST: "one",
      EMPTY: "",
      WITH_EQUALS: "a=b",
      FROM_ENV: "env-value",
    });
  });

  it("warns that dockerfile_inline is not analysed", () => {
    const d = r.diagnostics.find((x) => x.message.includes("inline"));
    expect(d).toMatchObject({ severity: "warning", line: lineOf("compose.yaml", /^  inline:/) });
    expect(d!.message).toMatch(/not analysed/);
  });

  it("warns about and skips URL and git contexts", () => {
    const remote = r.diagnostics.filter((x) => /remote build context/.test(x.message));
    expect(remote.map((d) => d.line)).toEqual([
      lineOf("compose.yaml", /^  remote:/),
      lineOf("compose.yaml", /^  remote-git:/),
    ]);
    expect(remote.every((d) => d.severity === "warning")).toBe(true);
  });

  it("reports a missing Dockerfile as an error on the service line and drops the build", () => {
    const d = r.diagnostics.find((x) => x.message.includes("Dockerfile.nope"));
    expect(d).toMatchObject({ severity: "error", line: lineOf("compose.yaml", /^  missing:/) });
    expect(d!.message).toContain(path.join(project, "api", "Dockerfile.nope"));
    expect(r.builds.find((b) => b.name === "missing")).toBeUndefined();
  });

  it("skips services whose profiles are not enabled, like compose", () => {
    expect(r.builds.find((b) => b.name === "optional")).toBeUndefined();
    const enabled = load("compose.yaml", { COMPOSE_PROFILES: "other, debug" });
    expect(byName(enabled, "optional").dockerfile).toBe(path.join(project, "worker", "Dockerfile"));
    const all = load("compose.yaml", { COMPOSE_PROFILES: "*" });
    expect(all.builds.map((b) => b.name)).toContain("optional");
  });

  it("has only the expected diagnostics", () => {
    expect(r.diagnostics.map((d) => d.severity).sort()).toEqual([
      "error",
      "warning",
      "warning",
      "warning",
    ]);
  });
});

describe("composeBuilds: x- extensions, anchors, aliases and merge keys", () => {
  const r = load("anchors.yaml");

  it("resolves merge keys inside build and at service level", () => {
    expect(r.diagnostics).toEqual([]);
    const one = byName(r, "one");
    expect(one.dockerfile).toBe(path.join(project, "api", "Dockerfile.api"));
    expect(one.target).toBe("base");
    expect(one.buildArgs).toEqual({ SHARED: "1" });
  });

  it("lets explicit keys override merged ones, with merged args", () => {
    const two = byName(r, "two");
    expect(two.target).toBe("other");
    expect(two.buildArgs).toEqual({ SHARED: "1", EXTRA: "2" });
    expect(two.line).toBe(lineOf("anchors.yaml", /^  two:/));
  });

  it("resolves a plain alias as the build mapping", () => {
    const three = byName(r, "three");
    expect(three.context).toBe(path.join(project, "api"));
    expect(three.target).toBeUndefined();
  });

  it("does not treat x- extensions as services", () => {
    expect(r.builds.map((b) => b.name).sort()).toEqual(["one", "three", "two"]);
  });
});

describe("composeBuilds: interpolation", () => {
  const env = {
    APP_DIR: "./api",
    APP_DOCKERFILE: "Dockerfile.api",
    EMPTY_VAR: "",
    ...loadDotEnv(project),
  };
  const r = load("interpolation.yaml", env);
  const app = byName(r, "app");

  it("interpolates context, dockerfile, target and platforms", () => {
    expect(app.context).toBe(path.join(project, "api"));
    expect(app.dockerfile).toBe(path.join(project, "api", "Dockerfile.api"));
    expect(app.target).toBe("prod");
    expect(app.platforms).toEqual(["linux/amd64"]);
  });

  it("applies -, :-, :+, nesting, $$ escapes and .env values", () => {
    expect(app.buildArgs).toMatchObject({
      DASH_DEFAULT: "",
      COLON_DEFAULT: "fallback",
      UNSET_DASH: "fallback",
      NESTED: "deep",
      ESCAPED: "$HOME and ${NOT_A_VAR}",
      PLUS: "set",
      PLAIN_UNSET: "xy",
      REQUIRED: "",
      FROM_DOTENV: "from-dotenv",
    });
  });

  it("reports :? as an error and unset variables as warnings, on the service line", () => {
    const line = lineOf("interpolation.yaml", /^  app:/);
    expect(r.diagnostics).toContainEqual({
      line,
      severity: "error",
      message: 'service "app": required variable NEEDED is missing a value: set NEEDED first',
    });
    const unset = r.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message);
    expect(unset).toEqual([
      'service "app": variable "NEVER_SET" is not set, defaulting to a blank string',
    ]);
  });

  it("is the compose template language", () => {
    const env2: Record<string, string> = { A: "a", E: "" };
    const look = (n: string) => env2[n];
    expect(interpolate("$A-${A}-${A:?x}-${E:-d}-${E-d}-${U-d}-${A+p}-${E:+p}-$$A-$", look)).toBe(
      "a-a-a-d--d-p--$A-$",
    );
    expect(interpolate("${U:-${A}/${U:-z}}", look)).toBe("a/z");
    const errors: string[] = [];
    expect(interpolate("${E?must}", look, { missingRequired: (m) => errors.push(m) })).toBe("");
    expect(interpolate("${U?must}", look, { missingRequired: (m) => errors.push(m) })).toBe("");
    expect(errors).toEqual(["required variable U is missing a value: must"]);
    const invalid: string[] = [];
    interpolate("${not valid}", look, { invalid: (t) => invalid.push(t) });
    interpolate("${A", look, { invalid: (t) => invalid.push(t) });
    expect(invalid).toEqual(["${not valid}", "${A"]);
  });
});

describe("loadDotEnv", () => {
  it("reads KEY=VAL lines, comments, export, quotes and expansion", () => {
    expect(loadDotEnv(project)).toEqual({
      DOTENV_VALUE: "from-dotenv",
      EXPORTED: "yes",
      QUOTED: "a b # not a comment",
      SINGLE: "literal ${DOTENV_VALUE}",
      UNQUOTED: "value",
      EXPANDED: "from-dotenv-x",
      ESCAPES: "line1\nline2",
      EMPTY: "",
    });
  });

  it("returns {} when there is no .env", () => {
    expect(loadDotEnv(path.join(project, "api"))).toEqual({});
  });

  it("handles CRLF, a BOM and multi-line quoted values", () => {
    expect(parseDotEnv("\uFEFFA=1\r\nB=\"x\r\ny\"\r\nC='q'\r\n")).toEqual({
      A: "1",
      B: "x\ny",
      C: "q",
    });
  });
});

describe("composeBuilds: extends", () => {
  const r = load("extends.yaml");

  it("merges the base service's build, args key by key", () => {
    const child = byName(r, "child");
    expect(child.dockerfile).toBe(path.join(project, "api", "Dockerfile.api"));
    expect(child.target).toBe("child");
    expect(child.buildArgs).toEqual({ A: "1", B: "2" });
  });

  it("resolves a base in another file relative to that file", () => {
    expect(byName(r, "from-file").dockerfile).toBe(path.join(project, "web", "Dockerfile"));
  });
});

describe("composeBuilds: errors never throw", () => {
  it("reports invalid YAML once, with the line of the YAML error, and no builds", () => {
    // .txt keeps the deliberately broken YAML away from prettier; the loader ignores the extension.
    const r = load("invalid-yaml.txt");
    expect(r.builds).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0].severity).toBe("error");
    expect(r.diagnostics[0].message).toMatch(/^invalid YAML/);
    expect(r.diagnostics[0].line).toBeGreaterThanOrEqual(5);
  });

  it.each([
    ["empty file", "", 0, /./],
    ["only comments", "# nothing\n", 0, /./],
    ["scalar top level", "hello\n", 1, /must be a mapping at top level/],
    ["list top level", "- a\n- b\n", 1, /must be a mapping at top level/],
    ["services not a map", "version: '3'\nservices: [a, b]\n", 2, /`services` must be a mapping/],
    ["service not a map", "services:\n  a: 3\n", 2, /service "a" must be a mapping/],
    [
      "build of a wrong type",
      "services:\n  a:\n    build: [x]\n",
      2,
      /`build` must be a string or a mapping/,
    ],
    [
      "args of a wrong type",
      "services:\n  a:\n    build:\n      args: 3\n",
      2,
      /build.args must be a mapping or a list/,
    ],
    [
      "duplicate keys",
      "services:\n  a:\n    build: .\n  a:\n    build: .\n",
      4,
      /invalid YAML: Map keys must be unique$/,
    ],
    ["tabs", "services:\n\ta:\n", 2, /invalid YAML: Tabs are not allowed/],
    ["unknown alias", "services:\n  a: *nope\n", undefined, /invalid YAML: Unresolved alias/],
    [
      "extends cycle",
      "services:\n  a:\n    extends: b\n  b:\n    extends: a\n",
      2,
      /extends: cycle/,
    ],
    [
      "extends missing file",
      "services:\n  a:\n    extends: {service: zz, file: nowhere.yaml}\n",
      2,
      /cannot read .*nowhere.yaml/,
    ],
    ["include", "include:\n  - other.yaml\n", 1, /`include` is not analysed/],
  ] as [string, string, number | undefined, RegExp][])("%s", (_name, text, line, message) => {
    const r = composeBuilds(path.join(project, "generated.yaml"), text, {});
    if (line === 0) {
      expect(r.diagnostics).toEqual([]);
      return;
    }
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expect(r.diagnostics[0].message).toMatch(message);
    if (line !== undefined) expect(r.diagnostics[0].line).toBe(line);
    for (const d of r.diagnostics) {
      expect(d.line).toBeGreaterThan(0);
      expect(["error", "warning"]).toContain(d.severity);
    }
  });
});

describe("composeBuilds: real compose files from the corpus", () => {
  const files = fs.existsSync(corpus)
    ? fs.readdirSync(corpus).filter((f) => /compose|bake/i.test(f) && /\.ya?ml$/i.test(f))
    : [];

  it("finds the corpus compose files", () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)("%s loads and reports missing Dockerfiles", (file) => {
    const p = path.join(corpus, file);
    const text = fs.readFileSync(p, "utf8");
    let r: DeclaredBuilds | undefined;
    expect(() => {
      r = composeBuilds(p, text, {});
    }).not.toThrow();
    expect(r!.path).toBe(p);
    // The corpus holds only the compose file, so every build's Dockerfile is missing.
    expect(r!.builds).toEqual([]);
    const missing = r!.diagnostics.filter((d) => /Dockerfile not found/.test(d.message));
    expect(missing.length).toBeGreaterThan(0);
    const lines = text.split("\n");
    for (const d of missing) {
      expect(d.severity).toBe("error");
      expect(d.line).toBeGreaterThan(0);
      const service = /^service "([^"]+)"/.exec(d.message)![1];
      expect(lines[d.line - 1]).toMatch(new RegExp(`^\\s+${service.replace(/[-.]/g, "\\$&")}:`));
      const missingPath = d.message.slice(d.message.indexOf(": /") + 2);
      expect(path.isAbsolute(missingPath)).toBe(true);
      expect(missingPath.startsWith(corpus)).toBe(true);
    }
    for (const d of r!.diagnostics) expect(d.line).toBeGreaterThan(0);
  });

  it("follows the corpus notes on which services build", () => {
    const names = (file: string) => {
      const p = path.join(corpus, file);
      return composeBuilds(p, fs.readFileSync(p, "utf8"), {})
        .diagnostics.filter((d) => /Dockerfile not found/.test(d.message))
        .map((d) => /^service "([^"]+)"/.exec(d.message)![1])
        .sort();
    };
    if (files.length === 0) return;
    // gobii: beat and imap-idlers sit behind profiles that are not enabled.
    expect(names("045_gobii-ai_gobii-platform_compose.yaml")).toEqual(
      ["collectstatic", "migrate", "sandbox-compute", "web", "worker"].sort(),
    );
    // pixelfed: profiles "${DOCKER_WEB_PROFILE:-}" are "" and match the empty COMPOSE_PROFILES.
    expect(names("072_pixelfed_pixelfed_docker-compose.yml")).toEqual(["web", "worker"]);
    expect(names("039_gchq_Bailo_compose.yaml")).toEqual(["backend", "frontend"]);
  });
});
