import * as fs from "fs";
import { runProbe, formatPairs } from "./probe";
test("dbg", () => {
  const text = fs.readFileSync(process.env.DF as string, "utf8");
  const hyp = process.env.HYP ? JSON.parse(process.env.HYP) : undefined;
  const r = runProbe(text, {
    target: process.env.TARGET,
    hypothesis: hyp,
    exhaustive: !!process.env.EXH,
  });
  fs.writeFileSync("/tmp/probe.log", r.builds.map((b) => b.log).join("\n=====\n"));
  fs.writeFileSync("/tmp/probe.Dockerfile", r.plan.dockerfile);
  console.log(
    JSON.stringify(
      {
        code: r.code,
        ms: r.ms,
        model: formatPairs(r.plan.modelPairs),
        pairs: formatPairs(r.pairs),
        unconfirmed: formatPairs(r.unconfirmed),
        undecided: formatPairs(r.undecided),
        surprises: formatPairs(r.surprises),
        builds: r.builds.map((b) => [b.ms, formatPairs(b.waitPairs), formatPairs(b.pairs)]),
        missing: r.missing,
      },
      null,
      1,
    ),
  );
}, 300000);
