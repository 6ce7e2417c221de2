/**
 * fix with unresolved cache ids across compose services: a bare `ARG SERVICE` (its value may
 * come from the base image's ENV) makes `id=target-${SERVICE}` unresolved, so it may equal
 * another service's `target-notifier` and races under that key. The fix used to rewrite only
 * the uses of that one key: the unresolved mounts kept their id, the race remained and
 * verification refused both files (benchmark tree, seed 7: proj-102, proj-106, ...).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { check, fix } from "../../src/index";

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "buildrace-unresolved-"));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const write = (rel: string, text: string) => {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
};
const toFix = async () =>
  (await check([root])).files.flatMap((f) =>
    f.races.filter((r) => r.safety !== "safe" && !r.suppressed).map((r) => r.key),
  );

const API = [
  "FROM rust:1.81 AS planner",
  "WORKDIR /app",
  "ARG SERVICE=notifier",
  "RUN --mount=type=cache,target=/app/target,id=target-${SERVICE} \\",
  "    cargo build --release -p ${SERVICE}",
  "",
].join("\n");
const ADMIN = [
  "FROM rust:1.82-slim-bookworm AS builder",
  "WORKDIR /src",
  "ARG SERVICE",
  "RUN --mount=type=cache,target=/src/target,id=target-${SERVICE} \\",
  "    cargo build --release -p ${SERVICE}",
  "RUN --mount=type=cache,target=/src/target,id=target-${SERVICE} cargo fetch",
  "",
].join("\n");

test.each(["auto", "split", "lock"] as const)(
  "%s: a bare ARG in an id next to another service's resolved id is fixed and verified",
  async (strategy) => {
    write("compose.yaml", "services:\n  api: {build: ./api}\n  admin: {build: ./admin}\n");
    write("api/Dockerfile", API);
    write("admin/Dockerfile", ADMIN);
    expect(await toFix()).toEqual(["/target-notifier", "/target-notifier"]);
    const res = await fix([root], { strategy });
    expect(res.files.map((f) => [path.relative(root, f.path), f.error])).toEqual([
      ["api/Dockerfile", undefined],
      ["admin/Dockerfile", undefined],
    ]);
    if (strategy === "lock") {
      expect(res.files.every((f) => !/^\s*RUN .*sharing=locked/m.test(f.before))).toBe(true);
      for (const f of res.files)
        expect(f.after.match(/sharing=locked/g)?.length).toBe(f.before.match(/RUN/g)?.length);
    } else {
      // every use in admin gets the service's own id, whose tail cannot match api's
      expect(res.diff).toContain("id=target-${SERVICE}-api");
      expect(res.diff.match(/^\+RUN .*id=target-\$\{SERVICE\}-admin/gm)?.length).toBe(2);
    }
    for (const f of res.files) fs.writeFileSync(f.path, f.after);
    expect(await toFix()).toEqual([]);
  },
);

test("a mount that races under two keys gets one id that fits both (no overlapping edits)", async () => {
  // reports' chef mount (unresolved) may equal notifier's (also unresolved) and its own
  // builder's `target-gateway`: it is in two races, one with one stage of reports, one with
  // two; both must ask for the same new id.
  write(
    "compose.yaml",
    "services:\n  reports: {build: ./reports}\n  notifier: {build: ./notifier}\n",
  );
  write(
    "reports/Dockerfile",
    [
      "FROM rust:1.82-slim-bookworm AS chef",
      "ARG SERVICE",
      "RUN --mount=type=cache,target=/src/target,id=target-${SERVICE} cargo fetch",
      "FROM --platform=$BUILDPLATFORM rust:1.82-slim-bookworm AS builder",
      "ARG SERVICE=gateway",
      "RUN --mount=type=cache,id=target-${SERVICE},target=/usr/src/app/target cargo build",
      "FROM debian:bookworm-slim",
      "COPY --from=chef /a /a",
      "COPY --from=builder /b /b",
      "",
    ].join("\n"),
  );
  write(
    "notifier/Dockerfile",
    [
      "FROM rust:1.82-slim-bookworm AS builder",
      "ARG SERVICE",
      "RUN --mount=type=cache,target=/usr/src/app/target,id=target-${SERVICE} cargo build",
      "",
    ].join("\n"),
  );
  expect((await toFix()).length).toBeGreaterThan(0);
  for (const strategy of ["auto", "split"] as const) {
    const res = await fix([root], { strategy });
    expect(res.files.map((f) => f.error)).toEqual([undefined, undefined]);
    expect(res.diff).toContain("id=target-${SERVICE}-reports-chef");
    expect(res.diff).toContain("id=target-${SERVICE}-reports-builder");
    expect(res.diff).toContain("id=target-${SERVICE}-notifier");
  }
  for (const f of (await fix([root], { strategy: "auto" })).files)
    fs.writeFileSync(f.path, f.after);
  expect(await toFix()).toEqual([]);
});
