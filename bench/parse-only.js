"use strict";
/**
 * Baseline for the bulk row: walk the tree, read every input file and parse it, in one
 * process, doing nothing else. Dockerfiles go through dockerfile-ast's
 * DockerfileParser.parse (the parser buildrace itself uses); compose files through the
 * `yaml` package (the one buildrace's compose loader uses). Prints a JSON summary.
 *
 * With `--threads N` the files are shared out (every Nth file) to N worker threads: the same
 * work on N cores, which shows what this machine's cores give to a JavaScript workload.
 *
 * With `--memo FILE` (buildrace's dist/src/parse/ast-memo.js) dockerfile-ast first gets the
 * memo buildrace puts on it: what the same parse costs inside buildrace.
 *
 * Usage: node bench/parse-only.js DIR [--threads N] [--memo FILE]
 */
const fs = require("fs");
const path = require("path");
const { Worker, isMainThread, parentPort, workerData } = require("worker_threads");

function parseAll(files) {
  const { DockerfileParser } = require("dockerfile-ast");
  const YAML = require("yaml");
  let instructions = 0;
  let documents = 0;
  for (const f of files) {
    const text = fs.readFileSync(f.path, "utf8");
    if (f.kind === "dockerfile")
      instructions += DockerfileParser.parse(text).getInstructions().length;
    else if (f.kind === "compose") documents += YAML.parseDocument(text).contents ? 1 : 0;
  }
  return { instructions, documents };
}

if (!isMainThread) {
  parentPort.postMessage(parseAll(workerData));
} else {
  const { walk } = require("./walk");
  const args = process.argv.slice(2);
  const t = args.indexOf("--threads");
  const threads = t >= 0 ? Math.max(1, Number(args[t + 1]) || 1) : 0;
  const m = args.indexOf("--memo");
  if (m >= 0 && !require(path.resolve(args[m + 1])).applyAstMemo())
    throw new Error("the dockerfile-ast memo did not apply");
  const value = (i) => (t >= 0 && i === t + 1) || (m >= 0 && i === m + 1);
  const dir = args.find((a, i) => !a.startsWith("--") && !value(i)) || ".";
  const files = walk(dir);
  const print = (r) =>
    process.stdout.write(JSON.stringify({ files: files.length, threads, ...r }) + "\n");
  if (!threads) print(parseAll(files));
  else {
    const parts = Array.from({ length: threads }, (_, k) =>
      files.filter((_, i) => i % threads === k),
    );
    Promise.all(
      parts.map(
        (part) =>
          new Promise((resolve, reject) =>
            new Worker(__filename, { workerData: part })
              .once("message", resolve)
              .once("error", reject),
          ),
      ),
    ).then((rs) =>
      print({
        instructions: rs.reduce((n, r) => n + r.instructions, 0),
        documents: rs.reduce((n, r) => n + r.documents, 0),
      }),
    );
  }
}
