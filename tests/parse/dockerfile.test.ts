/**
 * Parse stage: directives, continuations, heredocs, line endings, BOM, keyword case.
 * Expectations come from SPEC §2 "Parsing" and BUILDKIT.md §7 "Parser facts".
 */
import { parseDockerfile } from "../../src/parse/dockerfile";
import { analyzeText, df, errorsOf, keysAt, runAt } from "../helpers/analyze";

describe("escape directive", () => {
  test("# escape=` makes the backtick the continuation character", async () => {
    const f = await analyzeText(
      df("# escape=`", "FROM alpine", "RUN --mount=type=cache,`", "target=/x `", "    echo hi"),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([3]);
    expect(keysAt(f, 3)).toEqual(["//x"]);
    expect(runAt(f, 3)[0].mounts[0].target).toBe("/x");
  });

  test("with escape=` a trailing backslash is not a continuation", async () => {
    const f = await analyzeText(
      df(
        "# escape=`",
        "FROM alpine",
        "RUN --mount=type=cache,target=/y echo \\",
        "RUN --mount=type=cache,target=/z echo",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    // two separate RUN instructions, on lines 3 and 4
    expect(f.cacheRuns.map((r) => r.line)).toEqual([3, 4]);
    expect(keysAt(f, 3)).toEqual(["//y"]);
    expect(keysAt(f, 4)).toEqual(["//z"]);
  });

  test("parser sees the backtick as its escape", () => {
    const p = parseDockerfile("Dockerfile", df("# escape=`", "FROM alpine", "RUN echo"));
    expect(p.escape).toBe("`");
    expect(parseDockerfile("Dockerfile", df("FROM alpine")).escape).toBe("\\");
  });

  test("an escape directive after the first instruction is only a comment", async () => {
    const f = await analyzeText(
      df("FROM alpine", "# escape=`", "RUN --mount=type=cache,target=/x echo \\", "  more"),
    );
    // backslash still continues the line: one RUN at line 3 and no instruction "more"
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([3]);
  });
});

describe("continuations", () => {
  test("comment lines and empty lines inside a continuation are skipped", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/a \\",
        "# a comment in the middle",
        "",
        "  # an indented comment",
        "    --mount=type=cache,target=/b \\",
        "",
        "    echo done",
        "RUN --mount=type=cache,target=/c echo next",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 9]);
    expect(keysAt(f, 2)).toEqual(["//a", "//b"]);
    expect(keysAt(f, 9)).toEqual(["//c"]);
  });

  test("a --mount flag split by a continuation with no indentation is one flag", async () => {
    const text = df("FROM alpine", "RUN --mount=type=cache,\\", "target=/x echo hi");
    const f = await analyzeText(text);
    expect(errorsOf(f)).toEqual([]);
    expect(runAt(f, 2)).toHaveLength(1);
    expect(runAt(f, 2)[0].mounts).toHaveLength(1);
    expect(runAt(f, 2)[0].mounts[0].target).toBe("/x");
    // the target field points into line 3 of the source
    const p = parseDockerfile("Dockerfile", text);
    const field = p.stages[0].instructions[0].mounts[0].fields.find((x) => x.key === "target")!;
    expect(text.slice(field.start, field.end)).toBe("target=/x");
    expect(text.slice(field.valueStart!, field.valueEnd!)).toBe("/x");
    expect(field.start).toBe(text.indexOf("target=/x"));
  });

  test("continuation lines keep their leading whitespace: an indented rest is not part of the flag", async () => {
    // joined: `RUN --mount=type=cache,    target=/x echo` — the flag word is `type=cache,`
    // with an empty last field, which BuildKit rejects when the stage is dispatched.
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,\\", "    target=/x echo hi"),
    );
    const errs = errorsOf(f);
    expect(errs).toHaveLength(1);
    expect(errs[0].line).toBe(2);
    expect(errs[0].message).toMatch(/invalid field '' must be a key=value pair/);
  });
});

describe("heredocs", () => {
  test("a heredoc body line that looks like an instruction is not an instruction", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN <<EOF",
        "RUN --mount=type=cache,target=/nope echo not a step",
        "FROM nope AS fake",
        "EOF",
        "RUN --mount=type=cache,target=/yes echo real",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([6]);
    expect(f.cacheRuns[0].stage).toBe("a");
    expect(keysAt(f, 6)).toEqual(["//yes"]);
    const p = parseDockerfile(
      "Dockerfile",
      df("FROM alpine", "RUN <<EOF", "FROM x", "EOF", "RUN true"),
    );
    expect(p.stages).toHaveLength(1);
    expect(p.stages[0].instructions.map((i) => [i.keyword, i.line])).toEqual([
      ["RUN", 2],
      ["RUN", 5],
    ]);
  });

  test("a heredoc RUN keeps its mounts, and the lines after the body are numbered right", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/h <<-EOT bash",
        "\tset -e",
        "\tRUN --mount=type=cache,target=/inner true",
        "\tEOT",
        "RUN --mount=type=cache,target=/after true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 6]);
    expect(keysAt(f, 2)).toEqual(["//h"]);
    expect(keysAt(f, 6)).toEqual(["//after"]);
  });

  test("a heredoc word may start with a file descriptor number (3<<EOF)", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/x 3<<EOF cat /dev/fd/3",
        "FROM nope AS fake",
        "RUN --mount=type=cache,target=/nope true",
        "EOF",
        "RUN --mount=type=cache,target=/y true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => [r.line, r.stage])).toEqual([
      [2, "a"],
      [6, "a"],
    ]);
  });

  test("<< inside a word is not a heredoc", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/x cat<<EOF",
        "RUN --mount=type=cache,target=/y true",
      ),
    );
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 3]);
  });

  test("several heredocs on one line, quoted delimiter", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/m <<'A' <<B sh",
        "echo $HOME",
        "A",
        "COPY --from=nowhere / /",
        "B",
        "RUN --mount=type=cache,target=/n true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 7]);
  });
});

