/**
 * Parse stage: the `--mount` grammar (flag-word quote removal, single-line CSV, keys and
 * aliases) and source offsets. SPEC §2 "Parsing", BUILDKIT.md §1.
 */
import { parseDockerfile } from "../../src/parse/dockerfile";
import { canonicalKey, MountField, RawMount, validateMount } from "../../src/parse/mount";
import { analyzeText, df, errorsOf, keysAt, runAt } from "../helpers/analyze";

function mountsOf(text: string, line: number): RawMount[] {
  const p = parseDockerfile("Dockerfile", text);
  const all = p.stages.flatMap((s) => s.instructions);
  const ins = all.find((i) => i.line === line);
  if (!ins) throw new Error(`no instruction at line ${line}`);
  return ins.mounts;
}

function fieldsOf(value: string): MountField[] {
  const text = df("FROM alpine", `RUN --mount=${value} true`);
  const p = parseDockerfile("Dockerfile", text);
  expect(p.errors).toEqual([]);
  return p.stages[0].instructions[0].mounts[0].fields;
}

function spec(value: string) {
  const fields = fieldsOf(value);
  return validateMount(
    fields,
    fields.map((f) => f.value),
  );
}

describe("flag words lose their shell quotes", () => {
  test('--mount="type=cache,target=/a b" keeps the space in the target', async () => {
    const f = await analyzeText(df("FROM alpine", 'RUN --mount="type=cache,target=/a b" echo'));
    expect(errorsOf(f)).toEqual([]);
    expect(runAt(f, 2)[0].mounts).toHaveLength(1);
    expect(runAt(f, 2)[0].mounts[0].target).toBe("/a b");
    expect(keysAt(f, 2)).toEqual(["//a b"]);
  });

  test("single quotes around the whole flag value are removed too", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount='type=cache,id=x y,target=/c' echo"),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(keysAt(f, 2)).toEqual(["/x y"]);
  });
});

describe("CSV splitting of the mount value", () => {
  test(`--mount='type=cache,"target=/a,b"' gets a comma into the target`, async () => {
    const f = await analyzeText(df("FROM alpine", `RUN --mount='type=cache,"target=/a,b"' echo`));
    expect(errorsOf(f)).toEqual([]);
    const m = runAt(f, 2)[0].mounts;
    expect(m).toHaveLength(1);
    expect(m[0].target).toBe("/a,b");
    expect(m[0].key).toBe("//a,b");
  });

  test('"" inside a quoted field is a literal quote', () => {
    const fields = fieldsOf(`'type=cache,"id=a""b",target=/t'`);
    expect(fields.map((x) => [x.key, x.value])).toEqual([
      ["type", "cache"],
      ["id", 'a"b'],
      ["target", "/t"],
    ]);
  });

  test("a bare quote inside an unquoted field is an error", async () => {
    const f = await analyzeText(df("FROM alpine", `RUN --mount='type=cache,target="/a,b"' echo`));
    const errs = errorsOf(f);
    expect(errs).toHaveLength(1);
    expect(errs[0].line).toBe(2);
    expect(errs[0].message).toMatch(/failed to parse csv mounts/);
    expect(errs[0].message).toMatch(/bare "/);
    expect(f.cacheRuns).toEqual([]);
  });

  test("a CSV error fails the file even in a stage that is not built", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS unused",
        `RUN --mount='type=cache,target=/a"b' echo`,
        "FROM alpine AS final",
        "RUN --mount=type=cache,target=/x echo",
      ),
    );
    const errs = errorsOf(f);
    expect(errs.map((e) => e.line)).toEqual([2]);
    expect(errs[0].message).toMatch(/failed to parse csv mounts/);
  });

  test("a quoted field must be followed by a comma or the end", async () => {
    const f = await analyzeText(df("FROM alpine", `RUN --mount='type=cache,"target=/a"x' echo`));
    expect(errorsOf(f).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(f)[0].message).toMatch(/failed to parse csv mounts/);
  });

  test("an empty --mount= value fails with EOF", async () => {
    const f = await analyzeText(df("FROM alpine", "RUN --mount= echo"));
    expect(errorsOf(f).map((e) => [e.line, e.message])).toEqual([
      [2, "failed to parse csv mounts: EOF"],
    ]);
  });

  test("each field splits at its first =", () => {
    const fields = fieldsOf("type=cache,id=a=b=c,target=/t");
    expect(fields.find((x) => x.key === "id")!.value).toBe("a=b=c");
  });
});

