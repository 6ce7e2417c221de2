"use strict";
/**
 * Peer row: the same tree through dockerfile-utils' linter (`validate(content)`), in one
 * process: walk, read every input file, validate each Dockerfile (compose files are read
 * and parsed with `yaml`, as in the baseline, so both count the same files). Prints a JSON
 * summary.
 * Usage: node bench/peer-dockerfile-utils.js DIR
 */
const fs = require("fs");
const { validate } = require("dockerfile-utils");
const YAML = require("yaml");
const { walk } = require("./walk");

const files = walk(process.argv[2] || ".");
let problems = 0;
let documents = 0;
for (const f of files) {
  const text = fs.readFileSync(f.path, "utf8");
  if (f.kind === "dockerfile") problems += validate(text).length;
  else if (f.kind === "compose") documents += YAML.parseDocument(text).contents ? 1 : 0;
}
process.stdout.write(JSON.stringify({ files: files.length, problems, documents }) + "\n");
