#!/usr/bin/env node
"use strict";
/**
 * Benchmark for issue 7: bulk runs over thousands of files, large files, cold start.
 *
 *   npm run bench                      # builds, then: node bench/run.js
 *   node bench/run.js --size tiny      # smoke test (seconds)
 *   node bench/run.js --keep           # keep the generated inputs (printed path)
 *
 * Generates its inputs deterministically (seeded PRNG) into a temp dir, runs the built CLI
 * (bin/buildrace.js over dist/) as whole processes, and prints ONE table. Every buildrace
 * figure is paired with a baseline measured in the same run, interleaved with it, so a busy
 * machine slows both. Exits 1 if a correctness check fails (fix --write left a race, or
 * changed a file that needed no fix) or a run crashed; missing a performance target is
 * reported, not fatal.
 */
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { genTree, genLarge, smallDockerfile } = require("./gen");
const { walk } = require("./walk");

const ROOT = path.resolve(__dirname, "..");
const NODE = process.execPath;
/** The CLI under test: a snapshot of bin/ and dist/ taken at start (see snapshotBuild). */
let BIN = path.join(ROOT, "bin", "buildrace.js");

/**
 * Copies bin/, dist/ and package.json into `tmp` (node_modules linked back), so every
 * figure of one run measures the same build even while someone rebuilds dist/.
 */
function snapshotBuild(tmp) {
  const snap = path.join(tmp, "buildrace");
  for (const d of ["bin", "dist"])
    fs.cpSync(path.join(ROOT, d), path.join(snap, d), { recursive: true });
  fs.copyFileSync(path.join(ROOT, "package.json"), path.join(snap, "package.json"));
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(snap, "node_modules"), "dir");
  return path.join(snap, "bin", "buildrace.js");
}

const SIZES = {
  full: {
    dockerfiles: 5000,
    bulkRuns: 3,
    /** Stop repeating the bulk pair (and cold start, below) once it took this long. */
    bulkBudgetMs: 60000,
    peerRuns: 1,
    large: { stages: 2000, cacheRuns: 5000 },
    largeRuns: 3,
    /** Stop repeating one size of the large file once its runs took this long. */
    largeBudgetMs: 10000,
    coldRuns: 15,
    coldBudgetMs: 20000,
  },
  tiny: {
    dockerfiles: 50,
    bulkRuns: 1,
    bulkBudgetMs: 0,
    peerRuns: 1,
    large: { stages: 20, cacheRuns: 50 },
    largeRuns: 1,
    largeBudgetMs: 0,
    coldRuns: 3,
    coldBudgetMs: 0,
  },
};

const TARGETS = {
  bulkFilesPerSec: 2000,
  bulkVsParse: 1.5,
  largeSeconds: 2,
  largeMB: 512,
  growthPerDoubling: 2.5,
  coldVsNode: 3,
};

function parseArgs(argv) {
  const o = { size: "full", seed: 7, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--size" || a.startsWith("--size=")) o.size = val();
    else if (a === "--seed" || a.startsWith("--seed=")) o.seed = Number(val());
    else if (a === "--keep") o.keep = true;
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!SIZES[o.size]) usage(`--size must be one of ${Object.keys(SIZES).join(", ")}`);
  if (!Number.isInteger(o.seed)) usage("--seed must be an integer");
  return o;
}

function usage(msg) {
  if (msg) process.stderr.write(`bench: ${msg}\n`);
  process.stderr.write("usage: node bench/run.js [--size full|tiny] [--seed N] [--keep]\n");
  process.exit(msg ? 2 : 0);
}

/**
 * Calls `fn(i)` `runs` times, or fewer: after the first `min` calls, it stops once `budgetMs`
 * have passed since the first began.
 */
