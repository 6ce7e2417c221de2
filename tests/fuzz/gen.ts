/**
 * Generators for the fuzz suite: real Dockerfiles (examples/ and the shared corpus) and
 * ways to break them — random bytes, truncations, flipped line endings, `--mount` option
 * soup, random keyword case and whitespace, and splices of Dockerfile punctuation.
 */
import * as fs from "fs";
import * as path from "path";
import fc from "fast-check";
import { kindOfName } from "../../src/discover/discover";

const ROOT = path.resolve(__dirname, "../..");

/** Real Dockerfiles to start from: examples/ and, when present, ../shared/corpus/files. */
export function seedFiles(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (kindOfName(e.name) === "dockerfile")
        out.push({ name: path.relative(ROOT, p), text: fs.readFileSync(p, "utf8") });
    }
  };
  walk(path.join(ROOT, "examples"));
  const corpus = path.resolve(ROOT, "../shared/corpus/files");
  if (fs.existsSync(corpus))
    for (const f of fs.readdirSync(corpus).sort()) {
      const text = fs.readFileSync(path.join(corpus, f), "utf8");
      if (/^\s*FROM\s/im.test(text)) out.push({ name: `corpus/${f}`, text });
    }
  out.sort((a, b) => (a.name < b.name ? -1 : 1));
  return out;
}

const SEEDS = seedFiles();
export const seedArb = fc.constantFrom(...SEEDS.map((s) => s.text));

/** Bytes that are mostly printable ASCII, with line breaks, NULs, high bytes and bad UTF-8. */
export const randomBytesArb = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
      { weight: 2, arbitrary: fc.constantFrom(0x0a, 0x0d, 0x09, 0x5c, 0x22, 0x27) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
    { maxLength: 400 },
  )
  .map((a) => Buffer.from(a));

/** A real file cut at a random point (characters, so the text stays valid UTF-16). */
export const truncatedArb = fc
  .tuple(seedArb, fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([t, f]) => t.slice(0, Math.floor(t.length * f)));

/** A real file with each line ending replaced at random by LF, CRLF or a lone CR. */
export const lineEndingsArb = fc
  .tuple(seedArb, fc.array(fc.constantFrom("\n", "\r\n", "\r"), { minLength: 1, maxLength: 8 }))
  .map(([t, eols]) => {
    let i = 0;
    return t.replace(/\r?\n/g, () => eols[i++ % eols.length]);
  });

/** A real file converted wholesale to CRLF or to lone CRs, optionally with a BOM. */
export const wholesaleEolArb = fc
  .tuple(seedArb, fc.constantFrom("\r\n", "\r"), fc.boolean())
  .map(([t, eol, bom]) => (bom ? "\uFEFF" : "") + t.replace(/\r?\n/g, eol));

const KEYS = [
  "type",
  "TYPE",
  "target",
  "dst",
  "destination",
  "id",
  "ID",
  "sharing",
  "from",
  "source",
  "src",
  "mode",
  "uid",
  "gid",
  "ro",
  "rw",
  "readonly",
  "required",
  "size",
  "env",
  "bogus",
  "",
];
const VALUES = [
  "cache",
  "CACHE",
  "bind",
  "tmpfs",
  "secret",
  "ssh",
  "/var/cache/apt",
  "/var/lib/apt",
  "/root/.cargo/registry",
  "/usr/local/cargo/registry",
  "/root/.npm",
  "/app/target",
  "target",
  "node_modules",
  "./rel/../x",
  "/",
  "shared",
  "locked",
  "private",
  "LOCKED",
  "0755",
  "0o7",
  "1000",
  "-1",
  "true",
  "false",
  "1g",
  "$TARGETPLATFORM",
  "${TARGETARCH}",
  "${X:-def}",
  "$",
  "a b",
  "stage0",
  "build",
  "0",
  "",
];
const PUNCT = [",", "=", '"', "'", '""', "\\\n", "\\\r\n", " \\\n  ", "\\", " ", "\t", "`", "#"];

/** One `--mount` option: key, `=`, value, with quotes and punctuation sprinkled in. */
const optionArb = fc
  .tuple(
    fc.constantFrom(...KEYS),
    fc.constantFrom("=", "=", "=", "", "==", " = "),
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...VALUES) },
      { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
    ),
    fc.constantFrom("", "", "", '"', "'"),
    fc.option(fc.constantFrom(...PUNCT), { nil: "" }),
  )
  .map(([k, eq, v, q, p]) => `${q}${k}${eq}${v}${q}${p}`);