describe("keys and aliases", () => {
  test("canonical keys for every alias", () => {
    expect(canonicalKey("src")).toBe("source");
    expect(canonicalKey("source")).toBe("source");
    expect(canonicalKey("dst")).toBe("target");
    expect(canonicalKey("destination")).toBe("target");
    expect(canonicalKey("target")).toBe("target");
    expect(canonicalKey("ro")).toBe("ro");
    expect(canonicalKey("readonly")).toBe("ro");
    expect(canonicalKey("rw")).toBe("rw");
    expect(canonicalKey("readwrite")).toBe("rw");
    expect(canonicalKey("TARGET")).toBe("target");
    expect(canonicalKey("Dst")).toBe("target");
  });

  test.each([
    ["target=/t", "/t"],
    ["dst=/t", "/t"],
    ["destination=/t", "/t"],
    ["DST=/t", "/t"],
    ["Destination=/t", "/t"],
  ])("target alias %s", async (field, expected) => {
    const f = await analyzeText(df("FROM alpine", `RUN --mount=type=cache,${field} true`));
    expect(errorsOf(f)).toEqual([]);
    expect(runAt(f, 2)[0].mounts[0].target).toBe(expected);
    expect(keysAt(f, 2)).toEqual([`/${expected}`]);
  });

  test("src and source both set the source", () => {
    expect(spec("type=cache,src=/s,target=/t").spec.source).toBe("/s");
    expect(spec("type=cache,source=/s,target=/t").spec.source).toBe("/s");
    expect(spec("type=cache,SRC=/s,target=/t").spec.source).toBe("/s");
  });

  test("ro/readonly/rw/readwrite as bare flags and with boolean values", () => {
    // cache defaults to read-write, bind to read-only
    expect(spec("type=cache,target=/t").spec.readonly).toBe(false);
    expect(spec("type=bind,target=/t").spec.readonly).toBe(true);
    expect(spec("type=cache,target=/t,ro").spec.readonly).toBe(true);
    expect(spec("type=cache,target=/t,readonly").spec.readonly).toBe(true);
    expect(spec("type=cache,target=/t,readonly=true").spec.readonly).toBe(true);
    expect(spec("type=cache,target=/t,ro=false").spec.readonly).toBe(false);
    expect(spec("type=bind,target=/t,rw").spec.readonly).toBe(false);
    expect(spec("type=bind,target=/t,readwrite").spec.readonly).toBe(false);
    expect(spec("type=bind,target=/t,readwrite=1").spec.readonly).toBe(false);
    expect(spec("type=cache,target=/t,rw=false").spec.readonly).toBe(true);
    expect(spec("type=cache,target=/t,readwrite=F").spec.readonly).toBe(true);
    expect(spec("type=cache,target=/t,ro=maybe").error).toBeDefined();
  });

  test("type defaults to bind; type and sharing values are lowercased", () => {
    expect(spec("target=/t").spec.type).toBe("bind");
    const s = spec("TYPE=CACHE,Target=/t,SHARING=Locked");
    expect(s.error).toBeUndefined();
    expect(s.spec.type).toBe("cache");
    expect(s.spec.sharing).toBe("locked");
  });

  test("mixed-case keys and values reach the report", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=Type=Cache,DST=/x,Sharing=PRIVATE true"),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(runAt(f, 2)[0].mounts).toEqual([
      expect.objectContaining({ target: "/x", sharing: "private", key: "//x" }),
    ]);
  });

  test("a mount with no type is a bind mount, not a cache", async () => {
    const f = await analyzeText(df("FROM alpine", "RUN --mount=target=/x true"));
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns).toEqual([]);
  });
});

describe("several mounts per RUN", () => {
  test("every --mount flag is one mount, only cache mounts are listed", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/one --mount=type=bind,target=/src --mount=type=cache,id=two,target=/two \\",
        "    --mount=type=secret,id=tok --mount=type=tmpfs,target=/tmp echo",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns).toHaveLength(1);
    expect(keysAt(f, 2)).toEqual(["//one", "/two"]);
    expect(
      mountsOf(
        df("FROM alpine", "RUN --mount=type=cache,target=/a --mount=type=cache,target=/b true"),
        2,
      ),
    ).toHaveLength(2);
  });

  test("flags stop at the first word that is not a flag", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,target=/a echo --mount=type=cache,target=/b"),
    );
    expect(keysAt(f, 2)).toEqual(["//a"]);
  });
});