function repeatWithin({ runs, budgetMs, min = 1 }, fn) {
  const start = Date.now();
  for (let i = 0; i < runs && (i < min || Date.now() - start < budgetMs); i++) fn(i);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const log = (s) => process.stderr.write(`bench: ${s}\n`);

/** Peak RSS: GNU time's %M if it works here, else a preload that reports getrusage on exit. */
const TIME_BIN = "/usr/bin/time";
const haveGnuTime =
  fs.existsSync(TIME_BIN) &&
  spawnSync(TIME_BIN, ["-f", "%M", "true"], { encoding: "utf8" }).status === 0;
const RSS_METHOD = haveGnuTime ? "/usr/bin/time %M" : "getrusage maxRSS (preload)";

/**
 * Runs `node <args>` as a whole process; returns wall ms, exit code, stderr, peak RSS (MB
 * when `rss`). stdout goes to `stdoutFile` (or is discarded).
 */
function run(nodeArgs, { cwd = ROOT, stdoutFile, rss = false, tmp, extraEnv = {} } = {}) {
  const out = stdoutFile ? fs.openSync(stdoutFile, "w") : "ignore";
  let cmd = NODE;
  let args = nodeArgs;
  let rssFile;
  const env = { ...process.env, NO_COLOR: "1", ...extraEnv };
  if (rss) {
    rssFile = path.join(tmp, `rss-${process.pid}-${Date.now()}.txt`);
    if (haveGnuTime) {
      cmd = TIME_BIN;
      args = ["-f", "%M", "-o", rssFile, NODE, ...nodeArgs];
    } else {
      args = ["-r", path.join(__dirname, "maxrss.js"), ...nodeArgs];
      env.BENCH_MAXRSS_FILE = rssFile;
    }
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    cwd,
    env,
    stdio: ["ignore", out, "pipe"],
    maxBuffer: 64 << 20,
    encoding: "utf8",
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (typeof out === "number") fs.closeSync(out);
  if (r.error) throw r.error;
  let rssMB;
  if (rssFile) {
    const lines = fs.readFileSync(rssFile, "utf8").trim().split("\n");
    rssMB = Number(lines[lines.length - 1]) / 1024;
    fs.rmSync(rssFile, { force: true });
  }
  return { ms, code: r.status, stderr: r.stderr, rssMB };
}

const buildrace = (args, opts) => run([BIN, ...args], opts);

// ---------------------------------------------------------------- formatting

const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
const fmtS = (ms) => (ms >= 10000 ? (ms / 1000).toFixed(1) : (ms / 1000).toFixed(2)) + " s";
const fmtMs = (ms) => `${Math.round(ms)} ms`;
const fmtX = (x) => `${x.toFixed(2)}x`;
const rate = (files, ms) => (files * 1000) / ms;

function table(rows) {
  const head = ["#", "case", "buildrace", "reference (same run)", "ratio", "target", "status"];
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => String(r[c]).length)));
  const line = (r) => `| ${r.map((x, c) => String(x).padEnd(w[c])).join(" | ")} |`;
  return [line(head), `|${w.map((n) => "-".repeat(n + 2)).join("|")}|`, ...rows.map(line)].join(
    "\n",
  );
}

// ---------------------------------------------------------------- JSON helpers

/** Races a fix must remove: not safe, not suppressed (as `check`'s exit code counts them). */
const needsFix = (f) => f.races.filter((r) => r.safety !== "safe" && !r.suppressed);

