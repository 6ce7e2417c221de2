/**
 * The real-world corpus (../shared/corpus): every file must parse, analyse and fix
 * cleanly, and the races its notes describe must be found. Compose and bake files are
 * analysed inside a reconstruction of their repository (each corpus file of that repo
 * written at its original path), so the Dockerfiles the corpus has are really used.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planFixes } from "../../src/apply/fix";
import { Strategy } from "../../src/apply/load";
import { discover } from "../../src/discover/discover";
import { defaultLoader } from "../../src/discover/load";
import { analyze, AnalyzeOptions } from "../../src/pipeline";
import { toJson } from "../../src/report/json";

const corpus = path.join(__dirname, "..", "..", "..", "shared", "corpus");
const manifest = fs
  .readFileSync(path.join(corpus, "MANIFEST.tsv"), "utf8")
  .trim()
  .split("\n")
  .slice(1)
  .map((l) => {
    const [file, repo, repoPath, , kind] = l.split("\t");
    return { file, repo, repoPath, kind };
  });

/** Build args a real build passes (from the files' notes): without them FROM is invalid. */
const OPTIONS: Record<string, AnalyzeOptions> = {
  "012_blakeblackshear_frigate_Dockerfile.arm64": { buildArgs: { BASE_IMAGE: "debian:12" } },
  "033_firezone_firezone_Dockerfile": { buildArgs: { PACKAGE: "firezone-gateway" } },
};

const STRATEGIES: Strategy[] = ["auto", "lock", "split", "merge"];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-corpus-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const dockerfiles = manifest.filter((m) => m.kind === "dockerfile");
const projects = manifest.filter((m) => m.kind !== "dockerfile");

test("the corpus is there", () => {
  expect(dockerfiles.length).toBeGreaterThan(15);
  expect(projects.length).toBeGreaterThan(5);
});

describe.each(dockerfiles.map((m) => m.file))("%s", (name) => {
  const file = path.join(corpus, "files", name);
  for (const platforms of [undefined, ["linux/amd64", "linux/arm64"]]) {
    const opts: AnalyzeOptions = { ...(OPTIONS[name] ?? {}), platforms };
    const label = platforms ? "two platforms" : "one platform";
    test(`analyses without errors (${label})`, async () => {
      const r = await analyze([{ path: file, kind: "dockerfile" }], opts);
      expect(r.files[0].diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      expect(r.files[0].cacheRuns.length).toBeGreaterThan(0);
    });
    test.each(STRATEGIES)(`fixes cleanly with %s (${label})`, async (strategy) => {
      const plan = await planFixes([{ path: file, kind: "dockerfile" }], { ...opts, strategy });
      for (const f of plan.fixes) expect(f.error).toBeUndefined();
    });
  }
});

describe("races the corpus notes describe", () => {
  const keysOf = async (name: string, opts: AnalyzeOptions = {}) => {
    const r = await analyze([{ path: path.join(corpus, "files", name), kind: "dockerfile" }], opts);
    return toJson(r).files[0].races.map((x) => `${x.key} ${x.safety}`);
  };
  test("scoringengine (pre-fix): per-stage apt ids race across amd64/arm64", async () => {
    const keys = await keysOf("075_scoringengine_scoringengine_Dockerfile", {
      platforms: ["linux/amd64", "linux/arm64"],
    });
    expect(keys).toEqual(
      expect.arrayContaining(["/apt-lists-builder unsafe", "/apt-cache-runtime unsafe"]),
    );
    expect(await keysOf("075_scoringengine_scoringengine_Dockerfile")).toEqual([]);
  });
  test("Bailo standalone: backend and frontend share /cache/npm (safe: reported, not failing)", async () => {
    expect(await keysOf("036_gchq_Bailo_Dockerfile.standalone")).toContain("//cache/npm safe");
  });
  test("reth: registry, git and sccache explicitly shared race across platforms", async () => {
    const keys = await keysOf("069_paradigmxyz_reth_Dockerfile.depot", {
      platforms: ["linux/amd64", "linux/arm64"],
    });
    expect(keys).toEqual(
      expect.arrayContaining(["//usr/local/cargo/registry unsafe", "//usr/local/cargo/git unsafe"]),
    );
  });
  test("localstack: the final stage copies from builder first, so its pip RUNs never overlap builder's", async () => {
    expect(await keysOf("054_localstack_localstack_Dockerfile")).toEqual([]);
  });
  test("gobii (fixed): sibling apt mounts are locked, so no apt race", async () => {
    const keys = await keysOf("042_gobii-ai_gobii-platform_Dockerfile");
    expect(keys.filter((k) => k.includes("apt"))).toEqual([]);
  });
});

describe.each(projects.map((m) => m.file))("project of %s", (name) => {
  const entry = manifest.find((m) => m.file === name)!;
  const root = path.join(tmp, entry.repo.replace("/", "__"));
  beforeAll(() => {
    for (const m of manifest.filter((x) => x.repo === entry.repo)) {
      const dest = path.join(root, m.repoPath);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(corpus, "files", m.file), dest);
    }
  });
  test("loads; the only errors are Dockerfiles the corpus does not have", async () => {
    const target = path.join(root, entry.repoPath);
    const r = await analyze(
      [{ path: target, kind: entry.kind as "compose" | "bake" }],
      {},
      defaultLoader,
    );
    const errors = r.files.flatMap((f) => f.diagnostics.filter((d) => d.severity === "error"));
    for (const e of errors) expect(e.message).toMatch(/not found|missing a value/);
    for (const e of errors) expect(e.line).toBeGreaterThan(0);
  });
  test.each(STRATEGIES)("fix with %s leaves no failed rewrite", async (strategy) => {
    const found = discover([path.join(root, entry.repoPath)]);
    const plan = await planFixes(found.files, { strategy }, defaultLoader);
    for (const f of plan.fixes) expect(f.error).toBeUndefined();
  });
});

test("gobii compose (pre-fix): web/worker builds of docker/Dockerfile de-duplicate; analysed together", async () => {
  const root = path.join(tmp, "gobii-ai__gobii-platform");
  const r = await analyze(
    [{ path: path.join(root, "compose.yaml"), kind: "compose" }],
    {},
    defaultLoader,
  );
  const df = r.files.find((f) => f.path.endsWith(path.join("docker", "Dockerfile")));
  expect(df).toBeDefined();
  expect(df!.builds.length).toBeGreaterThan(1);
});
