/**
 * Odd inputs that are not (all) errors, and `--write` end to end: what BuildKit accepts is
 * analysed right (continuation at EOF, duplicate stage names, `COPY --from=<image>`, 50k
 * continued lines), permissions bite even when the tests run as root, and `fix --write`
 * keeps modes, refuses symlinks out of the tree and writes a file reached twice only once.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import {
  isRoot,
  makeTree,
  NOBODY,
  RACY,
  RACY_LOCKED,
  removeTree,
  runCli,
  RunOptions,
  stackTraceLines,
} from "./cli";

const trees: string[] = [];
const tree = (files: Parameters<typeof makeTree>[0]) => {
  const d = makeTree(files);
  trees.push(d);
  return d;
};
afterAll(() => trees.forEach(removeTree));

const json = (args: string[], cwd: string, opts?: RunOptions) => {
  const r = runCli(["check", ...args, "--format", "json"], cwd, opts);
  expect(stackTraceLines(r.stderr)).toEqual([]);
  return { status: r.status, report: JSON.parse(r.stdout), stderr: r.stderr };
};

describe("accepted by BuildKit, analysed correctly", () => {
  test("a continuation at end of file: the RUN is read to EOF, no error", () => {
    const d = tree({
      Dockerfile: RACY.trimEnd() + " \\",
    });
    const { status, report } = json(["."], d);
    const f = report.files[0];
    expect(f.errors).toEqual([]);
    expect(f.cacheRuns.map((c: { line: number }) => c.line)).toEqual([2, 4]);
    expect(status).toBe(1);
  });

  test("duplicate stage names: a warning; references resolve to the last one", () => {
    const d = tree({
      Dockerfile: [
        "FROM debian AS deps",
        "RUN --mount=type=cache,target=/var/cache/apt apt-get update",
        "FROM debian AS deps",
        "RUN --mount=type=cache,target=/var/cache/apt apt-get install -y git",
        "FROM debian AS other",
        "RUN --mount=type=cache,target=/var/cache/apt apt-get install -y curl",
        "FROM debian",
        "COPY --from=deps /a /a",
        "COPY --from=other /b /b",
        "",
      ].join("\n"),
    });
    const { status, report } = json(["."], d);
    const f = report.files[0];
    expect(f.errors).toEqual([
      {
        line: 3,
        severity: "warning",
        message: expect.stringMatching(/Duplicate stage name "deps"/),
      },
    ]);
    // the first `deps` (line 2) is not built: COPY --from=deps means the last one
    expect(f.parallel).toEqual([[4, 6]]);
    expect(status).toBe(1);
  });

  test("COPY --from / --mount from= a name that is no stage: an image, not an error", () => {
    const d = tree({
      Dockerfile: [
        "FROM alpine",
        "COPY --from=nginx:latest /etc/nginx /etc/nginx",
        "RUN --mount=type=cache,target=/c,from=busybox true",
        "",
      ].join("\n"),
    });
    const { status, report } = json(["."], d);
    expect(report.files[0].errors).toEqual([]);
    expect(status).toBe(0);
  });

  test("--target naming a missing stage: one error per file, exit 2", () => {
    const d = tree({ "a/Dockerfile": RACY, "b/Dockerfile": RACY });
    const r = runCli(["check", ".", "--target", "nope"], d);
    const lines = (r.stdout + r.stderr).split("\n").filter((l) => / error: /.test(l));
    expect(lines).toEqual([
      'a/Dockerfile:1: error: target stage "nope" could not be found',
      'b/Dockerfile:1: error: target stage "nope" could not be found',
    ]);
    expect(r.status).toBe(2);
  });

  test("50,000 continued lines: no stack overflow, nothing quadratic, the right result", () => {
    const body = Array.from({ length: 50_000 }, (_, i) => `    echo ${i} \\`).join("\n");
    const text = RACY.replace(
      "apt-get update && echo b",
      `apt-get update && \\\n${body}\n    echo b`,
    );
    const d = tree({ Dockerfile: text });
    const { status, report } = json(["."], d);
    const f = report.files[0];
    expect(f.errors).toEqual([]);
    expect(f.races).toHaveLength(1);
    expect(f.races[0].uses.map((u: { line: number }) => u.line)).toEqual([2, 4]);
    // the COPY lines after the chain keep their real line numbers
    expect(status).toBe(1);
    const w = runCli(["fix", "--write", "."], d);
    expect(w.status).toBe(0);
    const after = fs.readFileSync(path.join(d, "Dockerfile"), "utf8");
    expect(after).toBe(
      text.replace(/target=\/var\/cache\/apt /g, "target=/var/cache/apt,sharing=locked "),
    );
  });

  test("a 64 KiB line is accepted; 64 KiB + 1 byte is BuildKit's 'line greater than max'", () => {
    const pad = (n: number) => "RUN echo " + "x".repeat(n - "RUN echo ".length);
    const ok = tree({ Dockerfile: `FROM alpine\n${pad(65535)}\n` });
    expect(json(["."], ok).report.files[0].errors).toEqual([]);
    const bad = tree({ Dockerfile: `FROM alpine\n${pad(65536)}\n` });
    expect(json(["."], bad).report.files[0].errors).toEqual([
      expect.objectContaining({ line: 2, message: expect.stringMatching(/65536 bytes long/) }),
    ]);
  });
});

/**
 * Permission bits do not stop root (CAP_DAC_OVERRIDE), and CI runs these tests as root: there
 * the CLI runs as `nobody` (uid 65534) on a tree that user owns, so chmod 000 bites. When the
 * tests do not run as root, the CLI runs as the current user.
 */
