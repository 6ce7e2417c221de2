/**
 * The five-service compose case from the field (issue 6, part 2; SPEC section 1):
 * examples/rust-workspace-compose built by Debian's docker-compose 1.29 with
 * `COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 docker-compose -f <file> build --parallel`, which
 * runs `/usr/bin/docker build` for the five services at once on one engine.
 *
 * Same approach as races.test.ts (tests/e2e/workloads.ts): a temporary copy, local base
 * images, cargo-shaped workloads, and a fresh cache id prefix per compose run, shared by the
 * five services (they must share caches to race):
 * - the racy original fails in at least one of N runs, always with cargo's registry error
 *   (`failed to unpack package ... .cargo-ok ... File exists (os error 17)`);
 * - after `buildrace fix --write` (auto), and with `--strategy lock` and `--strategy split`,
 *   N of N runs succeed.
 *
 * Variables in mount options: auto (and split) give the cargo caches of the RUN ids such as
 * `id=/app/target-$SERVICE`, where SERVICE is an ARG of the stage that each service sets
 * differently. This engine's dockerfile frontend 1.2 keeps `$SERVICE` literally (all five
 * would share one target cache); BuildKit's frontend 1.3 and later expands it (SPEC section
 * 2, "Variable expansion"). The harness emulates the newer frontend: it expands such
 * variables from each service's build args while materialising, so every service gets its own
 * Dockerfile (`build.dockerfile` in the temporary compose file points at it).
 *
 * BUILDRACE_COMPOSE_RUNS overrides N.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describeEngine, removeDir } from "./engine";
import {
  composeDockerClient,
  composeEnv,
  composeRepeatedly,
  copyExample,
  DOCKER_COMPOSE,
  ERRORS,
  fixedCopy,
  materializeCompose,
  RaceRun,
  Strategy,
  summarize,
  tail,
  Timing,
} from "./workloads";

const N = Number(process.env.BUILDRACE_COMPOSE_RUNS || 5);
const EXAMPLE = "rust-workspace-compose";
const SERVICES = ["api", "worker", "scheduler", "gateway", "billing"];

const TIMING: Partial<Timing> = {
  crates: 6,
  unpackSeconds: 0.2,
  aptSeconds: 0.75,
  compileSeconds: 0.4,
};

const summary: string[] = [];
const startedAt = Date.now();

/** Executions of the cargo RUN (line 17) and of the apt RUN (line 11) in one compose run. */
function executions(r: RaceRun): { cargo: number; cargoDone: number; apt: number } {
  const tagOf = (line: number) => r.cacheRuns.find((c) => c.line === line)?.tag;
  const cargo = r.spans.filter((s) => s.tag === tagOf(17));
  return {
    cargo: cargo.length,
    cargoDone: cargo.filter((s) => s.end !== undefined).length,
    apt: r.spans.filter((s) => s.tag === tagOf(11)).length,
  };
}

function record(variant: string, runs: RaceRun[], note = ""): void {
  // docker-compose prints `ERROR: for <service> ...` and/or `Service '<service>' failed to build`.
  const failedServices = runs.map(
    (r) =>
      new Set(
        [...r.log.matchAll(/^(?:ERROR: for (\S+) |Service '([^']+)' failed to build)/gm)].map(
          (m) => m[1] ?? m[2],
        ),
      ).size,
  );
  summary.push(
    `${variant.padEnd(6)} ${summarize(runs)}; failing service builds per run: ` +
      `${failedServices.join(",")}${note ? `; ${note}` : ""}`,
  );
}

describeEngine(`compose: five Rust services built by docker-compose 1.29 (N=${N})`, () => {
  const built = new Map<string, { strategy: Strategy; runs: RaceRun[] }>();

  afterAll(() => {
    process.stderr.write(
      `\ncompose race reproduction, N=${N} (${((Date.now() - startedAt) / 1000).toFixed(0)} s):\n` +
        summary.map((l) => `  ${l}\n`).join(""),
    );
  });

  test("docker-compose is 1.29 and runs Debian's /usr/bin/docker", () => {
    const v = spawnSync(DOCKER_COMPOSE, ["version", "--short"], {
      env: composeEnv(),
      encoding: "utf8",
    });
    expect(v.stdout.trim()).toMatch(/^1\.29\./);
    expect(composeDockerClient()).toBe("/usr/bin/docker");
  });

  test(`the racy original fails in at least one of ${N} runs, always with cargo's registry error`, async () => {
    const dir = copyExample(EXAMPLE);
    try {
      const runs = await composeRepeatedly(path.join(dir, "compose.yaml"), N, { timing: TIMING });
      record("racy", runs);
      const failed = runs.filter((r) => r.code !== 0);
      expect(failed.length).toBeGreaterThan(0);
      for (const r of failed)
        if (!ERRORS.cargoRegistry.test(r.log)) throw new Error(tail(r.log, 80));
      for (const r of runs) {
        const e = executions(r);
        // Line 11 (apt, before ARG SERVICE) is one step shared by the five builds; line 17
        // runs once per service (SERVICE differs), all at the same time.
        expect(e.apt).toBe(1);
        expect(e.cargo).toBe(SERVICES.length);
      }
    } finally {
      removeDir(dir);
    }
  }, 300000);

  test("the ids auto writes with $SERVICE are expanded per service (frontend >= 1.3 emulation)", () => {
    const f = fixedCopy(EXAMPLE, "auto");
    try {
      expect(f.code).toBe(0);
      const text = fs.readFileSync(path.join(f.dir, "Dockerfile"), "utf8");
      const ids = [...text.matchAll(/\bid=([^,\s]*\$SERVICE[^,\s]*)/g)].map((m) => m[1]);
      expect(ids).toContain("/app/target-$SERVICE");
      const m = materializeCompose(path.join(f.dir, "compose.yaml"), { prefix: "P" });
      expect(Object.keys(m.dockerfiles)).toEqual(SERVICES);
      for (const s of SERVICES) {
        const df = m.dockerfiles[s];
        for (const id of ids) expect(df).toContain(`,id=P-${id.replace("$SERVICE", s)}`);
        // No variable is left in any mount option.
        expect(df.match(/--mount=\S*\$/g)).toBeNull();
      }
    } finally {
      removeDir(f.dir);
    }
  });

  for (const s of ["auto", "lock", "split"] as Strategy[]) {
    test(`fix --write --strategy ${s}: ${N} of ${N} runs succeed`, async () => {
      const f = fixedCopy(EXAMPLE, s);
      try {
        expect({ code: f.code, output: f.code === 0 ? "" : f.output }).toEqual({
          code: 0,
          output: "",
        });
        const text = fs.readFileSync(path.join(f.dir, "Dockerfile"), "utf8");
        const same = built.get(text);
        const runs = same
          ? same.runs
          : await composeRepeatedly(path.join(f.dir, "compose.yaml"), N, { timing: TIMING });
        if (!same) built.set(text, { strategy: s, runs });
        record(s, runs, same ? `same file as ${same.strategy}` : "");
        expect(runs.map((r) => (r.code === 0 ? "ok" : tail(r.log, 80)))).toEqual(
          runs.map(() => "ok"),
        );
        for (const r of runs) {
          const e = executions(r);
          expect(e.apt).toBe(1);
          expect(e.cargoDone).toBe(SERVICES.length);
        }
      } finally {
        removeDir(f.dir);
      }
    }, 300000);
  }
});
