"use strict";
/**
 * The input files under a directory, by the same names buildrace looks for (README "Use"):
 * Dockerfile, *.Dockerfile, Dockerfile.*, Containerfile, compose*.y*ml, docker-compose*.y*ml,
 * docker-bake.hcl/json; skipping .git and node_modules. Used by the baseline and peer
 * scripts so they walk the same tree without loading buildrace.
 */
const fs = require("fs");
const path = require("path");

function kindOfName(name) {
  const n = name.toLowerCase();
  if (/^(docker-)?compose.*\.ya?ml$/.test(n)) return "compose";
  if (/^docker-bake(\..*)?\.(hcl|json)$/.test(n)) return "bake";
  if (
    n === "dockerfile" ||
    n === "containerfile" ||
    n.endsWith(".dockerfile") ||
    n.startsWith("dockerfile.")
  )
    return "dockerfile";
  return undefined;
}

function walk(dir, out = []) {
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== ".git" && e.name !== "node_modules") walk(p, out);
    } else if (e.isFile()) {
      const kind = kindOfName(e.name);
      if (kind) out.push({ path: p, kind });
    }
  }
  return out;
}

module.exports = { walk, kindOfName };
