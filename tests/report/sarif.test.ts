/**
 * `--format sarif`: validated against the official SARIF 2.1.0 JSON schema, vendored in
 * sarif-schema-2.1.0.json (OASIS SARIF TC, github.com/oasis-tcs/sarif-spec,
 * sarif-2.1/schema/sarif-schema-2.1.0.json at commit e0583813964e, the errata01 schema;
 * sha256 c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e). It is JSON
 * Schema draft-04, hence ajv-draft-04. No network is needed.
 */
import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv-draft-04";
import addFormats from "ajv-formats";
import { FixPlan } from "../../src/apply/fix";
import { computeLineStarts } from "../../src/parse/dockerfile";
import { regionOf, replacementsOf, SarifLog, SarifResult, toSarif } from "../../src/report/sarif";
import { inDir, inProject, lines, plan, RACY, ROOT } from "./helpers";

const schema = JSON.parse(
  fs.readFileSync(path.join(__dirname, "sarif-schema-2.1.0.json"), "utf8"),
) as Record<string, unknown>;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);

function expectValid(log: SarifLog): void {
  const ok = validate(JSON.parse(JSON.stringify(log)));
  if (!ok) throw new Error(ajv.errorsText(validate.errors, { separator: "\n" }));
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
  version: string;
};

function sarifOf(p: FixPlan, strategy = "auto"): SarifLog {
  return toSarif(p.result, { fixes: p.fixes, strategy });
}

