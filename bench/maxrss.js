"use strict";
/**
 * Preloaded (`node -r bench/maxrss.js ...`) when GNU time is not installed: writes the
 * process's peak resident set size in KB (getrusage ru_maxrss) to $BENCH_MAXRSS_FILE on exit.
 */
const fs = require("fs");

process.on("exit", () => {
  const file = process.env.BENCH_MAXRSS_FILE;
  if (file) fs.writeFileSync(file, `${process.resourceUsage().maxRSS}\n`);
});