/** A RUN with a random number of `--mount` flags made of option soup. */
export const mountSoupRunArb = fc
  .tuple(
    fc.constantFrom("RUN", "run", "Run", "ONBUILD RUN"),
    fc.array(
      fc.tuple(
        fc.constantFrom("--mount=", "--MOUNT=", "--mount", "--mount=type=cache,", "-mount="),
        fc.array(optionArb, { minLength: 0, maxLength: 6 }),
        fc.constantFrom(",", ",", ", ", ",\\\n", ",,", ",\\\n# comment\n"),
        fc.constantFrom("", '"', "'"),
      ),
      { minLength: 1, maxLength: 3 },
    ),
    fc.constantFrom(" ", " \\\n  ", "\t", "  "),
    fc.constantFrom("echo hi", "apt-get update", "cargo build", "true", "", "<<EOF\nx\nEOF"),
  )
  .map(([kw, mounts, sep, cmd]) => {
    const flags = mounts.map(([flag, opts, comma, q]) => `${flag}${q}${opts.join(comma)}${q}`);
    return `${kw} ${flags.join(sep)}${sep}${cmd}`;
  });

/** A small multi-stage Dockerfile whose RUNs carry mount soup, so races and fixes happen. */
export const mountSoupFileArb = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.constantFrom("alpine", "debian", "s0", "s1", "scratch"),
        fc.array(
          fc.oneof(
            { weight: 3, arbitrary: mountSoupRunArb },
            {
              weight: 2,
              arbitrary: fc.constantFrom(
                "RUN --mount=type=cache,target=/var/cache/apt apt-get update",
                "RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build",
                "RUN --mount=type=cache,id=shared,target=/x echo",
                "COPY --from=s0 /a /b",
                "COPY --from=1 /a /b",
                "ARG TARGETPLATFORM",
                "WORKDIR /w",
                "ENV A=b",
              ),
            },
          ),
          { maxLength: 3 },
        ),
      ),
      { minLength: 1, maxLength: 4 },
    ),
    fc.constantFrom("\n", "\r\n"),
    fc.boolean(),
  )
  .map(([stages, eol, finalNl]) => {
    const lines: string[] = [];
    stages.forEach(([base, body], i) => {
      lines.push(`FROM ${base} AS s${i}`, ...body);
    });
    const text = lines.join("\n") + (finalNl ? "\n" : "");
    return eol === "\n" ? text : text.replace(/\r?\n/g, eol);
  });

/** Recases instruction keywords, flags and option keys; varies whitespace around them. */
export const caseAndSpaceArb = fc
  .tuple(seedArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), fc.nat(5))
  .map(([t, flips, ws]) => {
    let i = 0;
    const flip = (s: string) =>
      s
        .split("")
        .map((c) => (flips[i++ % flips.length] ? c.toUpperCase() : c.toLowerCase()))
        .join("");
    const space = [" ", "\t", "  ", " \t ", "   ", " "][ws];
    return t
      .replace(/^(\s*)([A-Za-z]+)([ \t]+)/gm, (_m, lead, kw, _sp) => `${lead}${flip(kw)}${space}`)
      .replace(/--(mount|from|platform)=/gi, (_m, f) => `--${flip(f)}=`)
      .replace(/\b(type|target|id|sharing)=(cache|locked|shared)?/gi, (_m, k, v) =>
        v ? `${flip(k)}=${flip(v)}` : `${flip(k)}=`,
      );
  });

const SPLICES = [
  "\\",
  "\\\n",
  "\\ \n",
  "\n",
  "\r",
  "\r\n",
  '"',
  "'",
  "`",
  "$",
  "${",
  "}",
  "<<EOF\n",
  "EOF\n",
  "#",
  "# escape=`\n",
  ",",
  "=",
  "--mount=",
  " --mount=type=cache,target=/x ",
  "FROM ",
  "FROM alpine AS x\n",
  "AS ",
  "\uFEFF",
  "\t",
  "\u00a0",
  "\u2028",
  "\ud83d\ude00",
  "",
];

/** A real file with a few random splices (insert / delete / replace) of Dockerfile punctuation. */
export const spliceArb = fc
  .tuple(
    seedArb,
    fc.array(
      fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(8), fc.constantFrom(...SPLICES)),
      { minLength: 1, maxLength: 6 },
    ),
  )
  .map(([t, ops]) => {
    let s = t;
    for (const [at, del, ins] of ops) {
      let i = Math.floor(s.length * at);
      // never split a surrogate pair: the test is about Dockerfile syntax, not UTF-16
      if (i > 0 && /[\udc00-\udfff]/.test(s[i] ?? "")) i--;
      let j = Math.min(s.length, i + del);
      if (/[\udc00-\udfff]/.test(s[j] ?? "")) j++;
      s = s.slice(0, i) + ins + s.slice(j);
    }
    return s;
  });

