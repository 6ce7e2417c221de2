/**
 * Invalid mounts: BuildKit validates mount options only when it dispatches the stage, so
 * they are errors (with the RUN's line) in stages that are built and warnings in stages
 * that are not (SPEC §2 "Parsing", BUILDKIT.md §1 "When errors fire").
 */
import { analyzeText, df, errorsOf } from "../helpers/analyze";

/** Same bad mount in an unbuilt stage (line 2) and in the built target (line 4). */
function twoStages(mount: string, before = ""): string {
  const lines = [
    "FROM alpine AS unused",
    `RUN --mount=${mount} echo unused`,
    "FROM alpine AS final",
    `RUN --mount=${mount} echo final`,
  ];
  return (before ? before + "\n" : "") + df(...lines);
}

const cases: [string, string, RegExp][] = [
  ["unknown key", "type=cache,target=/x,foo=bar", /unexpected key 'foo'/],
  [
    "bad sharing value",
    "type=cache,target=/x,sharing=exclusive",
    /unsupported sharing value "exclusive"/,
  ],
  ["mode=0o755 is not octal", "type=cache,target=/x,mode=0o755", /mode/],
  ["mode=9 is not octal", "type=cache,target=/x,mode=9", /mode/],
  [
    "size before type=tmpfs",
    "size=1g,type=tmpfs,target=/t",
    /unexpected key 'size' for mount type 'bind'/,
  ],
  [
    "required on a bind mount",
    "type=bind,target=/t,required",
    /unexpected key 'required' for mount type 'bind'/,
  ],
  [
    "required=true on a bind mount",
    "type=bind,target=/t,required=true",
    /unexpected key 'required' for mount type 'bind'/,
  ],
  [
    "required before type=secret",
    "required,type=secret,id=tok",
    /unexpected key 'required' for mount type 'bind'/,
  ],
  ["unsupported type", "type=volume,target=/x", /unsupported mount type "volume"/],
  ["empty field", "type=cache,,target=/x", /invalid field '' must be a key=value pair/],
  [
    "sharing on a bind mount",
    "type=bind,target=/x,sharing=locked",
    /invalid cache sharing set for bind mount/,
  ],
  ["uid on a bind mount", "type=bind,target=/x,uid=1", /uid not allowed for "bind"/],
  ["mode on a tmpfs mount", "type=tmpfs,target=/x,mode=0700", /mode not allowed for "tmpfs"/],
  ["uid that is not decimal", "type=cache,target=/x,uid=0x10", /uid/],
  ["ro with a bad boolean", "type=cache,target=/x,ro=yes", /invalid value for ro: yes/],
  [
    "required with a bad boolean",
    "type=secret,id=tok,required=yes",
    /invalid value for required: yes/,
  ],
  ["size that is not a size", "type=tmpfs,target=/t,size=lots", /invalid value for size: lots/],
  ["a secret with from", "type=secret,id=tok,from=alpine", /secret mount should not have a from/],
  ["a secret with sharing", "type=secret,id=tok,sharing=locked", /sharing/],
  ["a secret with neither source, target nor id", "type=secret,env=TOKEN", /invalid secret mount/],
  [
    "a secret with both source and id",
    "type=secret,id=tok,source=/run/tok",
    /both source and id can't be set/,
  ],
];

describe.each(cases)("%s", (_name, mount, message) => {
  test("error in the built stage, warning in the unbuilt one", async () => {
    const f = await analyzeText(twoStages(mount));
    const errors = errorsOf(f);
    const warnings = errorsOf(f, "warning");
    expect(errors.map((e) => e.line)).toEqual([4]);
    expect(errors[0].message).toMatch(message);
    expect(warnings.map((e) => e.line)).toEqual([2]);
    expect(warnings[0].message).toMatch(message);
  });
});

describe("expansion errors in mount values", () => {
  test("${V:?message} with V unset fails where the stage is built", async () => {
    // scratch stages: CID cannot come from a base image's ENV, so it is surely unset
    const f = await analyzeText(
      twoStages("type=cache,target=/x,id=${CID:?required}").replace(/FROM alpine/g, "FROM scratch"),
    );
    expect(errorsOf(f).map((e) => e.line)).toEqual([4]);
    expect(errorsOf(f)[0].message).toMatch(/CID: required/);
    expect(errorsOf(f, "warning").map((e) => e.line)).toEqual([2]);
  });

  test("${V:?message} with V set is fine", async () => {
    const f = await analyzeText(
      df("FROM alpine", "ARG CID=x", "RUN --mount=type=cache,target=/x,id=${CID:?required} true"),
    );
    expect(f.errors).toEqual([]);
    expect(f.cacheRuns[0].mounts[0].key).toBe("/x");
  });
});