describe("source offsets", () => {
  const check = (text: string, line: number, expected: [string, string | null][]) => {
    const mounts = mountsOf(text, line);
    const got = mounts.flatMap((m) =>
      m.fields.map((x) => {
        const whole = text.slice(x.start, x.end);
        const value = x.valueStart === null ? null : text.slice(x.valueStart, x.valueEnd!);
        return [whole, value];
      }),
    );
    expect(got).toEqual(expected);
  };

  test("plain fields", () => {
    check(df("FROM alpine", "RUN --mount=type=cache,id=gomod,target=/go/pkg/mod,ro go build"), 2, [
      ["type=cache", "cache"],
      ["id=gomod", "gomod"],
      ["target=/go/pkg/mod", "/go/pkg/mod"],
      ["ro", null],
    ]);
  });

  test("fields of a double-quoted flag word", () => {
    check(df("FROM alpine", 'RUN --mount="type=cache,target=/a b" true'), 2, [
      ["type=cache", "cache"],
      ["target=/a b", "/a b"],
    ]);
  });

  test("shell quotes inside one field belong to that field", () => {
    // the value range stays inside the quotes (replacing it keeps them); the field range
    // covers both quotes so removing or replacing a whole field leaves no stray quote
    check(df("FROM alpine", `RUN --mount=type=cache,target="/a b",id=x true`), 2, [
      ["type=cache", "cache"],
      ['target="/a b"', "/a b"],
      ["id=x", "x"],
    ]);
    check(df("FROM alpine", `RUN --mount=type=cache,"target"=/a,type='cache' true`), 2, [
      ["type=cache", "cache"],
      ['"target"=/a', "/a"],
      ["type='cache'", "cache"],
    ]);
  });

  test("a shell quote spanning several fields is left to the mount word", () => {
    check(df("FROM alpine", `RUN --mount=type=cache,"target=/a,id=x" true`), 2, [
      ["type=cache", "cache"],
      ["target=/a", "/a"],
      ["id=x", "x"],
    ]);
  });

  test("escaped characters: the slice is the text as written", () => {
    check(df("FROM alpine", "RUN --mount=type=cache,target=/a\\ b,id=x true"), 2, [
      ["type=cache", "cache"],
      ["target=/a\\ b", "/a\\ b"],
      ["id=x", "x"],
    ]);
  });

  test("a CSV-quoted field includes its quotes, its value does not", () => {
    check(df("FROM alpine", `RUN --mount='type=cache,"target=/a,b",sharing=locked' true`), 2, [
      ["type=cache", "cache"],
      ['"target=/a,b"', "/a,b"],
      ["sharing=locked", "locked"],
    ]);
  });

  test("fields after a continuation, with CRLF and a BOM", () => {
    const text =
      "\uFEFF" +
      [
        "FROM alpine",
        "RUN --mount=type=cache,\\",
        "# comment",
        "target=/x,id=abc \\",
        "    --mount=type=cache,target=/y true",
        "",
      ].join("\r\n");
    check(text, 2, [
      ["type=cache", "cache"],
      ["target=/x", "/x"],
      ["id=abc", "abc"],
      ["type=cache", "cache"],
      ["target=/y", "/y"],
    ]);
  });

  test("fields under the backtick escape", () => {
    const text = df(
      "# escape=`",
      "FROM alpine",
      "RUN --mount=type=cache,`",
      "dst=C:\\cache `",
      "  dir",
    );
    check(text, 3, [
      ["type=cache", "cache"],
      ["dst=C:\\cache", "C:\\cache"],
    ]);
  });

  test("an empty value has an empty range right after the =", () => {
    const text = df("FROM alpine", "RUN --mount=type=cache,id=,target=/t true");
    const [m] = mountsOf(text, 2);
    const id = m.fields.find((x) => x.key === "id")!;
    expect(text.slice(id.start, id.end)).toBe("id=");
    expect(id.valueStart).toBe(id.valueEnd);
    expect(id.valueStart).toBe(id.end);
  });

  test("the whole flag word range and the append point", () => {
    const text = df("FROM alpine", 'RUN --mount="type=cache,target=/a" true');
    const [m] = mountsOf(text, 2);
    expect(text.slice(m.start, m.end)).toBe('--mount="type=cache,target=/a"');
    // options are appended right after the last value character, inside the quotes
    expect(text.slice(m.appendAt - 2, m.appendAt + 1)).toBe('/a"');
  });
});

describe("flag-level errors fail the whole file", () => {
  test("a bare --mount has no value", async () => {
    const f = await analyzeText(
      df("FROM alpine AS unused", "RUN --mount echo", "FROM alpine", "RUN true"),
    );
    expect(errorsOf(f).map((e) => [e.line, e.message])).toEqual([
      [2, "missing a value on flag: --mount"],
    ]);
  });

  test("an unknown RUN flag is an error even in a stage that is not built", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS unused",
        "RUN --mout=type=cache,target=/x echo",
        "FROM alpine",
        "RUN --network=none --security=insecure true",
      ),
    );
    expect(errorsOf(f).map((e) => e.line)).toEqual([2]);
    expect(errorsOf(f)[0].message).toMatch(/unknown flag: --mout/);
  });
});