const CACHE_TARGETS = [
  "/var/cache/apt",
  "/var/lib/apt",
  "/usr/local/cargo/registry",
  "/usr/local/cargo/git",
  "/app/target",
  "/root/.npm",
  "/root/.m2",
  "/root/.cache/go-build",
  "/root/.cache/pip",
  "/cache",
  "/cache/npm",
  "node_modules/.cache",
  "/opt/unknown",
];

/**
 * Well-formed multi-stage Dockerfiles with racing cache mounts written in many styles:
 * stage chains, COPY --from by name and index, ids from ARG/ENV and $TARGETPLATFORM, heredoc
 * RUNs, ONBUILD triggers, comments and blank lines inside continuations, tabs, `# escape=``.
 */
export const racyStructArb = fc
  .record({
    backtick: fc.boolean(),
    globalArg: fc.boolean(),
    stages: fc.array(
      fc.record({
        base: fc.integer({ min: -2, max: 4 }),
        runs: fc.array(
          fc.record({
            target: fc.nat(CACHE_TARGETS.length - 1),
            id: fc.constantFrom(null, "shared", "${CACHE_ID}", "cache-$TARGETPLATFORM", "$ID"),
            sharing: fc.constantFrom(null, null, "shared", "locked", "private"),
            style: fc.constantFrom(
              "plain",
              "split",
              "comment",
              "heredoc",
              "onbuild",
              "tabs",
              "quoted",
            ),
            second: fc.boolean(),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        argId: fc.boolean(),
        envId: fc.boolean(),
        copyFrom: fc.option(fc.nat(5), { nil: null }),
        byIndex: fc.boolean(),
      }),
      { minLength: 2, maxLength: 5 },
    ),
    eol: fc.constantFrom("\n", "\n", "\r\n"),
    bom: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .map((g) => {
    const E = g.backtick ? "`" : "\\";
    const lines: string[] = [];
    if (g.backtick) lines.push("# escape=`");
    if (g.globalArg) lines.push("ARG CACHE_ID=global");
    g.stages.forEach((st, i) => {
      const base =
        st.base >= 0 && i > 0 ? `s${st.base % i}` : ["debian", "rust:1.82"][Math.abs(st.base) % 2];
      lines.push(`FROM ${base} AS s${i}`);
      if (st.argId) lines.push("ARG CACHE_ID", "ARG TARGETPLATFORM");
      if (st.envId) lines.push(`ENV ID=env-${i % 2}`);
      st.runs.forEach((r, k) => {
        const opts = ["type=cache", `target=${CACHE_TARGETS[r.target]}`];
        if (r.id) opts.push(`id=${r.id}`);
        if (r.sharing) opts.push(`sharing=${r.sharing}`);
        const m =
          r.style === "quoted" ? `--mount="${opts.join(",")}"` : `--mount=${opts.join(",")}`;
        const m2 = r.second ? ` --mount=type=cache,target=/root/.cache/s${i % 2}` : "";
        const cmd = `echo s${i}-${k}`;
        switch (r.style) {
          case "split":
            lines.push(`RUN ${m}${m2} ${E}`, `    ${cmd}`);
            break;
          case "comment":
            lines.push(`RUN ${m} ${E}`, "# a comment inside the continuation", "", `    ${cmd}`);
            break;
          case "heredoc":
            lines.push(`RUN ${m}${m2} <<EOF`, cmd, "EOF");
            break;
          case "onbuild":
            lines.push(`ONBUILD RUN ${m} ${cmd}`, `RUN ${m}${m2} ${cmd}-now`);
            break;
          case "tabs":
            lines.push(`\tRUN\t${m}${m2}\t${cmd}`);
            break;
          default:
            lines.push(`RUN ${m}${m2} ${cmd}`);
        }
      });
      if (st.copyFrom !== null && i > 0) {
        const from = st.copyFrom % i;
        lines.push(`COPY --from=${st.byIndex ? from : `s${from}`} /out /in${i}`);
      }
    });
    lines.push("FROM debian", ...g.stages.map((_, i) => `COPY --from=s${i} /out /s${i}`));
    let text = lines.join(g.eol) + (g.finalNewline ? g.eol : "");
    if (g.bom) text = "\uFEFF" + text;
    return text;
  });

/** Any Dockerfile text the suite throws at the analyzer. */
export const dockerfileTextArb = fc.oneof(
  { weight: 1, arbitrary: seedArb },
  { weight: 2, arbitrary: truncatedArb },
  { weight: 2, arbitrary: lineEndingsArb },
  { weight: 1, arbitrary: wholesaleEolArb },
  { weight: 4, arbitrary: mountSoupFileArb },
  { weight: 4, arbitrary: racyStructArb },
  { weight: 2, arbitrary: caseAndSpaceArb },
  { weight: 3, arbitrary: spliceArb },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);
