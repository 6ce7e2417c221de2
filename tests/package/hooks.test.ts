/** The pre-commit hook definition and the GitHub Action, read as their tools read them. */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { kindOfName } from "../../src/discover/discover";

const ROOT = path.resolve(__dirname, "../..");
const read = (f: string) => parse(fs.readFileSync(path.join(ROOT, f), "utf8"));

interface Hook {
  id: string;
  name: string;
  entry: string;
  language: string;
  files: string;
  require_serial?: boolean;
}

/** pre-commit matches `files` with Python's re.search; a leading (?i) is the IGNORECASE flag. */
function pythonRegex(src: string): RegExp {
  const flags = src.startsWith("(?i)") ? "i" : "";
  return new RegExp(flags ? src.slice(4) : src, flags);
}

describe(".pre-commit-hooks.yaml", () => {
  const hooks = read(".pre-commit-hooks.yaml") as Hook[];
  const hook = hooks.find((h) => h.id === "buildrace") as Hook;
  const files = pythonRegex(hook.files);

  test("one node hook running buildrace check over all files at once", () => {
    expect(hooks).toHaveLength(1);
    expect(hook).toMatchObject({
      id: "buildrace",
      entry: "buildrace check",
      language: "node",
      require_serial: true,
    });
    // The bin the entry names is the package's.
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(Object.keys(pkg.bin)).toContain(hook.entry.split(" ")[0]);
  });

  const matching = [
    "Dockerfile",
    "dockerfile",
    "services/api/Dockerfile",
    "api.Dockerfile",
    "docker/worker.dockerfile",
    "Dockerfile.prod",
    "deploy/Dockerfile.arm64",
    "Containerfile",
    "images/Containerfile",
    "compose.yaml",
    "compose.yml",
    "compose.override.yaml",
    "docker-compose.yml",
    "docker-compose.prod.yaml",
    "ops/docker-compose.ci.yml",
    "docker-bake.hcl",
    "docker-bake.json",
    "docker-bake.override.hcl",
    "build/docker-bake.json",
  ];
  const notMatching = [
    "Dockerfile.dockerignore",
    ".dockerignore",
    "Dockerfiles/README.md",
    "my-Dockerfile-notes.txt",
    "Containerfile.txt/readme",
    "src/compose.ts",
    "compose.json",
    "docker-compose.yml.bak",
    "bake.hcl",
    "docker-bake.yaml",
    "README.md",
    "package.json",
    "Dockerfile/x",
  ];

  test.each(matching)("matches %s", (name) => {
    expect(files.test(name)).toBe(true);
  });

  test.each(notMatching)("does not match %s", (name) => {
    expect(files.test(name)).toBe(false);
  });

  test("agrees with the names buildrace looks for in a directory", () => {
    for (const name of [...matching, ...notMatching]) {
      if (name.endsWith(".dockerignore")) continue; // a Dockerfile's ignore file, not a Dockerfile
      const base = name.split("/").pop() as string;
      if (name.includes("/") && !files.test(base)) continue;
      expect([name, files.test(name)]).toEqual([name, kindOfName(base) !== undefined]);
    }
  });
});

describe("action.yml", () => {
  const action = read("action.yml") as {
    name: string;
    description: string;
    inputs: Record<string, { description: string; default?: string }>;
    outputs: Record<string, { value: string }>;
    runs: {
      using: string;
      steps: { uses?: string; run?: string; with?: Record<string, string> }[];
    };
  };

  test("a composite action with inputs for paths and strategy", () => {
    expect(action.name).toBe("buildrace");
    expect(action.description.length).toBeGreaterThan(10);
    expect(action.runs.using).toBe("composite");
    expect(action.inputs.paths.default).toBe(".");
    expect(action.inputs.strategy.default).toBe("auto");
    for (const input of Object.values(action.inputs))
      expect(input.description.length).toBeGreaterThan(5);
    expect(Object.keys(action.outputs)).toEqual(["sarif-file", "exit-code"]);
  });

  test("sets up node, writes SARIF with buildrace check, uploads it to code scanning", () => {
    const steps = action.runs.steps;
    expect(steps[0].uses).toMatch(/^actions\/setup-node@v\d+$/);
    const check = steps.find((s) => s.run?.includes("buildrace"));
    expect(check?.run).toMatch(/npx .*buildrace "\$\{args\[@\]\}"/);
    expect(check?.run).toContain("check --format sarif --strategy");
    expect(check?.run).toContain('> "$BUILDRACE_SARIF"');
    const upload = steps.find((s) => s.uses?.startsWith("github/codeql-action/upload-sarif@"));
    expect(upload?.with?.sarif_file).toBe("${{ steps.check.outputs.sarif-file }}");
    // Every composite run step needs a shell.
    for (const s of steps) if (s.run) expect((s as { shell?: string }).shell).toBe("bash");
  });
});
