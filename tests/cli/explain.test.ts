/** `buildrace explain`: a text for every rule and every tool of the knowledge base. */
import {
  explain,
  fixOptions,
  knownNames,
  recommended,
  RULE_DOCS,
  TOOL_NOTES,
  toolFacts,
} from "../../src/knowledge/explain";
import { RULES, UNKNOWN } from "../../src/knowledge/kb";

const tools = [...new Set(RULES.map((r) => r.tool)), UNKNOWN.tool];

describe("explain", () => {
  test("every tool of kb.ts RULES has notes, and no note is for a tool kb.ts lacks", () => {
    expect(Object.keys(TOOL_NOTES).sort()).toEqual([...tools].sort());
  });

  test("known names: the rules, then every tool", () => {
    expect(knownNames()).toEqual([...Object.keys(RULE_DOCS), ...tools]);
  });

  test.each(tools)("%s: safety from kb.ts, why, and the fix options with trade-offs", (tool) => {
    const text = explain(tool) as string;
    expect(text).toBeDefined();
    const facts = toolFacts().get(tool);
    expect(facts).toBeDefined();
    const first = text.split("\n")[0];
    expect(first.startsWith(`${tool}: `)).toBe(true);
    const safety = facts?.safety;
    if (safety === "unsafe") expect(first).toContain("unsafe with concurrent writers");
    if (safety === "safe") expect(first).toContain("safe with concurrent writers");
    if (safety === "serialising") expect(first).toContain("serialise");
    if (safety === "unknown") expect(first).toContain("unknown");
    // The kb's own words, not a copy that could drift.
    const flat = text.replace(/\s+/g, " ");
    for (const why of facts?.why ?? []) expect(flat).toContain(why);
    expect(text).toContain("Fix options:");
    for (const o of ["lock", "split", "merge"]) expect(text).toMatch(new RegExp(`\\n  ${o}\\b`));
    expect(text).toContain("cost:");
    const rec = recommended(safety ?? "unknown");
    if (rec === "none") expect(text).toContain("none needed");
    else expect(text).toContain(`${rec} (recommended)`);
    if (facts?.perPlatform) expect(flat).toContain("$TARGETPLATFORM");
    for (const seen of TOOL_NOTES[tool].seen) expect(text).toContain(seen);
    expect(text).toContain(`target=${TOOL_NOTES[tool].target}`);
  });

  test.each(Object.keys(RULE_DOCS))("rule %s", (id) => {
    const text = explain(id) as string;
    expect(text.startsWith(`${id}: ${RULE_DOCS[id as keyof typeof RULE_DOCS].short}`)).toBe(true);
    expect(text).toContain("Fix");
    for (const s of RULE_DOCS[id as keyof typeof RULE_DOCS].seen) expect(text).toContain(s);
  });

  test("the real error text from the field", () => {
    expect(explain("cargo-registry")).toContain(
      "failed to unpack package `<crate>` ... .cargo-ok File exists (os error 17)",
    );
    expect(explain("apt")).toContain("E: Could not get lock /var/lib/apt/lists/lock");
    expect(explain("nested-cache-mount")).toContain("mkdirat ... file exists");
    expect(explain("nested-cache-mount")).toContain("runc 1.2.3");
  });

  test("names are case-insensitive; unknown names give undefined", () => {
    expect(explain("APT")).toBe(explain("apt"));
    expect(explain(" apt ")).toBe(explain("apt"));
    expect(explain("left-pad")).toBeUndefined();
    expect(explain("")).toBeUndefined();
  });

  test("fix options: the recommended one first", () => {
    expect(fixOptions("split").map((o) => o.option)).toEqual(["split", "lock", "merge"]);
    expect(fixOptions("none").some((o) => o.recommended)).toBe(false);
    expect(fixOptions("lock")[0].cost).toContain("2.7x");
  });
});
