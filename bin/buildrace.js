#!/usr/bin/env node
"use strict";
require("../dist/src/cli/main.js")
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(
        `buildrace: internal error: ${err && err.message ? err.message : err}\n`,
      );
      if (process.argv.includes("--debug") && err && err.stack)
        process.stderr.write(err.stack + "\n");
      process.exitCode = 2;
    },
  );
