"use strict";
/**
 * Baseline for the bulk row: walk the tree, read every input file and parse it, in one
 * process, doing nothing else. Dockerfiles go through dockerfile-ast's
 * DockerfileParser.parse (the parser buildrace itself uses); compose files through the
 * `yaml` package (the one buildrace's compose loader uses). Prints a JSON summary.
 * Usage: node bench/parse-only.js DIR
 */
const fs = require("fs");
const { DockerfileParser } = require("dockerfile-ast");
const YAML = require("yaml");
const { walk } = require("./walk");

const files = walk(process.argv[2] || ".");
let instructions = 0;
let documents = 0;
for (const f of files) {
  const text = fs.readFileSync(f.path, "utf8");
  if (f.kind === "dockerfile")
    instructions += DockerfileParser.parse(text).getInstructions().length;
  else if (f.kind === "compose") documents += YAML.parseDocument(text).contents ? 1 : 0;
}
process.stdout.write(JSON.stringify({ files: files.length, instructions, documents }) + "\n");
