/**
 * The probe rewriter (no engine), then the probe on the engine with a hand-written
 * Dockerfile that encodes SPEC section 2 "Scheduling".
 */
import { buildArgv, describeEngine, engineAvailable } from "./engine";
import {
  csvFields,
  expandWord,
  formatPairs,
  makeProbe,
  normalizeImageRef,
  parseProbeLog,
  readDockerfile,
  runProbe,
  splitFlags,
} from "./probe";

const lines = (s: string) => s.split("\n");
const fromLines = (df: string) => lines(df).filter((l) => l.startsWith("FROM "));
const runLines = (df: string) => lines(df).filter((l) => l.startsWith("RUN "));

describe("probe rewriter (no engine)", () => {
  test("reader: continuations, comments inside them, CRLF, BOM, keyword case, heredocs", () => {
    const text =
      "\ufeff# syntax=docker/dockerfile:1\r\n" +
      "from alpine AS a\r\n" +
      "run --mount=type=cache,target=/x \\\r\n" +
      "# a comment inside\r\n" +
      "\r\n" +
      "    echo hi\r\n" +
      "RUN <<EOF\r\n" +
      "FROM not-an-instruction\r\n" +
      "EOF\r\n" +
      "COPY . /src\r\n";
    const df = readDockerfile(text);
    expect(df.directives).toEqual({ syntax: "docker/dockerfile:1" });
    expect(df.instructions.map((i) => [i.line, i.keyword])).toEqual([
      [2, "FROM"],
      [3, "RUN"],
      [7, "RUN"],
      [10, "COPY"],
    ]);
    expect(df.instructions[1].rest).toBe("--mount=type=cache,target=/x     echo hi");
    expect(df.instructions[2].heredocs).toEqual(["FROM not-an-instruction"]);
  });

  test("reader: backtick escape directive", () => {
    const df = readDockerfile("# escape=`\nFROM a\nRUN echo `\n  x\\\nRUN y\n");
    expect(df.escape).toBe("`");
    expect(df.instructions.map((i) => i.rest)).toEqual(["a", "echo   x\\", "y"]);
  });

  test("flags and mount CSV", () => {
    const r = splitFlags(
      `--mount="type=cache,target=/a b" --mount=type=bind,from=x echo --not-a-flag`,
    );
    expect(r.flags.map((f) => [f.name, f.value])).toEqual([
      ["mount", "type=cache,target=/a b"],
      ["mount", "type=bind,from=x"],
    ]);
    expect(r.args).toBe("echo --not-a-flag");
    expect(csvFields('type=cache,"target=/a,b"')).toEqual(["type=cache", "target=/a,b"]);
    expect(csvFields('type=cache,target="/a,b"')).toBeNull();
  });

  test("image references and FROM expansion", () => {
    expect(normalizeImageRef("alpine")).toBe("docker.io/library/alpine:latest");
    expect(normalizeImageRef("docker.io/library/alpine:latest")).toBe(
      "docker.io/library/alpine:latest",
    );
    expect(normalizeImageRef("ghcr.io/o/r:1")).toBe("ghcr.io/o/r:1");
    expect(normalizeImageRef("localhost:5000/x")).toBe("localhost:5000/x:latest");
    expect(normalizeImageRef("Builder")).toBeNull();
    expect(normalizeImageRef("build-")).toBeNull();
    expect(expandWord("build-${VARIANT:-dev}", {})).toBe("build-dev");
    expect(expandWord("$A-${B}", { A: "x", B: "y" })).toBe("x-y");
  });

  test("external images become distinct local images; equal names stay equal; stages stay", () => {
    const plan = makeProbe(
      [
        "ARG BASE=alpine",
        "FROM ${BASE} AS a",
        "FROM docker.io/library/alpine:latest AS b",
        "FROM debian:12 AS c",
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS d",
        "FROM a AS e",
        "FROM scratch AS f",
        "FROM Builder AS g",
        "FROM --platform=linux/s390x debian:12 AS h",
      ].join("\n"),
      { probeId: "p1", platform: "linux/amd64" },
    );
    const froms = fromLines(plan.dockerfile);
    const tag = (l: string) => l.split(" ")[1];
    expect(tag(froms[0])).toMatch(/^buildrace-probe-img-[0-9a-f]{12}$/);
    expect(tag(froms[0])).toBe(tag(froms[1])); // alpine == docker.io/library/alpine:latest
    expect(tag(froms[2])).not.toBe(tag(froms[0]));
    expect(froms[3]).not.toContain("--platform");
    expect(froms[4]).toBe("FROM a AS e");
    expect(froms[5]).toBe("FROM scratch AS f");
    expect(froms[6]).toBe("FROM Builder AS g"); // invalid: kept so that the engine fails as it would
    expect(tag(froms[7])).not.toBe(tag(froms[2])); // another platform is another image
    expect(plan.images.map((i) => i.key).sort()).toEqual([
      "docker.io/library/alpine:latest",
      "docker.io/library/debian:12",
      "docker.io/library/debian:12|linux/s390x",
      "docker.io/library/golang:1.22",
    ]);
    expect(plan.stages.map((s) => s.baseStage)).toEqual([
      null,
      null,
      null,
      null,
      0,
      null,
      null,
      null,
    ]);
    expect(plan.stages[6].invalidBase).toBe(true);
  });

  test("a --build-arg reaches FROM only through a declared global ARG", () => {
    const text =
      "ARG V=dev\nFROM alpine AS build-dev\nFROM alpine AS build-prod\nFROM build-${V}\nFROM build-${W}\n";
    const plan = makeProbe(text, { probeId: "p", buildArgs: { V: "prod", W: "dev" } });
    expect(fromLines(plan.dockerfile)[2]).toBe("FROM build-prod");
    expect(fromLines(plan.dockerfile)[3]).toBe("FROM build-${W}"); // `build-`: invalid, kept
  });

  test("cache RUNs become rendezvous steps named by the instruction text, not the line", () => {
    const text = [
      "FROM alpine AS a", //                                                   1
      "RUN --mount=type=cache,target=/root/.cache go build ./a", //            2
      "FROM alpine AS b", //                                                   3
      "RUN --mount=type=cache,target=/root/.cache go build ./a", //            4
      "FROM alpine AS c", //                                                   5
      "run --mount=target=/root/.cache,type=cache   go build ./a", //          6
      "RUN --mount=type=cache,target=/root/.cache go build ./a", //            7
      "RUN --mount=type=cache,target=/root/.cache go build ./b", //            8
      "RUN --mount=type=cache,id=x,from=a,source=/s,target=/c --mount=type=secret,id=s cat x", // 9
      "RUN --mount=type=bind,from=a,target=/a make", //                       10
      "RUN make", //                                                          11
    ].join("\n");
    const plan = makeProbe(text, { probeId: "probe-xyz" });
    const runs = runLines(plan.dockerfile);
    expect(runs).toHaveLength(8);
    for (const r of runs.slice(0, 6)) {
      expect(r).toMatch(/^RUN --mount=type=cache,id=probe-xyz,target=\/probe,sharing=shared /);
      expect(r).not.toContain("/root/.cache");
      expect(r).not.toMatch(/\\/);
    }
    // Identical instructions on the same history stay identical (the engine de-duplicates
    // them); keyword case and mount field order do not matter.
    expect(runs[1]).toBe(runs[0]);
    expect(runs[2]).toBe(runs[0]);
    // The same text after another step is another vertex: its marker names that vertex.
    expect(runs[3]).not.toBe(runs[0]);
    expect(runs[4]).not.toBe(runs[0]);
    expect(runs[5]).toContain("--mount=type=bind,from=a,target=/buildrace-from/0");
    expect(runs[5]).not.toContain("secret");
    const tick = "mkdir -p \\/probe\\/tick && touch \\/probe\\/tick\\/[0-9a-f]{12}\\.\\$RANDOM$";
    const probeMount = "--mount=type=cache,id=probe-xyz,target=\\/probe,sharing=shared";
    expect(runs[6]).toMatch(
      new RegExp(
        `^RUN ${probeMount} --mount=type=bind,from=a,target=\\/buildrace-from\\/0 ${tick}`,
      ),
    );
    expect(runs[7]).toMatch(new RegExp(`^RUN ${probeMount} ${tick}`));
    expect(plan.participants.map((p) => p.lines)).toEqual([[2, 4, 6], [7], [8], [9]]);
    expect(plan.stages[2].deps).toEqual([0]);
  });

  test("COPY keeps its edges and copies a file that exists; context copies become local copies", () => {
    const text = [
      "FROM alpine AS a",
      "FROM scratch AS s",
      "COPY --chown=1:1 go.mod go.sum ./",
      "FROM alpine",
      "COPY --from=a /app /app",
      "COPY --from=A /app /app",
      "COPY --from=0 /x /x",
      "COPY --from=s /bin /bin",
      "COPY --from=nginx:1 /etc/nginx /etc/nginx",
      "ADD https://example.com/x /x",
      "COPY . .",
    ].join("\n");
    const plan = makeProbe(text, { probeId: "p" });
    const copies = lines(plan.dockerfile).filter((l) => l.startsWith("COPY"));
    const h = (l: string) => l.split("/buildrace-copy/")[1];
    expect(copies[0]).toMatch(
      /^COPY --from=buildrace-base:latest \/etc\/buildrace-probe \/buildrace-copy\/[0-9a-f]{12}$/,
    );
    expect(copies[1]).toMatch(/^COPY --from=a \/etc\/buildrace-probe /);
    expect(copies[2]).toMatch(/^COPY --from=A \/etc\/buildrace-probe /);
    expect(copies[3]).toMatch(/^COPY --from=0 \/etc\/buildrace-probe /);
    expect(copies[4]).toMatch(/^COPY --from=s \/ /); // a scratch stage has no /etc
    expect(copies[5]).toMatch(
      /^COPY --from=buildrace-probe-img-[0-9a-f]{12} \/etc\/buildrace-probe /,
    );
    expect(new Set(copies.map(h)).size).toBe(copies.length);
    expect(plan.stages[2].deps.sort()).toEqual([0, 1]);
  });

  test("USER, SHELL, ONBUILD and metadata", () => {
    const text = [
      "FROM alpine",
      "USER app",
      'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
      "ONBUILD RUN make",
      "ENV A=1 \\",
      "    B=2",
      "LABEL x=y",
    ].join("\n");
    const df = makeProbe(text, { probeId: "p" }).dockerfile;
    expect(df).toMatch(/\nUSER 0:\d+\n/);
    expect(df).toMatch(
      /\nSHELL \["\/bin\/env", "BUILDRACE_SHELL=[0-9a-f]{12}", "\/bin\/sh", "-c"\]\n/,
    );
    expect(df).toMatch(/\nONBUILD RUN true # [0-9a-f]{12}\n/);
    expect(df).toContain("\nENV A=1     B=2\n");
    expect(df).toContain("\nLABEL x=y\n");
  });

  test("syntax directives are dropped, escape kept", () => {
    const plan = makeProbe("# syntax=docker/dockerfile:1.7\n# escape=`\nFROM alpine\n", {
      probeId: "p",
    });
    expect(plan.dockerfile).not.toContain("syntax");
    expect(plan.dockerfile.startsWith("# escape=`\n")).toBe(true);
  });

  test("reachability follows the target", () => {
    const text = [
      "FROM alpine AS a",
      "RUN --mount=type=cache,target=/c one",
      "FROM alpine AS b",
      "RUN --mount=type=cache,target=/c two",
      "FROM alpine AS c",
      "COPY --from=a /x /x",
    ].join("\n");
    const plan = makeProbe(text, { probeId: "p" });
    expect(plan.stages.map((s) => s.reachable)).toEqual([true, false, true]);
    expect(plan.participants.map((p) => p.reachableLines)).toEqual([[2], []]);
    const plan2 = makeProbe(text, { probeId: "p", target: "B" });
    expect(plan2.target).toBe(1);
    expect(plan2.stages.map((s) => s.reachable)).toEqual([false, true, false]);
    expect(makeProbe(text, { probeId: "p", target: "nope" }).target).toBe(-1);
  });

  test("parseProbeLog turns sightings into line pairs", () => {
    const text = [
      "FROM alpine AS a",
      "RUN --mount=type=cache,target=/c one",
      "FROM alpine AS b",
      "RUN --mount=type=cache,target=/c same",
      "FROM alpine AS c",
      "RUN --mount=type=cache,target=/c same",
      "FROM debian AS d",
      "RUN --mount=type=cache,target=/c same",
      "FROM alpine",
      "COPY --from=a /x /x",
      "COPY --from=b /x /x",
      "COPY --from=c /x /x",
      "COPY --from=d /x /x",
    ].join("\n");
    const plan = makeProbe(text, { probeId: "p" });
    const h1 = plan.participants.find((p) => p.lines.includes(2))!.hash;
    const hs = plan.participants.find((p) => p.lines.includes(4))!.hash;
    // Same text on another base: another vertex, so another marker.
    const hd = plan.participants.find((p) => p.lines.includes(8))!.hash;
    expect(hd).not.toBe(hs);
    const log = [
      "#7 [a 2/2] RUN --mount=type=cache,id=p,target=/probe,sharing=shared PATH=...",
      "#8 [c 2/2] RUN --mount=type=cache,id=p,target=/probe,sharing=shared PATH=...",
      "#9 [d 2/2] RUN --mount=type=cache,id=p,target=/probe,sharing=shared PATH=...",
      `#7 0.351 PROBE ${h1}.aaaa saw ${hs}.bbbb`,
      `#8 0.352 PROBE ${hs}.bbbb saw ${h1}.aaaa ${hd}.cccc`,
      `#9 0.353 PROBE ${hd}.cccc saw ${hs}.bbbb`,
    ].join("\n");
    const obs = parseProbeLog(log, plan);
    // b and c are one execution (same base, same text); d is another one.
    expect(obs.instances.find((i) => i.marker === `${hs}.bbbb`)!.lines).toEqual([4, 6]);
    expect(obs.instances.find((i) => i.marker === `${hd}.cccc`)!.lines).toEqual([8]);
    expect(formatPairs(obs.pairs)).toBe("2-4 2-6 4-8 6-8");
    expect(obs.ran).toEqual([2, 4, 6, 8]);
    expect(obs.missing).toEqual([]);
  });

  test("docker build argv never has --no-cache", () => {
    const argv = buildArgv("/ctx", { target: "t", file: "f", buildArgs: { A: "1" } });
    expect(argv).toEqual([
      "build",
      "--progress=plain",
      "--network=none",
      "--target",
      "t",
      "-f",
      "f",
      "--build-arg",
      "A=1",
      "/ctx",
    ]);
    expect(argv).not.toContain("--no-cache");
  });
});

/*
 * SPEC section 2 "Scheduling" on the engine. Line numbers matter: they are the lines of
 * the RUN instructions below (1-based).
 */
const SCHEDULING = [
  "FROM buildrace-base AS a", //                                           1
  "RUN --mount=type=cache,target=/var/cache/x echo a", //                  2
  "FROM buildrace-base AS b", //                                           3
  "RUN --mount=type=cache,target=/var/cache/x echo b-before-copy", //      4
  "COPY --from=a /etc/hostname /tmp/a", //                                 5
  "RUN --mount=type=cache,target=/var/cache/x echo b-after-copy", //       6
  "FROM a AS c", //                                                        7
  "RUN --mount=type=cache,target=/var/cache/x echo c-on-a", //             8
  "FROM buildrace-base AS d", //                                           9
  "RUN --mount=type=cache,target=/var/cache/x echo same", //              10
  "FROM buildrace-base AS e", //                                          11
  "RUN --mount=type=cache,target=/var/cache/x echo same", //              12
  "FROM busybox:other AS f", //                                           13
  "RUN --mount=type=cache,target=/var/cache/x echo same", //              14
  "FROM buildrace-base AS unused", //                                     15
  "RUN --mount=type=cache,target=/var/cache/x echo unused", //            16
  "FROM buildrace-base", //                                               17
  "COPY --from=b /etc/hostname /b", //                                    18
  "COPY --from=c /etc/hostname /c", //                                    19
  "COPY --from=d /etc/hostname /d", //                                    20
  "COPY --from=e /etc/hostname /e", //                                    21
  "COPY --from=f /etc/hostname /f", //                                    22
].join("\n");

describeEngine("probe on the engine: SPEC section 2 scheduling", () => {
  // What SPEC section 2 says about SCHEDULING (lines of the cache RUNs above):
  // a(2) | b: 4, COPY --from=a, 6 | c FROM a: 8 | d: 10 | e: 12 (= 10) | f: 14 (other image)
  const ORDERED = ["2-6", "2-8", "4-6"];
  const DEDUPLICATED = ["10-12"];
  const LINES = [2, 4, 6, 8, 10, 12, 14];
  const EXPECTED: string[] = [];
  for (const a of LINES)
    for (const b of LINES)
      if (a < b && !ORDERED.includes(`${a}-${b}`) && !DEDUPLICATED.includes(`${a}-${b}`))
        EXPECTED.push(`${a}-${b}`);

  test("the probe's model encodes SPEC section 2", () => {
    const plan = makeProbe(SCHEDULING, { probeId: "p" });
    expect(formatPairs(plan.modelPairs)).toBe(EXPECTED.join(" "));
  });

  test("siblings overlap, chains and COPY --from order, identical steps run once", () => {
    expect(engineAvailable()).toBe(true);
    const r = runProbe(SCHEDULING);
    const pairs = formatPairs(r.pairs);
    const summary = `pairs ${pairs}; unconfirmed ${formatPairs(r.unconfirmed)}; builds ${r.builds.map((b) => b.ms).join("+")} ms`;
    // eslint-disable-next-line no-console
    console.log(`scheduling probe: ${summary}`);
    expect({ code: r.code, summary, log: r.code === 0 ? "" : r.log }).toEqual({
      code: 0,
      summary,
      log: "",
    });
    const has = (p: string) => pairs.split(" ").includes(p);
    // Two sibling stages each with a cache RUN saw each other.
    expect([summary, has("2-4"), has("2-10")]).toEqual([summary, true, true]);
    // A chain (`FROM a`) does not overlap with a's RUN.
    expect([summary, has("2-8")]).toEqual([summary, false]);
    // A RUN before `COPY --from=a` overlaps with a's RUN, one after it does not.
    expect([summary, has("2-4"), has("2-6")]).toEqual([summary, true, false]);
    // Identical RUN text on the same base in sibling stages: one execution, one marker.
    const same = r.instances.filter((i) => i.lines.includes(10) || i.lines.includes(12));
    expect(same.map((i) => i.lines)).toEqual([[10, 12]]);
    expect([summary, has("10-12")]).toEqual([summary, false]);
    // The same text on another image is another execution, which overlaps with it.
    expect(r.instances.filter((i) => i.lines.includes(14)).map((i) => i.lines)).toEqual([[14]]);
    // A stage outside the target does not run.
    expect(r.ran).toEqual(LINES);
    expect(r.missing).toEqual([]);
    // All in all: exactly what SPEC section 2 predicts.
    expect(pairs).toBe(EXPECTED.join(" "));
    expect(r.unconfirmed).toEqual([]);
    expect(r.undecided).toEqual([]);
    expect(r.surprises).toEqual([]);
  }, 120000);

  // Two stages with two chained cache RUNs each (a "2+2" order): 2-6 and 3-5 can each
  // overlap, but no single schedule shows both, so the probe needs a second ("star")
  // build. The hypothesis 2-3 (same stage) is wrong and must stay unconfirmed.
  const TWO_BY_TWO = [
    "FROM buildrace-base AS api", //                                       1
    "RUN --mount=type=cache,target=/root/.cargo echo fetch api", //        2
    "RUN --mount=type=cache,target=/root/.cargo echo build api", //        3
    "FROM buildrace-base AS worker", //                                    4
    "RUN --mount=type=cache,target=/root/.cargo echo fetch worker", //     5
    "RUN --mount=type=cache,target=/root/.cargo echo build worker", //     6
    "FROM buildrace-base", //                                              7
    "COPY --from=api /a /a", //                                            8
    "COPY --from=worker /w /w", //                                         9
  ].join("\n");

  test("pairs that no single schedule shows are met in star builds; a wrong hypothesis stays unconfirmed", () => {
    const r = runProbe(TWO_BY_TWO, { hypothesis: [[2, 3]] });
    const summary = `pairs ${formatPairs(r.pairs)}; unconfirmed ${formatPairs(r.unconfirmed)}; builds ${r.builds
      .map((b) => `${b.kind}:${b.ms}ms[${formatPairs(b.waitPairs)}]`)
      .join(" ")}`;
    // eslint-disable-next-line no-console
    console.log(`2+2 probe: ${summary}`);
    expect([summary, r.code]).toEqual([summary, 0]);
    expect(formatPairs(r.plan.modelPairs)).toBe("2-5 2-6 3-5 3-6");
    expect([summary, formatPairs(r.pairs)]).toEqual([summary, "2-5 2-6 3-5 3-6"]);
    expect([summary, formatPairs(r.unconfirmed)]).toEqual([summary, "2-3"]);
    expect(r.undecided).toEqual([]);
    expect(r.builds.map((b) => b.kind)).toContain("star");
    expect(r.surprises).toEqual([]);
  }, 120000);
});