describe("line endings, BOM and keyword case", () => {
  test("CRLF files: lines, values and keys carry no \\r", async () => {
    const text = [
      "FROM alpine AS a",
      "RUN --mount=type=cache,\\",
      "target=/x echo a",
      "FROM alpine AS b",
      "RUN --mount=type=cache,target=/x echo b",
      "FROM alpine",
      "COPY --from=a / /a",
      "COPY --from=b / /b",
      "",
    ].join("\r\n");
    const f = await analyzeText(text);
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 5]);
    for (const r of f.cacheRuns) {
      expect(r.mounts[0].target).toBe("/x");
      expect(r.mounts[0].key).toBe("//x");
    }
    expect(f.parallel).toEqual([[2, 5]]);
    expect(f.races).toHaveLength(1);
  });

  test("a UTF-8 BOM is ignored", async () => {
    const f = await analyzeText(
      "\uFEFF" + df("FROM alpine", "RUN --mount=type=cache,target=/x true"),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2]);
    expect(keysAt(f, 2)).toEqual(["//x"]);
  });

  test("a UTF-8 BOM before a directive still allows the directive", async () => {
    const f = await analyzeText(
      "\uFEFF" + df("# escape=`", "FROM alpine", "RUN --mount=type=cache,`", "target=/x true"),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(keysAt(f, 3)).toEqual(["//x"]);
  });

  test("keywords in any case", async () => {
    const f = await analyzeText(
      df(
        "from alpine as A",
        "run --mount=type=cache,target=/x echo a",
        "From alpine As b",
        "Run --mount=type=cache,target=/x echo b",
        "fRoM alpine",
        "copy --from=a / /a",
        "copy --from=b / /b",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => [r.line, r.stage])).toEqual([
      [2, "a"],
      [4, "b"],
    ]);
    expect(f.parallel).toEqual([[2, 4]]);
  });
});

describe("directive block and escapes inside flag words", () => {
  test("a directive after a blank line is a plain comment", async () => {
    const f = await analyzeText(
      "\n" +
        df("# escape=`", "FROM alpine", "RUN --mount=type=cache,target=/x echo \\", "  still-run"),
    );
    expect(errorsOf(f)).toEqual([]);
    // backslash is still the escape: lines 4-5 are one RUN
    expect(f.cacheRuns.map((r) => r.line)).toEqual([4]);
  });

  test("syntax and escape directives together", async () => {
    const f = await analyzeText(
      df(
        "# syntax=docker/dockerfile:1",
        "# escape = `",
        "FROM alpine",
        "RUN --mount=type=cache,`",
        "target=/x true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(keysAt(f, 4)).toEqual(["//x"]);
  });

  test("a repeated escape directive is an error", async () => {
    const f = await analyzeText(df("# escape=`", "# escape=\\", "FROM alpine", "RUN true"));
    expect(errorsOf(f).length).toBeGreaterThan(0);
    expect(errorsOf(f)[0].message).toMatch(/only one escape parser directive/);
  });

  test("the escape character escapes the next character in a flag word", async () => {
    const f = await analyzeText(df("FROM alpine", "RUN --mount=type=cache,target=/a\\ b true"));
    expect(errorsOf(f)).toEqual([]);
    expect(runAt(f, 2)[0].mounts[0].target).toBe("/a b");
  });

  test("trailing blanks after the escape still continue the line", async () => {
    const f = await analyzeText(
      df("FROM alpine", "RUN --mount=type=cache,\\  \t", "target=/x true"),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(keysAt(f, 2)).toEqual(["//x"]);
  });

  test("a doubled escape at the end of a line is not a continuation", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/x echo \\\\",
        "RUN --mount=type=cache,target=/y true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 3]);
  });
});

describe("escaped escapes at the end of a line", () => {
  test("three escapes at the end are not a continuation either (BuildKit's regex)", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/x echo \\\\\\",
        "RUN --mount=type=cache,target=/y true",
      ),
    );
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 3]);
  });

  test("two backticks at the end under escape=` are not a continuation", async () => {
    const f = await analyzeText(
      df(
        "# escape=`",
        "FROM alpine",
        "RUN --mount=type=cache,target=/x echo ``",
        "RUN --mount=type=cache,target=/y true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([3, 4]);
  });

  test("a line holding only the escape continues", async () => {
    const f = await analyzeText(
      df(
        "FROM alpine",
        "RUN --mount=type=cache,\\",
        "\\",
        "target=/x true",
        "RUN --mount=type=cache,target=/y true",
      ),
    );
    expect(errorsOf(f)).toEqual([]);
    expect(f.cacheRuns.map((r) => r.line)).toEqual([2, 5]);
    expect(keysAt(f, 2)).toEqual(["//x"]);
  });
});

describe("more directive forms", () => {
  test.each([
    ["#escape=`", "`"],
    ["# ESCAPE = `", "`"],
    ["  # escape=`", "`"],
    ["# unknownkey=value\n# escape=`", "`"],
    ["# a plain comment\n# escape=`", "\\"],
  ])("%j → escape %s", (head, escape) => {
    expect(parseDockerfile("Dockerfile", df(head, "FROM alpine")).escape).toBe(escape);
  });
});
