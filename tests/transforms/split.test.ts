/** split across Dockerfiles (compose services with their own files), and never a silent no-op. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { check, fix } from "../../src/index";

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-split-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const write = (rel: string, text: string) => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
};
const racing = async () =>
  (await check([root])).files.flatMap((f) =>
    f.races.filter((r) => r.safety !== "safe").map((r) => r.key),
  );

test("a race between two services' own Dockerfiles (same stage name) splits by service", async () => {
  write("compose.yaml", "services:\n  api: {build: ./a}\n  worker: {build: ./b}\n");
  for (const d of ["a", "b"])
    write(
      `${d}/Dockerfile`,
      `FROM rust:1.82 AS chef\nWORKDIR /app\nRUN --mount=type=cache,target=/app/target cargo build -p ${d}\n`,
    );
  expect(await racing()).toEqual(["//app/target", "//app/target"]);
  for (const strategy of ["auto", "split"] as const) {
    const res = await fix([root], { strategy });
    expect(res.files.map((f) => f.error)).toEqual([undefined, undefined]);
    expect(res.diff).toContain("id=/app/target-api");
    expect(res.diff).toContain("id=/app/target-worker");
    for (const f of res.files) fs.writeFileSync(f.path, f.after);
    expect(await racing()).toEqual([]);
    for (const d of ["a", "b"])
      write(
        `${d}/Dockerfile`,
        `FROM rust:1.82 AS chef\nWORKDIR /app\nRUN --mount=type=cache,target=/app/target cargo build -p ${d}\n`,
      );
  }
});

test("when nothing tells the uses apart, split locks instead and says so", async () => {
  // one RUN in two builds that set no distinguishing arg: no stage, file, platform or arg differs
  write(
    "compose.yaml",
    "services:\n  one: {build: .}\n  two: {build: {context: ., args: {X: '1'}}}\n",
  );
  write(
    "Dockerfile",
    "FROM rust:1.82\nARG X\nRUN --mount=type=cache,target=/app/target cargo build\n",
  );
  const res = await fix([root], { strategy: "split" });
  expect(res.files[0].error).toBeUndefined();
  expect(res.diff).toContain("sharing=locked");
  expect(res.files[0].notes.join("\n")).toMatch(/locked instead/);
});
