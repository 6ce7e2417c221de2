import * as fs from "fs";
import * as path from "path";
import { runProbeFile, formatPairs } from "./probe";
const files = (process.env.FILES || "").split(" ").filter(Boolean);
test.each(files)(
  "%s",
  (f) => {
    const r = runProbeFile(f);
    console.log(
      `${f}: code=${r.code} ${r.ms}ms builds=${r.builds.map((b) => b.kind + ":" + b.ms).join(",")} model=[${formatPairs(r.plan.modelPairs)}] pairs=[${formatPairs(r.pairs)}] unconfirmed=[${formatPairs(r.unconfirmed)}] undecided=[${formatPairs(r.undecided)}] missing=${r.missing}` +
        (r.code
          ? "\n" +
            r.log
              .split("\n")
              .filter((l) => /ERROR|error|failed/i.test(l))
              .slice(0, 5)
              .join("\n")
          : ""),
    );
    fs.writeFileSync(
      "/tmp/probe-" + path.basename(path.dirname(f)) + "-" + path.basename(f) + ".Dockerfile",
      r.plan.dockerfile,
    );
  },
  300000,
);