describe("unreadable inputs", () => {
  const asUser = (): RunOptions | string => {
    if (!isRoot()) return {};
    const probe = spawnSync(process.execPath, ["-e", "0"], { ...NOBODY });
    return probe.status === 0 ? { user: NOBODY } : "cannot run a process as nobody here";
  };
  const setup = () => {
    const d = tree({
      "good/Dockerfile": RACY,
      "secret/Dockerfile": { text: RACY, mode: 0o000 },
      "locked-dir/Dockerfile": RACY,
    });
    if (isRoot()) spawnSync("chown", ["-R", `${NOBODY.uid}:${NOBODY.gid}`, d]);
    fs.chmodSync(path.join(d, "locked-dir"), 0o000);
    return d;
  };

  test("chmod 000 file and directory: one error each, the rest checked and fixed, exit 2", () => {
    const opts = asUser();
    if (typeof opts === "string") {
      console.warn(`skipped: ${opts}`);
      return;
    }
    const d = setup();
    const { status, report } = json(["."], d, opts);
    const errs = Object.fromEntries(
      report.files.map((f: { path: string; errors: { message: string }[] }) => [
        f.path,
        f.errors.map((e) => e.message),
      ]),
    );
    expect(errs["secret/Dockerfile"]).toEqual(["permission denied"]);
    expect(errs["locked-dir"]).toEqual(["permission denied"]);
    expect(errs["good/Dockerfile"]).toEqual([]);
    expect(status).toBe(2);

    const w = runCli(["fix", "--write", "."], d, opts);
    expect(stackTraceLines(w.stdout + w.stderr)).toEqual([]);
    expect(w.stderr).toMatch(/^secret\/Dockerfile: error: permission denied$/m);
    expect(w.stderr).toMatch(/^locked-dir: error: permission denied$/m);
    expect(w.status).toBe(2);
    expect(fs.readFileSync(path.join(d, "good/Dockerfile"), "utf8")).toBe(RACY_LOCKED);
    expect(fs.statSync(path.join(d, "secret/Dockerfile")).mode & 0o777).toBe(0);
    fs.chmodSync(path.join(d, "locked-dir"), 0o755);
    expect(fs.readFileSync(path.join(d, "secret/Dockerfile"), "utf8")).toBe(RACY);
    expect(fs.readFileSync(path.join(d, "locked-dir/Dockerfile"), "utf8")).toBe(RACY);
  });

  test("a read-only directory: the file in it cannot be replaced, reported, left as is", () => {
    const opts = asUser();
    if (typeof opts === "string" || (isRoot() && !("user" in opts))) {
      console.warn(`skipped: ${opts}`);
      return;
    }
    const d = tree({ "good/Dockerfile": RACY, "ro/Dockerfile": RACY });
    if (isRoot()) spawnSync("chown", ["-R", `${NOBODY.uid}:${NOBODY.gid}`, d]);
    fs.chmodSync(path.join(d, "ro"), 0o555);
    const w = runCli(["fix", "--write", "."], d, opts);
    expect(w.stderr).toMatch(/^ro\/Dockerfile: error: could not write: .*permission denied/im);
    expect(w.status).toBe(2);
    expect(fs.readFileSync(path.join(d, "ro/Dockerfile"), "utf8")).toBe(RACY);
    expect(fs.readFileSync(path.join(d, "good/Dockerfile"), "utf8")).toBe(RACY_LOCKED);
    expect(fs.readdirSync(path.join(d, "ro"))).toEqual(["Dockerfile"]);
  });
});