describe("valid counterparts are not reported", () => {
  test.each([
    "type=tmpfs,size=1g,target=/t",
    "type=cache,target=/x,mode=0755",
    "type=cache,target=/x,mode=755",
    "type=cache,target=/x,sharing=LOCKED",
    "type=secret,id=tok,required",
    "type=ssh,required=false",
    "type=cache,target=/x,uid=1000,gid=1000",
    "TYPE=cache,TARGET=/x,Mode=0700",
  ])("%s", async (mount) => {
    const f = await analyzeText(twoStages(mount));
    expect(f.errors).toEqual([]);
  });

  test("mode/uid/gid check order does not matter", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=mode=0700,uid=1,type=cache,target=/x true"),
    );
    expect(f.errors).toEqual([]);
    expect(f.cacheRuns).toHaveLength(1);
  });
});

describe("cache mount without a target", () => {
  test('under WORKDIR / it is invalid mount target "/"', async () => {
    const f = await analyzeText(twoStages("type=cache,id=foo"));
    const errors = errorsOf(f);
    expect(errors.map((e) => e.line)).toEqual([4]);
    expect(errors[0].message).toMatch(/invalid mount target "\/"/);
    expect(errorsOf(f, "warning").map((e) => e.line)).toEqual([2]);
  });

  test("an explicit target=/ is just as invalid", async () => {
    const f = await analyzeText(df("FROM alpine", "RUN --mount=type=cache,target=/ true"));
    expect(errorsOf(f).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(f)[0].message).toMatch(/invalid mount target "\/"/);
  });

  test('under another WORKDIR it mounts there and its default id is path.Clean("") = "."', async () => {
    const f = await analyzeText(df("FROM alpine", "WORKDIR /app", "RUN --mount=type=cache true"));
    expect(f.errors).toEqual([]);
    expect(f.cacheRuns).toHaveLength(1);
    expect(f.cacheRuns[0].mounts[0].key).toBe("/.");
  });
});

describe("error lines", () => {
  test("the line is where the RUN starts, even when the bad field is on a continuation line", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "# c",
        "RUN \\",
        "  --mount=type=cache,target=/x,\\",
        "sharing=bogus \\",
        "  true",
      ),
    );
    expect(errorsOf(f).map((e) => e.line)).toEqual([3]);
  });

  test("a stage that is built only as a dependency reports errors too", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS dep",
        "RUN --mount=type=cache,target=/x,sharing=nope true",
        "FROM alpine",
        "COPY --from=dep /a /a",
      ),
    );
    expect(errorsOf(f).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(f, "warning")).toEqual([]);
  });

  test("with --target choosing the other stage, severities swap", async () => {
    const f = await analyzeText(twoStages("type=cache,target=/x,foo=bar"), { target: "unused" });
    expect(errorsOf(f).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(f, "warning").map((e) => e.line)).toEqual([4]);
  });
});

describe("ONBUILD triggers", () => {
  // BuildKit keeps a trigger as text and parses it when a child stage runs it (checked on the
  // engine: the first file builds, the second fails with 'unsupported sharing value "bad"')
  const base = [
    "FROM alpine AS base",
    "ONBUILD RUN --mount=type=cache,target=/x,sharing=bad echo",
    "ONBUILD RUN --nope=1 echo",
  ];

  test("a bad trigger on a base no stage builds on reports nothing", async () => {
    const f = await analyzeText(df(...base, "FROM alpine", "RUN echo"));
    expect(f.errors).toEqual([]);
  });

  test("a built child that runs it fails on the trigger's line", async () => {
    const f = await analyzeText(df(...base, "FROM base", "RUN echo"));
    expect(errorsOf(f).map((e) => [e.line, e.message])).toEqual([
      [2, 'invalid --mount: unsupported sharing value "bad"'],
      [3, "unknown flag: --nope"],
    ]);
  });

  test("a child that is not built makes them warnings", async () => {
    const f = await analyzeText(df(...base, "FROM base AS unused", "FROM alpine", "RUN echo"));
    expect(errorsOf(f)).toEqual([]);
    expect(errorsOf(f, "warning").map((e) => e.line)).toEqual([2, 3]);
  });

  test("ONBUILD's own errors still fail the file", async () => {
    const f = await analyzeText(df("FROM alpine AS base", "ONBUILD FROM x", "FROM alpine"));
    expect(errorsOf(f).map((e) => e.message)).toEqual(["FROM isn't allowed as an ONBUILD trigger"]);
  });
});
