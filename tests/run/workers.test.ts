/**
 * Bulk runs in chunks (worker threads, or this thread one chunk at a time) give byte for
 * byte the output of one pass: JSON, text (quiet, verbose, colour), and fixes, on a tree
 * where compose files share Dockerfiles, a plain Dockerfile is also built by a compose file,
 * a config file splits the inputs into two groups (one ignoring a file), and some inputs are
 * broken. Runs the compiled code (worker threads load dist/) in a child process.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ensureBuilt, ROOT } from "../cli/run";

let dir: string;

const racy = (tool: string, n: number) =>
  [
    "# syntax=docker/dockerfile:1",
    `FROM rust:1.82 AS a${n}`,
    `RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build -p a${n}`,
    `FROM rust:1.82 AS b${n}`,
    `RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build -p b${n}`,
    `FROM node:20 AS c${n}`,
    `RUN --mount=type=cache,target=/root/.npm,id=${tool} npm ci`,
    `FROM node:20 AS d${n}`,
    `RUN --mount=type=cache,target=/root/.npm,id=${tool} npm ci # ${n}`,
    "FROM debian:bookworm-slim",
    `COPY --from=a${n} /o /a`,
    `COPY --from=b${n} /o /b`,
    `COPY --from=c${n} /o /c`,
    `COPY --from=d${n} /o /d`,
    "",
  ].join("\n");

const compose = (services: [string, string][]) =>
  [
    "services:",
    ...services.flatMap(([name, df]) => [
      `  ${name}:`,
      "    build:",
      "      context: .",
      `      dockerfile: ${df}`,
    ]),
  ].join("\n") + "\n";

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-workers-"));
  const put = (rel: string, text: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };
  for (let i = 0; i < 40; i++)
    put(`svc-${String(i).padStart(2, "0")}/Dockerfile`, racy(i % 3 ? "npm" : "npm-x", i));
  // compose projects: a Dockerfile built by two services, and by two compose files (proj-a
  // and proj-bb next to each other; proj-a and proj-c0 around others)
  put("proj-a/Dockerfile", racy("npm", 100));
  put("proj-a/other.Dockerfile", racy("npm", 101));
  put(
    "proj-a/compose.yml",
    compose([
      ["api", "Dockerfile"],
      ["worker", "Dockerfile"],
      ["web", "other.Dockerfile"],
    ]),
  );
  put("proj-b/compose.yml", compose([["own", "Dockerfile"]]));
  put("proj-bb/compose.yml", compose([["shared", "../proj-a/other.Dockerfile"]]));
  put("proj-b/Dockerfile", racy("npm", 102));
  for (let i = 0; i < 12; i++) {
    put(`proj-c${i}/Dockerfile`, racy("npm", 200 + i));
    // proj-c0 also builds proj-a's Dockerfile: one group spans proj-a .. proj-c0, around proj-b
    const services: [string, string][] = [
      ["one", "Dockerfile"],
      ["two", "Dockerfile"],
    ];
    if (i === 0) services.push(["a", "../proj-a/Dockerfile"]);
    put(`proj-c${i}/compose.yml`, compose(services));
  }
  // a config group of its own, with an ignored file and a safe cache
  put(
    "team/buildrace.config.json",
    JSON.stringify({ ignore: ["skip/**"], caches: { safe: ["/root/.npm"] } }),
  );
  for (let i = 0; i < 20; i++) put(`team/s${i}/Dockerfile`, racy("npm", 300 + i));
  put("team/skip/Dockerfile", racy("npm", 399));
  // broken inputs
  put("broken/Dockerfile", Buffer.from([0x46, 0x52, 0x4f, 0x4d, 0x00, 0x01]));
  put("broken2/Dockerfile", "FROM alpine\nRUN --mount=type=cache,target=/x,sharing=bad echo\n");
  put("broken3/compose.yml", "services: [not: a: map\n");
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** In a child process: one pass rendered as the CLI does, vs `run` with output in chunks. */
const SCRIPT = `
const D = ${JSON.stringify(path.join(ROOT, "dist", "src"))} + "/";
const { run } = require(D + "run");
const { toJson } = require(D + "report/json");
const { toText } = require(D + "report/text");
(async () => {
  const paths = [".", "no-such-dir"];
  const base = { env: {}, buildArgs: {} };
  const out = [];
  const one = await run(paths, { ...base, workers: 0 }, "check");
  const want = {
    json: JSON.stringify(toJson(one), null, 2) + "\\n",
    text: toText(one, { color: false, elapsedMs: 5 }),
    quiet: toText(one, { color: false, quiet: true, elapsedMs: 5 }),
    verbose: toText(one, { color: true, verbose: true, elapsedMs: 5 }),
  };
  const outputs = {
    json: { format: "json" },
    text: { format: "text", color: false },
    quiet: { format: "text", color: false, quiet: true },
    verbose: { format: "text", color: true, verbose: true },
  };
  for (const workers of [1, 2, 3]) {
    for (const [k, output] of Object.entries(outputs)) {
      const r = await run(paths, { ...base, workers, output }, "check");
      out.push({ what: k + "/" + workers, same: r.rendered.render(5) === want[k], files: r.files.length === one.files.length, ignored: JSON.stringify(r.ignored) === JSON.stringify(one.ignored) });
    }
    const f1 = await run(paths, { ...base, workers: 0 }, "fix");
    const f2 = await run(paths, { ...base, workers, output: { format: "fix" } }, "fix");
    const ser = (r) => JSON.stringify({ fixes: r.fixes, files: r.files.map((f) => [f.path, f.kind, f.builds, f.diagnostics]), ignored: r.ignored });
    out.push({ what: "fix/" + workers, same: ser(f1) === ser(f2), files: true, ignored: true });
  }
  out.push({ what: "exit", same: (await run(paths, { ...base, workers: 2, output: { format: "json" } }, "check")).rendered.exit === 2, files: true, ignored: true });
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });
`;

