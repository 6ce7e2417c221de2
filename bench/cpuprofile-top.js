"use strict";
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function, and total
 * (inclusive) time of the functions that matter, as a plain table.
 * Usage: node bench/cpuprofile-top.js FILE.cpuprofile [N]
 */
const fs = require("fs");
const path = require("path");

const file = process.argv[2];
const top = Number(process.argv[3] || 25);
if (!file) {
  process.stderr.write("usage: node bench/cpuprofile-top.js FILE.cpuprofile [N]\n");
  process.exit(2);
}
const prof = JSON.parse(fs.readFileSync(file, "utf8"));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);

// Self time per node from the sample timeline.
const self = new Map();
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i + 1] ?? 0;
  self.set(prof.samples[i], (self.get(prof.samples[i]) || 0) + dt);
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

const label = (n) => {
  const cf = n.callFrame;
  const where = cf.url
    ? `${path.basename(cf.url.replace(/^file:\/\//, ""))}:${cf.lineNumber + 1}`
    : "";
  return `${cf.functionName || "(anonymous)"} ${where}`.trim();
};
const dirOf = (n) => {
  const u = n.callFrame.url.replace(/^file:\/\//, "");
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1];
  const d = /dist\/(src\/[^/]+|transforms)\//.exec(u);
  if (d) return d[1];
  return u
    ? u.startsWith("node:")
      ? "node internals"
      : path.basename(u)
    : n.callFrame.functionName;
};

const selfBy = new Map();
const inclBy = new Map();
const moduleBy = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  selfBy.set(label(n), (selfBy.get(label(n)) || 0) + t);
  moduleBy.set(dirOf(n), (moduleBy.get(dirOf(n)) || 0) + t);
  // Inclusive: charge every distinct function on the stack once.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    inclBy.set(l, (inclBy.get(l) || 0) + t);
  }
}
const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
const ms = (t) => `${(t / 1000).toFixed(0).padStart(7)} ms`;
const show = (title, m, n) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n))
    process.stdout.write(`${ms(t)} ${pct(t)}  ${k}\n`);
};
process.stdout.write(`profile ${path.basename(file)}: ${(total / 1000).toFixed(0)} ms sampled\n`);
show("self time by module", moduleBy, 15);
show("self time by function", selfBy, top);
show("inclusive time by function", inclBy, top);
