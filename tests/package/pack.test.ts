/**
 * Packaging: `npm pack` builds a tarball (dist/ compiled by `prepare`) that installs into a
 * fresh project and works there: `npx buildrace check` finds the race of
 * examples/rust-multistage (exit 1), and `require("buildrace")` exposes check and fix.
 *
 * The package is packed from a staging copy of the sources (node_modules linked), so the
 * test proves that `prepare` builds from a clean checkout and never touches this tree's
 * dist/ while other tests run the CLI. Dependencies come from the npm cache
 * (--prefer-offline); the registry is only asked for what the cache lacks.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
const NPM_ENV = { ...process.env, npm_config_fund: "false", npm_config_audit: "false" };
delete NPM_ENV.FORCE_COLOR;

function npm(args: string[], cwd: string): string {
  const r = spawnSync("npm", args, { cwd, env: NPM_ENV, encoding: "utf8", timeout: 120000 });
  if (r.status !== 0)
    throw new Error(`npm ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function copy(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

describe("npm pack", () => {
  let tmp: string;
  let tarball: string;
  let project: string;
  const started = Date.now();

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-pack-"));
    const stage = path.join(tmp, "stage");
    fs.mkdirSync(stage);
    for (const f of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "README.md",
      "CHANGELOG.md",
    ])
      if (fs.existsSync(path.join(ROOT, f))) copy(path.join(ROOT, f), path.join(stage, f));
    for (const d of ["bin", "src", "transforms"]) copy(path.join(ROOT, d), path.join(stage, d));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(stage, "node_modules"), "dir");

    const out = path.join(tmp, "out");
    fs.mkdirSync(out);
    const packed = JSON.parse(npm(["pack", "--json", "--pack-destination", out], stage)) as {
      filename: string;
    }[];
    tarball = path.join(out, packed[0].filename);

    project = path.join(tmp, "project");
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "buildrace-pack-test", version: "1.0.0", private: true }),
    );
    npm(
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball],
      project,
    );
    copy(path.join(ROOT, "examples", "rust-multistage"), path.join(project, "rust-multistage"));
  }, 150000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("the tarball holds the CLI, the compiled code and its types, not the sources", () => {
    const list = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).split("\n");
    for (const f of [
      "package/package.json",
      "package/bin/buildrace.js",
      "package/dist/src/index.js",
      "package/dist/src/index.d.ts",
      "package/dist/src/cli/main.js",
      "package/dist/transforms/auto.js",
      "package/README.md",
    ])
      expect(list).toContain(f);
    expect(list.some((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toBe(false);
    expect(list.some((f) => f.startsWith("package/tests/"))).toBe(false);
    expect(list.some((f) => f.startsWith("package/examples/"))).toBe(false);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(pkg.bin).toEqual({ buildrace: "bin/buildrace.js" });
    expect(pkg.types).toBe("dist/src/index.d.ts");
    expect(pkg.engines.node).toMatch(/^>=\d+/);
    expect(pkg.scripts.prepare).toContain("tsc");
  });

  test("npx buildrace check finds the race (exit 1)", () => {
    const r = spawnSync("npx", ["--no-install", "buildrace", "check", "rust-multistage"], {
      cwd: project,
      env: NPM_ENV,
      encoding: "utf8",
      timeout: 60000,
    });
    expect(r.stderr).not.toContain("internal error");
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      "rust-multistage/Dockerfile:10: unsafe: shared-cache-race on cache //usr/local/cargo/registry",
    );
  });

  test('require("buildrace") exposes check and fix', () => {
    const script = `
      const b = require("buildrace");
      (async () => {
        const report = await b.check(["rust-multistage"]);
        const { diff } = await b.fix(["rust-multistage"], { strategy: "lock" });
        console.log(JSON.stringify({
          check: typeof b.check,
          fix: typeof b.fix,
          races: report.files[0].races.map((r) => r.key).sort(),
          locked: (diff.match(/sharing=locked/g) || []).length,
        }));
      })().catch((e) => { console.error(e); process.exit(3); });`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: project, encoding: "utf8" });
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out.check).toBe("function");
    expect(out.fix).toBe("function");
    expect(out.races).toEqual([
      "//src/target",
      "//usr/local/cargo/git",
      "//usr/local/cargo/registry",
    ]);
    expect(out.locked).toBe(6);
    expect(
      fs.existsSync(path.join(project, "node_modules", "buildrace", "dist", "src", "index.d.ts")),
    ).toBe(true);
  });

  test("stays quick", () => {
    // Pack (with the tsc build), install and three runs; generous for a 2-core machine.
    expect(Date.now() - started).toBeLessThan(90000);
  });
});