test("chunked and threaded runs render exactly what one pass renders", () => {
  const r = spawnSync(process.execPath, ["-e", SCRIPT], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, BUILDRACE_WORKERS: "" },
    timeout: 120000,
  });
  expect(r.stderr).toBe("");
  const results = JSON.parse(r.stdout) as { what: string; same: boolean; files: boolean }[];
  expect(results.filter((x) => !x.same || !x.files)).toEqual([]);
  expect(results.length).toBe(16);
});

test("the CLI gives a bulk run the output of one pass, on threads or not", () => {
  // 240 inputs (over WORKER_MIN_INPUTS): the CLI chunks them; below it, one pass
  const big = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-cli-bulk-"));
  try {
    for (let i = 0; i < 240; i++) {
      const rel = path.join(big, `s${String(i).padStart(3, "0")}`, "Dockerfile");
      fs.mkdirSync(path.dirname(rel), { recursive: true });
      fs.writeFileSync(rel, racy(i % 2 ? "npm" : "npm-y", i));
    }
    fs.writeFileSync(path.join(big, "s007", "Dockerfile"), "FROM a\nRUN --mount=type=bad x\n");
    const cli = (workers: string, ...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, "bin", "buildrace.js"), ...args, "."], {
        cwd: big,
        encoding: "utf8",
        env: { ...process.env, BUILDRACE_WORKERS: workers, NO_COLOR: "1" },
        timeout: 120000,
      });
    const onePass = spawnSync(
      process.execPath,
      [
        "-e",
        `const D = ${JSON.stringify(path.join(ROOT, "dist", "src"))} + "/";
         require(D + "run").run(["."], { env: {}, buildArgs: {}, workers: 0 }, "check")
           .then((r) => process.stdout.write(JSON.stringify(require(D + "report/json").toJson(r), null, 2) + "\\n"));`,
      ],
      { cwd: big, encoding: "utf8" },
    ).stdout;
    const threads = cli("2", "check", "--format", "json");
    expect(threads.status).toBe(2); // the broken file
    expect(threads.stdout).toBe(onePass);
    expect(JSON.parse(threads.stdout).files).toHaveLength(240);
    const local = cli("0", "check", "--format", "json");
    expect(local.stdout).toBe(onePass);
    const strip = (s: string) => s.replace(/ \(\d+\.\d\ds\)\n$/, "\n");
    const text2 = cli("2", "check");
    expect(strip(text2.stdout)).toBe(strip(cli("0", "check").stdout));
    expect(text2.stdout).toMatch(
      /^240 files, 239 races to fix, 239 safe shared caches, 1 error \(/m,
    );
    const fix2 = cli("2", "fix");
    const fix0 = cli("0", "fix");
    expect(fix2.status).toBe(2);
    expect(fix2.stdout).toBe(fix0.stdout);
    expect(fix2.stdout.match(/^diff --git /gm)).toHaveLength(239);
  } finally {
    fs.rmSync(big, { recursive: true, force: true });
  }
});

test("a broken config file met late in a bulk walk stops the run cleanly, threads started", () => {
  const big = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-cli-badcfg-"));
  try {
    for (let i = 0; i < 230; i++) {
      const d = path.join(big, `s${String(i).padStart(3, "0")}`);
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, "Dockerfile"), racy("npm", i));
      if (i % 20 === 0)
        fs.writeFileSync(path.join(d, "compose.yml"), compose([["a", "Dockerfile"]]));
    }
    // found after 200 inputs: the worker threads have started and compose loads are under way
    fs.mkdirSync(path.join(big, "zz"));
    fs.writeFileSync(path.join(big, "zz", "buildrace.config.json"), '{ "ignore": [');
    fs.writeFileSync(path.join(big, "zz", "Dockerfile"), racy("npm", 999));
    for (const workers of ["2", ""]) {
      const r = spawnSync(
        process.execPath,
        [path.join(ROOT, "bin", "buildrace.js"), "check", "--format", "json", "."],
        {
          cwd: big,
          encoding: "utf8",
          env: { ...process.env, BUILDRACE_WORKERS: workers },
          timeout: 60000,
        },
      );
      expect(r.signal).toBeNull(); // no hang on live threads
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/zz[/\\]buildrace\.config\.json: Unexpected end of JSON input/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  } finally {
    fs.rmSync(big, { recursive: true, force: true });
  }
});
