/**
 * Progress counts input files over the whole run: a compose file and the Dockerfiles it
 * builds are done together, config groups follow one another, and fix's verification pass
 * does not restart the count.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { run } from "../../src/run";

const RACY = [
  "FROM debian AS a",
  "RUN --mount=type=cache,target=/var/cache/apt apt-get install -y curl",
  "FROM debian AS b",
  "RUN --mount=type=cache,target=/var/cache/apt apt-get install -y wget",
  "FROM debian",
  "COPY --from=a /x /a",
  "COPY --from=b /x /b",
  "",
].join("\n");

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-progress-"));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  // one compose file building three Dockerfiles, two plain Dockerfiles, and a second
  // config group (its own config file) of two Dockerfiles: 8 inputs
  write(
    "app/compose.yaml",
    ["services:", ...["a", "b", "c"].map((s) => `  ${s}:\n    build: ./${s}`), ""].join("\n"),
  );
  for (const s of ["a", "b", "c"]) write(`app/${s}/Dockerfile`, RACY);
  write("plain1/Dockerfile", RACY);
  write("plain2/Dockerfile", RACY);
  write("other/buildrace.config.json", '{ "strategy": "lock" }');
  write("other/x/Dockerfile", RACY);
  write("other/y/Dockerfile", RACY);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function progressOf(mode: "check" | "fix"): Promise<[number, number][]> {
  const calls: [number, number][] = [];
  const r = await run(
    [root],
    { workers: 0, env: {}, onProgress: (done, total) => calls.push([done, total]) },
    mode,
  );
  expect(r.files).toHaveLength(8);
  if (mode === "fix")
    expect(r.fixes?.filter((f) => f.after !== f.before && !f.error)).toHaveLength(7);
  return calls;
}

test.each(["check", "fix"] as const)("%s: files done, of every input in the run", async (mode) => {
  const calls = await progressOf(mode);
  expect(calls.length).toBeGreaterThan(3);
  expect(new Set(calls.map(([, total]) => total))).toEqual(new Set([8]));
  const done = calls.map(([d]) => d);
  expect(done).toEqual([...done].sort((a, b) => a - b)); // never goes back
  expect(done[0]).toBe(0);
  expect(done[done.length - 1]).toBe(8);
  // the compose file and its three Dockerfiles finish together
  const steps = done.slice(1).map((d, i) => d - done[i]);
  expect(steps).toContain(4);
  expect(steps.every((s) => s <= 4)).toBe(true);
});