function readReport(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

/** How a rewrite changed the file's layout (BOM, CRLF vs LF, final newline), if it did. */
function layoutChange(before, after) {
  const bom = (t) => t.startsWith("\uFEFF");
  const crlf = (t) => /\r\n/.test(t);
  const bareLf = (t) => /(^|[^\r])\n/.test(t);
  const finalNl = (t) => t.endsWith("\n");
  if (bom(before) !== bom(after)) return "added or dropped the BOM";
  if (crlf(before) && !bareLf(before) && bareLf(after)) return "mixed LF into a CRLF file";
  if (!crlf(before) && crlf(after)) return "mixed CRLF into an LF file";
  if (finalNl(before) !== finalNl(after)) return "changed the final newline";
  return undefined;
}

function copyTree(src, dst) {
  fs.cpSync(src, dst, { recursive: true });
}

// ---------------------------------------------------------------- main

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const size = SIZES[opts.size];
  const started = Date.now();
  const load0 = os.loadavg()[0];
  if (!fs.existsSync(path.join(ROOT, "dist", "src", "cli", "main.js")))
    throw new Error("dist/ is missing: run `npx tsc -p .` (npm run bench builds first)");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-bench-"));
  BIN = snapshotBuild(tmp);
  const failures = [];
  const rows = [];
  const notes = [];
  try {
    // ---- inputs
    const tree = path.join(tmp, "tree");
    const counts = genTree(tree, { dockerfiles: size.dockerfiles, seed: opts.seed });
    log(
      `generated ${counts.dockerfiles} Dockerfiles + ${counts.compose} compose files (${(counts.bytes / 1e6).toFixed(1)} MB) in ${tree}`,
    );
    const files = counts.files;

    // ---- 1 bulk check vs parse-only baseline (interleaved), 5 peer
    const bulkMs = [];
    const oneThreadMs = [];
    const parseMs = [];
    const parseThreadsMs = [];
    const parseMemoMs = [];
    const cores =
      typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
    const peerMs = [];
    const bulkRss = [];
    const report = path.join(tmp, "check.json");
    repeatWithin({ runs: size.bulkRuns, budgetMs: size.bulkBudgetMs }, (i) => {
      // Only the first run's report is kept: it is the reference for the fix verification.
      const b = buildrace(["check", "--format", "json", "."], {
        cwd: tree,
        stdoutFile: i === 0 ? report : path.join(tmp, "check-again.json"),
        rss: true,
        tmp,
      });
      if (b.code !== 0 && b.code !== 1)
        failures.push(`bulk check exited ${b.code}: ${b.stderr.slice(0, 400)}`);
      bulkMs.push(b.ms);
      bulkRss.push(b.rssMB);
      const p = run([path.join(__dirname, "parse-only.js"), tree], { stdoutFile: null });
      if (p.code !== 0) failures.push(`parse-only baseline exited ${p.code}: ${p.stderr}`);
      parseMs.push(p.ms);
      // references: buildrace held to one thread, and the baseline on every core
      const b1 = buildrace(["check", "--format", "json", "."], {
        cwd: tree,
        extraEnv: { BUILDRACE_WORKERS: "0" },
      });
      if (b1.code !== 0 && b1.code !== 1)
        failures.push(`one-thread check exited ${b1.code}: ${b1.stderr.slice(0, 400)}`);
      oneThreadMs.push(b1.ms);
      const pt = run([path.join(__dirname, "parse-only.js"), tree, "--threads", String(cores)]);
      if (pt.code !== 0) failures.push(`threaded parse-only exited ${pt.code}: ${pt.stderr}`);
      parseThreadsMs.push(pt.ms);
      const memo = path.join(path.dirname(BIN), "..", "dist", "src", "parse", "ast-memo.js");
      const pm = run([path.join(__dirname, "parse-only.js"), tree, "--memo", memo]);
      if (pm.code !== 0) failures.push(`parse-only with the memo exited ${pm.code}: ${pm.stderr}`);
      parseMemoMs.push(pm.ms);
      if (i < size.peerRuns) {
        const q = run([path.join(__dirname, "peer-dockerfile-utils.js"), tree]);
        if (q.code !== 0) failures.push(`dockerfile-utils peer exited ${q.code}: ${q.stderr}`);
        peerMs.push(q.ms);
      }
      log(
        `bulk run ${i + 1}/${size.bulkRuns}: buildrace ${fmtS(b.ms)}, parse-only ${fmtS(parseMs[i])}`,
      );
    });
    const original = readReport(report);
    if (original.files.length !== files)
      failures.push(`bulk check reported ${original.files.length} files, generated ${files}`);
    const errorFiles = original.files.filter((f) => f.errors.some((e) => e.severity === "error"));
    if (errorFiles.length)
      failures.push(
        `${errorFiles.length} generated files were rejected, e.g. ${errorFiles[0].path}: ${errorFiles[0].errors[0].message}`,
      );
    const racing = new Set(original.files.filter((f) => needsFix(f).length).map((f) => f.path));
    const bulkRate = rate(files, median(bulkMs));
    const parseRate = rate(files, median(parseMs));
    const bulkRatio = median(bulkMs) / median(parseMs);
    const runsNote = (n) => (n > 1 ? `median of ${n}` : "1 run");
    rows.push([
      "1",
      `bulk check --format json, ${fmtInt(files)} files (${runsNote(bulkMs.length)})`,
      `${fmtInt(bulkRate)} files/s (${fmtS(median(bulkMs))}, ${fmtInt(median(bulkRss))} MB)`,
      `parse-only: ${fmtInt(parseRate)} files/s (${fmtS(median(parseMs))})`,
      `${fmtX(bulkRatio)} parse time`,
      `>= ${fmtInt(TARGETS.bulkFilesPerSec)} files/s; <= ${TARGETS.bulkVsParse}x`,
      [
        bulkRate >= TARGETS.bulkFilesPerSec ? "ok" : "MISS",
        bulkRatio <= TARGETS.bulkVsParse ? "ok" : "MISS",
      ].join(" / "),
    ]);

    const oneRate = rate(files, median(oneThreadMs));
    const threadsRate = rate(files, median(parseThreadsMs));
    rows.push([
      "1a",
      `bulk check as row 1, one thread (BUILDRACE_WORKERS=0)`,
      `${fmtInt(oneRate)} files/s (${fmtS(median(oneThreadMs))})`,
      `parse-only: ${fmtInt(parseRate)} files/s`,
      `${fmtX(median(oneThreadMs) / median(parseMs))} parse time; threads give ${fmtX(median(oneThreadMs) / median(bulkMs))}`,
      "(reference)",
      "",
    ]);
    rows.push([
      "1b",
      `parse-only on ${cores} threads: what this machine's cores give`,
      `${fmtInt(threadsRate)} files/s (${fmtS(median(parseThreadsMs))})`,
      `parse-only: ${fmtInt(parseRate)} files/s`,
      `${fmtX(median(parseMs) / median(parseThreadsMs))} speed-up on ${cores} threads`,
      "(reference)",
      "",
    ]);
    rows.push([
      "1c",
      `parse-only, one thread, with the dockerfile-ast memo buildrace applies (src/parse/ast-memo.ts)`,
      `${fmtInt(rate(files, median(parseMemoMs)))} files/s (${fmtS(median(parseMemoMs))})`,
      `parse-only: ${fmtInt(parseRate)} files/s`,
      `row 1 takes ${fmtX(median(bulkMs) / median(parseMemoMs))} this parse time`,
      "(reference)",
      "",
    ]);

    // ---- 1d a part of the tree, under the threshold for threads (src/run.ts
    // INPUTS_PER_WORKER): the default (one thread) against two worker threads
    const teams = fs
      .readdirSync(tree)
      .filter((d) => d.startsWith("team-"))
      .sort();
    const part = [];
    let partFiles = 0; // inputs (the team folders also hold READMEs)
    for (const t of teams) {
      if (partFiles >= files * 0.3) break;
      part.push(t);
      partFiles += walk(path.join(tree, t)).length;
    }
    const partDefaultMs = [];
    const partTwoMs = [];
    repeatWithin({ runs: size.bulkRuns, budgetMs: size.bulkBudgetMs / 3 }, () => {
      for (const [workers, into] of [
        ["", partDefaultMs],
        ["2", partTwoMs],
      ]) {
        const r = buildrace(["check", "--format", "json", ...part], {
          cwd: tree,
          extraEnv: { BUILDRACE_WORKERS: workers },
        });
        if (r.code !== 0 && r.code !== 1)
          failures.push(
            `check of ${part.length} teams exited ${r.code}: ${r.stderr.slice(0, 400)}`,
          );
        into.push(r.ms);
      }
    });
    rows.push([
      "1d",
      `bulk check of ${fmtInt(partFiles)} of the files (${runsNote(partDefaultMs.length)}): default, one thread under 5,000 inputs`,
      `${fmtInt(rate(partFiles, median(partDefaultMs)))} files/s (${fmtS(median(partDefaultMs))})`,
      `2 worker threads: ${fmtInt(rate(partFiles, median(partTwoMs)))} files/s (${fmtS(median(partTwoMs))})`,
      `threads would give ${fmtX(median(partDefaultMs) / median(partTwoMs))}`,
      "(reference)",
      "",
    ]);

    // ---- 2 fix --write on a copy, then verify the tree
    const fixed = path.join(tmp, "fixed");
    copyTree(tree, fixed);
    const fx = buildrace(["fix", "--write", "--quiet", "."], { cwd: fixed, rss: true, tmp });
    const fixErrors = fx.stderr.split("\n").filter((l) => /: error: /.test(l));
    if (fx.code !== 0 && fx.code !== 2)
      failures.push(`fix --write exited ${fx.code}: ${fx.stderr.slice(0, 400)}`);
    log(`fix --write: ${fmtS(fx.ms)}, exit ${fx.code}`);
    const recheckFile = path.join(tmp, "recheck.json");
    const rc = buildrace(["check", "--format", "json", "."], {
      cwd: fixed,
      stdoutFile: recheckFile,
    });
    const after = readReport(recheckFile);
    const stillRacing = after.files.filter((f) => needsFix(f).length);
    let identical = 0;
    let changedUnneeded = 0;
    let rewritten = 0;
    let layoutBroken = 0;
    for (const f of original.files) {
      const a = fs.readFileSync(path.join(tree, f.path));
      const b = fs.readFileSync(path.join(fixed, f.path));
      if (a.equals(b)) identical++;
      else if (racing.has(f.path)) {
        rewritten++;
        // A rewrite changes mount options only: the BOM and the line-ending style stay.
        const problem = layoutChange(a.toString("utf8"), b.toString("utf8"));
        if (problem && !layoutBroken++) failures.push(`fix --write ${problem} in ${f.path}`);
      } else {
        changedUnneeded++;
        if (changedUnneeded === 1)
          failures.push(`fix --write changed ${f.path}, which needed no fix`);
      }
    }
    if (stillRacing.length)
      failures.push(
        `${stillRacing.length} files still race after fix --write, e.g. ${stillRacing[0].path}: ${needsFix(stillRacing[0])[0].key}` +
          (fixErrors.length ? ` (fix said: ${fixErrors[0]})` : ""),
      );
    if (after.files.length !== files)
      failures.push(`re-check saw ${after.files.length} files, expected ${files}`);
    const verified =
      stillRacing.length === 0 && changedUnneeded === 0 && layoutBroken === 0 && rc.code !== 2;
    rows.push([
      "2",
      `fix --write, same ${fmtInt(files)} files (copy), then re-check`,
      `${fmtInt(rate(files, fx.ms))} files/s (${fmtS(fx.ms)}, ${fmtInt(fx.rssMB)} MB)`,
      `check: ${fmtInt(bulkRate)} files/s`,
      `${fmtX(fx.ms / median(bulkMs))} check time`,
      "no race left; others byte-identical",
      verified
        ? `ok: ${rewritten} rewritten, ${identical} identical, 0 racing`
        : `FAIL: ${stillRacing.length} racing, ${changedUnneeded} changed needlessly, ${layoutBroken} EOL/BOM changed`,
    ]);
    notes.push(
      `fix: ${racing.size} files needed a fix; ${rewritten} rewritten; ${fixErrors.length} refused by fix's own verification; re-check exit ${rc.code}.`,
    );

    // ---- 3 large file at half, full and double size
    const largeRes = [];
    let shape = "";
    for (const [label, factor] of [
      ["1/2", 0.5],
      ["1x", 1],
      ["2x", 2],
    ]) {
      const stages = Math.round(size.large.stages * factor);
      const cacheRuns = Math.round(size.large.cacheRuns * factor);
      const g = genLarge({ stages, cacheRuns, seed: opts.seed + 1 });
      if (factor === 1) shape = g.shape;
      const file = path.join(tmp, `large-${stages}.Dockerfile`);
      fs.writeFileSync(file, g.text);
      const out = path.join(tmp, `large-${stages}.json`);
      const ms = [];
      const rss = [];
      let spent = 0;
      for (let i = 0; i < size.largeRuns && (i === 0 || spent < size.largeBudgetMs); i++) {
        const r = buildrace(["check", "--format", "json", file], {
          stdoutFile: out,
          rss: true,
          tmp,
        });
        if (r.code !== 0 && r.code !== 1)
          failures.push(`large ${label} exited ${r.code}: ${r.stderr.slice(0, 400)}`);
        ms.push(r.ms);
        rss.push(r.rssMB);
        spent += r.ms;
      }
      const j = readReport(out).files[0];
      largeRes.push({
        label,
        stages,
        cacheRuns,
        ms: median(ms),
        rss: median(rss),
        runs: ms.length,
        pairs: j.parallel.length,
        races: j.races.length,
        seen: j.cacheRuns.length,
        bytes: g.text.length,
      });
      if (j.cacheRuns.length !== cacheRuns)
        failures.push(
          `large ${label}: ${j.cacheRuns.length} cache RUNs reported, ${cacheRuns} written`,
        );
      log(`large ${label}: ${fmtS(median(ms))}, ${fmtInt(median(rss))} MB`);
    }
    for (const l of largeRes) {
      const full = l.label === "1x";
      rows.push([
        "3",
        `large ${l.label}: ${fmtInt(l.stages)} stages, ${fmtInt(l.cacheRuns)} cache RUNs, ${fmtInt(l.pairs)} parallel pairs (${runsNote(l.runs)})`,
        `${fmtS(l.ms)}, ${fmtInt(l.rss)} MB peak RSS`,
        `${(l.bytes / 1e6).toFixed(2)} MB of text`,
        "",
        full ? `< ${TARGETS.largeSeconds} s; < ${TARGETS.largeMB} MB` : "",
        full
          ? [
              l.ms < TARGETS.largeSeconds * 1000 ? "ok" : "MISS",
              l.rss < TARGETS.largeMB ? "ok" : "MISS",
            ].join(" / ")
          : "",
      ]);
    }
    const tGrow = [largeRes[1].ms / largeRes[0].ms, largeRes[2].ms / largeRes[1].ms];
    const mGrow = [largeRes[1].rss / largeRes[0].rss, largeRes[2].rss / largeRes[1].rss];
    const worst = Math.max(...tGrow, ...mGrow);
    rows.push([
      "3",
      "large growth per doubling (1/2 -> 1x, 1x -> 2x)",
      `time ${tGrow.map(fmtX).join(", ")}; RSS ${mGrow.map(fmtX).join(", ")}`,
      "",
      "",
      `< ${TARGETS.growthPerDoubling}x`,
      worst < TARGETS.growthPerDoubling ? "ok" : "MISS",
    ]);
    notes.push(`large shape: ${shape}.`);

    // ---- 4 cold start vs node -e 0 (interleaved)
    const small = path.join(tmp, "small", "Dockerfile");
    fs.mkdirSync(path.dirname(small));
    fs.writeFileSync(small, smallDockerfile());
    const coldMs = [];
    const nodeMs = [];
    repeatWithin({ runs: size.coldRuns, budgetMs: size.coldBudgetMs, min: 3 }, () => {
      const c = buildrace(["check", small]);
      if (c.code !== 1)
        failures.push(`cold-start check exited ${c.code} (expected 1): ${c.stderr}`);
      coldMs.push(c.ms);
      nodeMs.push(run(["-e", "0"]).ms);
    });
    const coldRatio = median(coldMs) / median(nodeMs);
    rows.push([
      "4",
      `cold start: check of one small file (${runsNote(coldMs.length)})`,
      fmtMs(median(coldMs)),
      `node -e 0: ${fmtMs(median(nodeMs))}`,
      `${fmtX(coldRatio)} node`,
      `<= ${TARGETS.coldVsNode}x`,
      coldRatio <= TARGETS.coldVsNode ? "ok" : "MISS",
    ]);

    // ---- 5 peer row (measured with row 1)
    const peerRate = rate(files, median(peerMs));
    const perFile = median(bulkMs) / median(peerMs);
    rows.push([
      "5",
      `peer: dockerfile-utils validate(), same ${fmtInt(files)} files (${runsNote(peerMs.length)})`,
      `${fmtInt(bulkRate)} files/s (row 1)`,
      `dockerfile-utils: ${fmtInt(peerRate)} files/s (${fmtS(median(peerMs))})`,
      `${fmtX(perFile)} its time per file`,
      "buildrace faster (< 1x)",
      perFile < 1 ? "ok" : "MISS",
    ]);

    // ---- output
    const total = (Date.now() - started) / 1000;
    const load1 = os.loadavg()[0];
    const cpus = os.cpus().length;
    process.stdout.write(
      `\nbuildrace benchmark, size ${opts.size}, seed ${opts.seed}: node ${process.version}, ${cpus} CPUs, load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}\n\n`,
    );
    process.stdout.write(table(rows) + "\n\n");
    for (const n of [
      ...notes,
      `measured a snapshot of dist/ and bin/ taken at start; the fix verification compares against the first bulk run's JSON.`,
      `inputs: ${counts.dockerfiles} Dockerfiles + ${counts.compose} compose files, ${(counts.bytes / 1e6).toFixed(1)} MB; times are whole-process wall clock (node start included); peak RSS by ${RSS_METHOD}.`,
      `baseline: bench/parse-only.js reads every input and parses it (dockerfile-ast DockerfileParser.parse; yaml for compose) in one process.`,
      `total benchmark time ${total.toFixed(0)} s.`,
    ])
      process.stdout.write(`- ${n}\n`);
    if (failures.length) {
      process.stdout.write(`\nFAILED checks:\n${failures.map((f) => `- ${f}`).join("\n")}\n`);
      process.exitCode = 1;
    }
  } finally {
    if (opts.keep) log(`inputs kept in ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