describe("fix --write end to end", () => {
  test("keeps each file's mode", () => {
    const d = tree({
      "a/Dockerfile": { text: RACY, mode: 0o755 },
      "b/Dockerfile": { text: RACY, mode: 0o600 },
    });
    expect(runCli(["fix", "--write", "."], d).status).toBe(0);
    expect(fs.statSync(path.join(d, "a/Dockerfile")).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(d, "b/Dockerfile")).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(d, "b/Dockerfile"), "utf8")).toBe(RACY_LOCKED);
  });

  test("refuses a Dockerfile reached through a symlink out of the tree; the rest is written", () => {
    const d = tree({
      "outside/Dockerfile": RACY,
      "repo/app/Dockerfile": RACY,
      "repo/linked/Dockerfile": { symlink: "../../outside/Dockerfile" },
      "repo/vendor": { symlink: "../outside" },
    });
    const r = runCli(["fix", "--write", "repo"], path.join(d));
    expect(stackTraceLines(r.stdout + r.stderr)).toEqual([]);
    const refused = r.stderr.split("\n").filter((l) => /symlink/.test(l));
    expect(refused).toEqual([
      expect.stringMatching(
        /^repo\/linked\/Dockerfile: error: resolves through a symlink to .*outside\/Dockerfile, outside repo: not written/,
      ),
    ]);
    expect(r.status).toBe(2);
    expect(fs.readFileSync(path.join(d, "outside/Dockerfile"), "utf8")).toBe(RACY);
    expect(fs.readFileSync(path.join(d, "repo/app/Dockerfile"), "utf8")).toBe(RACY_LOCKED);
  });

  test("a file reached twice (directly and through a symlinked directory) is written once", () => {
    const d = tree({ "real/Dockerfile": RACY, alias: { symlink: "real" } });
    const r = runCli(["fix", "--write", ".", "alias/Dockerfile"], d);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.stderr).toMatch(/1 file rewritten/);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(d, "real/Dockerfile"), "utf8")).toBe(RACY_LOCKED);
    expect(fs.lstatSync(path.join(d, "alias")).isSymbolicLink()).toBe(true);
  });

  test("a dangling or looping symlink not named like an input is ignored", () => {
    const d = tree({
      Dockerfile: RACY,
      "docs/README.md": { symlink: "../nowhere.md" },
      self: { symlink: "self" },
    });
    const r = runCli(["check", "."], d);
    expect(r.stdout + r.stderr).not.toMatch(/ error: /);
    expect(r.status).toBe(1);
  });
});