/** Applies SARIF replacements (line/column regions) to `text`. */
function applyReplacements(
  text: string,
  reps: { deletedRegion: Required<NonNullable<unknown>>; insertedContent?: { text: string } }[],
): string {
  const starts = computeLineStarts(text);
  const bom = text.startsWith("\uFEFF") ? 1 : 0;
  const off = (line: number, col: number) => starts[line - 1] + col - 1 + (line === 1 ? bom : 0);
  const edits = reps.map((r) => {
    const d = r.deletedRegion as {
      startLine: number;
      startColumn: number;
      endLine: number;
      endColumn: number;
    };
    return {
      start: off(d.startLine, d.startColumn),
      end: off(d.endLine, d.endColumn),
      text: r.insertedContent?.text ?? "",
    };
  });
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

function allReplacements(results: SarifResult[]) {
  const seen = new Map<
    string,
    NonNullable<SarifResult["fixes"]>[0]["artifactChanges"][0]["replacements"][0]
  >();
  for (const r of results)
    for (const f of r.fixes ?? [])
      for (const c of f.artifactChanges)
        for (const x of c.replacements) seen.set(JSON.stringify(x), x);
  return [...seen.values()];
}

describe("--format sarif", () => {
  let log: SarifLog;
  let fixPlan: FixPlan;
  beforeAll(async () => {
    fixPlan = await inDir(ROOT, () => plan(["examples/rust-multistage"]));
    log = await inDir(ROOT, () => sarifOf(fixPlan));
  });

  test("validates against the SARIF 2.1.0 schema", () => {
    expect(log.version).toBe("2.1.0");
    expectValid(log);
  });

  test("the schema is in force: broken logs do not validate", () => {
    const broken = JSON.parse(JSON.stringify(log)) as SarifLog;
    broken.runs[0].results[0].locations[0].physicalLocation.region = {} as never;
    expect(validate(broken)).toBe(false);
    const noLevel = JSON.parse(JSON.stringify(log)) as SarifLog;
    (noLevel.runs[0].results[0] as { level: string }).level = "fatal";
    expect(validate(noLevel)).toBe(false);
  });

  test("tool.driver: name, version from package.json, informationUri, the rules", () => {
    const driver = log.runs[0].tool.driver;
    expect(driver.name).toBe("buildrace");
    expect(driver.version).toBe(pkg.version);
    expect(driver.informationUri).toMatch(/^https:\/\//);
    const ids = driver.rules.map((r) => r.id);
    expect(ids).toEqual(["shared-cache-race", "nested-cache-mount", "buildrace-error"]);
    for (const rule of driver.rules) {
      expect(rule.shortDescription.text.length).toBeGreaterThan(10);
      expect(rule.fullDescription.text.length).toBeGreaterThan(rule.shortDescription.text.length);
      expect(rule.help.text.length).toBeGreaterThan(0);
      expect(rule.help.markdown.length).toBeGreaterThan(0);
    }
    const race = driver.rules[0];
    for (const option of ["lock", "split", "merge"]) expect(race.help.text).toContain(option);
    expect(race.help.text).toContain("2.7x");
    expect(race.help.text).toContain("no reuse between stages");
    expect(race.help.markdown).toContain("| `lock` (recommended) |");
    expect(driver.rules[1].help.text).toContain("runc 1.2.3");
  });

  test("one result per race, level from safety, message naming key, tool and the other use", () => {
    const results = log.runs[0].results;
    expect(results).toHaveLength(3);
    const byKey = new Map(results.map((r) => [(r.properties as { key: string }).key, r]));
    const registry = byKey.get("//usr/local/cargo/registry") as SarifResult;
    const target = byKey.get("//src/target") as SarifResult;
    expect(registry.level).toBe("error");
    expect(byKey.get("//usr/local/cargo/git")?.level).toBe("error");
    expect(target.level).toBe("warning");
    expect(registry.ruleId).toBe("shared-cache-race");
    expect(registry.ruleIndex).toBe(0);
    expect(registry.message.text).toContain("//usr/local/cargo/registry");
    expect(registry.message.text).toContain("cargo-registry");
    expect(registry.message.text).toMatch(/\[line 18 \(stage build-cli\)\]\(1\)/);
    expect(registry.properties).toMatchObject({
      key: "//usr/local/cargo/registry",
      safety: "unsafe",
      tool: "cargo-registry",
      fix: "split",
    });
    expect(target.properties).toMatchObject({ safety: "serialising", fix: "split" });
    const loc = registry.locations[0].physicalLocation;
    expect(loc.artifactLocation).toEqual({
      uri: "examples/rust-multistage/Dockerfile",
      uriBaseId: "%SRCROOT%",
    });
    expect(loc.region?.startLine).toBe(10);
    expect(registry.relatedLocations).toHaveLength(1);
    expect(registry.relatedLocations?.[0].id).toBe(1);
    expect(registry.relatedLocations?.[0].physicalLocation.region?.startLine).toBe(18);
    expect(Object.keys(registry.partialFingerprints ?? {})).toEqual(["buildraceRace/v1"]);
    expect(log.runs[0].invocations[0].executionSuccessful).toBe(true);
    expect(log.runs[0].originalUriBaseIds["%SRCROOT%"].uri).toMatch(/^file:\/\/.*\/$/);
  });

  test("fixes: each result carries the edits of its own race; together they give the rewrite", () => {
    const results = log.runs[0].results;
    const fix = fixPlan.fixes.find((f) => f.path.endsWith("rust-multistage/Dockerfile"));
    expect(fix).toBeDefined();
    const before = (fix as { before: string }).before;
    const after = (fix as { after: string }).after;
    for (const r of results) {
      expect(r.fixes).toHaveLength(1);
      const f = (r.fixes as NonNullable<SarifResult["fixes"]>)[0];
      expect(f.description.text).toContain("--strategy auto");
      expect(f.artifactChanges[0].artifactLocation.uri).toBe("examples/rust-multistage/Dockerfile");
      const applied = applyReplacements(before, f.artifactChanges[0].replacements);
      expect(applied).not.toBe(before);
    }
    const registry = results.find(
      (r) => (r.properties as { key: string }).key === "//usr/local/cargo/registry",
    ) as SarifResult;
    const reps = (registry.fixes as NonNullable<SarifResult["fixes"]>)[0].artifactChanges[0]
      .replacements;
    // split, not lock: the same RUNs compile into the split target cache (see races.ts)
    expect(reps.map((x) => x.insertedContent?.text)).toEqual([
      ",id=/usr/local/cargo/registry-build-api",
      ",id=/usr/local/cargo/registry-build-cli",
    ]);
    expect(reps.map((x) => x.deletedRegion.startLine)).toEqual([10, 18]);
    expect(applyReplacements(before, allReplacements(results))).toBe(after);
  });

  test("every bundled example validates, and its fixes reproduce the verified rewrite", async () => {
    const dirs = fs
      .readdirSync(path.join(ROOT, "examples"), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `examples/${d.name}`);
    expect(dirs.length).toBeGreaterThan(5);
    for (const dir of dirs) {
      const p = await inDir(ROOT, () => plan([dir]));
      const l = await inDir(ROOT, () => sarifOf(p));
      expectValid(l);
      for (const fix of p.fixes) {
        if (fix.error || fix.after === fix.before) continue;
        const uri = fix.path.split(path.sep).join("/");
        const mine = l.runs[0].results.filter(
          (r) => r.locations[0].physicalLocation.artifactLocation.uri === uri,
        );
        expect(applyReplacements(fix.before, allReplacements(mine))).toBe(fix.after);
      }
    }
  });

  test("safe caches are notes; nested cache mounts are errors of their own rule", async () => {
    const l = await inDir(ROOT, async () => sarifOf(await plan(["examples/nested-caches"])));
    expectValid(l);
    const results = l.runs[0].results;
    const npm = results.find((r) => (r.properties as { tool: string }).tool === "npm");
    expect(npm?.level).toBe("note");
    expect(npm?.fixes).toBeUndefined();
    const nested = results.find((r) => r.ruleId === "nested-cache-mount");
    expect(nested?.level).toBe("error");
    expect(nested?.ruleIndex).toBe(1);
  });

  test("analysis errors: buildrace-error results and tool execution notifications", async () => {
    const l = await inProject(
      {
        Dockerfile: lines(
          "FROM alpine AS a",
          "RUN --mount=type=cache,target=/x,sharing=sometimes true",
          "FROM Builder",
        ),
      },
      async () => sarifOf(await plan(["."])),
    );
    expectValid(l);
    const errors = l.runs[0].results.filter((r) => r.ruleId === "buildrace-error");
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((r) => r.level === "error" || r.level === "warning")).toBe(true);
    expect(errors.some((r) => r.locations[0].physicalLocation.region?.startLine === 2)).toBe(true);
    const inv = l.runs[0].invocations[0];
    expect(inv.executionSuccessful).toBe(false);
    expect(inv.toolExecutionNotifications.length).toBeGreaterThan(0);
    expect(inv.toolExecutionNotifications[0].level).toBe("error");
  });

  test("a race silenced by # buildrace-ignore carries an inSource suppression and no fix", async () => {
    const text = RACY.replace(
      "FROM base AS b\n",
      "FROM base AS b\n# buildrace-ignore: cargo-registry\n",
    );
    const l = await inProject({ Dockerfile: text }, async () => sarifOf(await plan(["."])));
    expectValid(l);
    const registry = l.runs[0].results.find(
      (r) => (r.properties as { tool: string }).tool === "cargo-registry",
    );
    expect(registry?.suppressions).toEqual([
      { kind: "inSource", justification: "# buildrace-ignore" },
    ]);
    expect(registry?.fixes).toBeUndefined();
  });

  test("--strategy lock: fixes lock every race and say so", async () => {
    const l = await inProject({ Dockerfile: RACY }, async () =>
      sarifOf(await plan(["."], { strategy: "lock" }), "lock"),
    );
    expectValid(l);
    for (const r of l.runs[0].results) {
      const f = (r.fixes as NonNullable<SarifResult["fixes"]>)[0];
      expect(f.description.text).toContain("--strategy lock");
      expect(f.artifactChanges[0].replacements.map((x) => x.insertedContent?.text)).toEqual([
        ",sharing=locked",
        ",sharing=locked",
      ]);
    }
  });

  test("CRLF, a BOM and a missing final newline: regions still land on the right text", async () => {
    const text = "\uFEFF" + RACY.replace(/\n/g, "\r\n").replace(/\r\n$/, "");
    const { l, fix } = await inProject({ Dockerfile: text }, async () => {
      const p = await plan(["."]);
      return { l: sarifOf(p), fix: p.fixes[0] };
    });
    expectValid(l);
    expect(fix.after).not.toBe(fix.before);
    expect(applyReplacements(fix.before, allReplacements(l.runs[0].results))).toBe(fix.after);
    const registry = l.runs[0].results.find(
      (r) => (r.properties as { tool: string }).tool === "cargo-registry",
    ) as SarifResult;
    const region = (registry.fixes as NonNullable<SarifResult["fixes"]>)[0].artifactChanges[0]
      .replacements[0].deletedRegion;
    // "RUN --mount=type=cache,target=/usr/local/cargo/registry" is 55 characters.
    expect(region).toEqual({ startLine: 4, startColumn: 56, endLine: 4, endColumn: 56 });
  });
});

describe("replacementsOf / regionOf", () => {
  test("minimal replacements per changed line", () => {
    const before = "a\nRUN x,y \\\n  z\nb\n";
    const after = "a\nRUN x,y,sharing=locked \\\n  z,id=q\nb\n";
    const reps = replacementsOf(before, after);
    expect(reps).toEqual([
      { start: 9, end: 9, text: ",sharing=locked" },
      { start: 15, end: 15, text: ",id=q" },
    ]);
    expect(regionOf(before, 9, 9)).toEqual({
      startLine: 2,
      startColumn: 8,
      endLine: 2,
      endColumn: 8,
    });
  });

  test("inserted and removed lines", () => {
    const before = "FROM a AS x\nRUN y\n";
    const after = "FROM a AS x\nARG TARGETPLATFORM\nRUN y\n";
    const reps = replacementsOf(before, after);
    expect(reps).toHaveLength(1);
    let out = before;
    for (const r of [...reps].reverse()) out = out.slice(0, r.start) + r.text + out.slice(r.end);
    expect(out).toBe(after);
    expect(replacementsOf(after, before).every((r) => r.text === "")).toBe(true);
  });
});
