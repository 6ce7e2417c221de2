/** The e2e harness itself: the engine gate, the build helpers, and one cross-build check. */
import { spawnSync } from "child_process";
import * as path from "path";
import {
  build,
  buildArgv,
  buildAsync,
  describeEngine,
  makeContext,
  removeDir,
  REPO_ROOT,
  uniqueId,
} from "./engine";

describe("engine gate (no engine needed)", () => {
  const runGate = (env: Record<string, string | undefined>) => {
    const jestBin = path.join(REPO_ROOT, "node_modules", "jest", "bin", "jest.js");
    const childEnv: NodeJS.ProcessEnv = { ...process.env, BUILDRACE_DOCKER: "/bin/false" };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const r = spawnSync(
      process.execPath,
      [
        jestBin,
        "--rootDir",
        REPO_ROOT,
        "--roots",
        "<rootDir>/tests/e2e/fixtures",
        "--testMatch",
        "**/engine-gate.fixture.ts",
        "--ci",
        "--colors=false",
      ],
      { cwd: REPO_ROOT, env: childEnv, encoding: "utf8", timeout: 60000 },
    );
    return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
  };

  test("without an engine, CI fails with 'engine required in CI'", () => {
    const r = runGate({ CI: "true" });
    expect(r.out).toContain("engine required in CI");
    expect(r.out).not.toContain("gated test ran");
    expect(r.code).not.toBe(0);
  }, 60000);

  test("without an engine outside CI, suites are skipped with one loud line", () => {
    const r = runGate({ CI: undefined });
    expect(r.code).toBe(0);
    expect(r.out.match(/SKIPPING engine e2e tests/g)).toHaveLength(1);
    expect(r.out).not.toContain("gated test ran");
  }, 60000);

  test("docker build argv: plain progress, no --no-cache", () => {
    expect(buildArgv("/ctx")).toEqual(["build", "--progress=plain", "--network=none", "/ctx"]);
    expect(buildArgv("/ctx", { network: null, tag: "t:1" })).toEqual([
      "build",
      "--progress=plain",
      "-t",
      "t:1",
      "/ctx",
    ]);
  });
});

describeEngine("engine helpers", () => {
  test("build() runs a BuildKit build with a cache mount and returns its plain log", () => {
    const id = uniqueId("e2e");
    const dir = makeContext({
      Dockerfile: `FROM buildrace-base\nRUN --mount=type=cache,id=${id},target=/c echo hello-${id} > /c/f && cat /c/f\n`,
    });
    try {
      const r = build(dir);
      expect({ code: r.code, log: r.code === 0 ? "" : r.log }).toEqual({ code: 0, log: "" });
      expect(r.log).toContain(`hello-${id}`);
      expect(r.log).toMatch(/^#\d+ \[internal\] load build definition/m);
      const bad = build(dir, { target: "nope" });
      expect(bad.code).not.toBe(0);
      expect(bad.log).toMatch(/target stage .*nope.* could not be found/);
    } finally {
      removeDir(dir);
    }
  }, 120000);

  // SPEC section 2: "The cache lives on the builder: different Dockerfiles ... built at the
  // same time on one builder share it by key." Two builds rendezvous through one cache id.
  test("two concurrent builds of different Dockerfiles share a cache mount by id", async () => {
    const id = uniqueId("shared");
    const step = (me: string, other: string) =>
      `FROM buildrace-base\nRUN --mount=type=cache,id=${id},target=/c touch /c/${me}; ` +
      `for i in $(seq 100); do [ -e /c/${other} ] && echo ${me}-SAW-${other} && break; sleep 0.1; done\n`;
    const a = makeContext({ Dockerfile: step("a", "b") });
    const b = makeContext({ Dockerfile: step("b", "a") });
    try {
      const [ra, rb] = await Promise.all([buildAsync(a), buildAsync(b)]);
      expect([ra.code, rb.code]).toEqual([0, 0]);
      expect(ra.log).toContain("a-SAW-b");
      expect(rb.log).toContain("b-SAW-a");
    } finally {
      removeDir(a);
      removeDir(b);
    }
  }, 120000);
});
