import * as fs from "fs";
import { runProbe, formatPairs } from "./probe";
test("dbg", () => {
  const text = fs.readFileSync(process.env.DF as string, "utf8");
  const r = runProbe(text, process.env.TARGET ? { target: process.env.TARGET } : {});
  fs.writeFileSync("/tmp/probe.log", r.log);
  fs.writeFileSync("/tmp/probe.Dockerfile", r.plan.dockerfile);
  console.log(r.code, r.ms, formatPairs(r.pairs), JSON.stringify(r.instances.map(i => [i.lines, i.saw.length])));
}, 120000);
