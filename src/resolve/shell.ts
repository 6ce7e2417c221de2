/**
 * Variable expansion as BuildKit's shell lexer (ProcessWord) does it for mount options,
 * ARG defaults, ENV values and FROM names. A variable whose value cannot be known (an
 * external image's ENV) yields an unknown hole, never a guess.
 */

export type Lookup = (name: string) => VarValue;
export type VarValue =
  { kind: "set"; value: string } | { kind: "unset" } | { kind: "unknown"; why: string };

export type Part = string | { unknown: string; why: string };

/** An expanded word: literal text with holes where a value is unknowable. */
export interface Expanded {
  parts: Part[];
  /** Set when the word has no unknown part. */
  value?: string;
  /** Readable form: unknown holes are shown as `${NAME}`. */
  text: string;
  /** Why it is unknown (first hole's reason). */
  why?: string;
  error?: string;
}

export function known(value: string): Expanded {
  return { parts: [value], value, text: value };
}

export function expandWord(word: string, lookup: Lookup, escape = "\\"): Expanded {
  const parts: Part[] = [];
  let error: string | undefined;
  const lit = (s: string) => {
    if (typeof parts[parts.length - 1] === "string") parts[parts.length - 1] += s;
    else parts.push(s);
  };
  let i = 0;
  const n = word.length;
  const expandVar = (inDouble: boolean): void => {
    // at word[i] === "$"
    const c = word[i + 1];
    if (c === "{") {
      const close = findClose(word, i + 2);
      if (close < 0) {
        error = `missing '}' in ${word}`;
        lit(word.slice(i));
        i = n;
        return;
      }
      const body = word.slice(i + 2, close);
      i = close + 1;
      applyBraced(body);
      return;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*|^[0-9@*#?$!-]/.exec(word.slice(i + 1));
    if (!m) {
      lit("$");
      i++;
      return;
    }
    i += 1 + m[0].length;
    pushVar(m[0], lookup(m[0]));
    void inDouble;
  };
  const pushVar = (name: string, v: VarValue) => {
    if (v.kind === "set") lit(v.value);
    else if (v.kind === "unknown") parts.push({ unknown: name, why: v.why });
  };
  const applyBraced = (body: string) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(.*)$/s.exec(body);
    if (!m) {
      error = `bad substitution: \${${body}}`;
      return;
    }
    const [, name, op] = m;
    const v = lookup(name);
    if (op === "") return pushVar(name, v);
    const sub = (w: string) => expandWord(w, lookup, escape);
    const addExpanded = (e: Expanded) => {
      for (const p of e.parts) typeof p === "string" ? lit(p) : parts.push(p);
      if (e.error) error = e.error;
    };
    if (v.kind === "unknown") {
      parts.push({ unknown: name, why: v.why });
      return;
    }
    const isSet = v.kind === "set";
    const val = isSet ? v.value : "";
    const mm = /^(:?[-+?])(.*)$/s.exec(op);
    if (mm) {
      const [, o, w] = mm;
      const colon = o.startsWith(":");
      const present = colon ? isSet && val !== "" : isSet;
      switch (o.replace(":", "")) {
        case "-":
          return present ? lit(val) : addExpanded(sub(w));
        case "+":
          return present ? addExpanded(sub(w)) : undefined;
        case "?":
          if (!present) error = `${name}: ${w || "is not allowed to be unset"}`;
          return lit(val);
      }
    }
    const pm = /^(##?|%%?)(.*)$/s.exec(op);
    if (pm) {
      const pat = sub(pm[2]);
      if (pat.value === undefined) return void parts.push({ unknown: name, why: pat.why ?? "" });
      return lit(trimPattern(val, pm[1], pat.value));
    }
    const rm = /^\/(\/?)((?:[^/\\]|\\.)*)(?:\/(.*))?$/s.exec(op);
    if (rm) {
      const pat = sub(rm[2]);
      const rep = sub(rm[3] ?? "");
      if (pat.value === undefined || rep.value === undefined)
        return void parts.push({ unknown: name, why: (pat.why ?? rep.why) || "" });
      const re = new RegExp(globToRegex(pat.value), rm[1] ? "g" : "");
      return lit(val.replace(re, () => rep.value as string));
    }
    error = `unsupported modifier (${op}) in substitution`;
  };

  while (i < n) {
    const c = word[i];
    if (c === escape) {
      if (i + 1 < n) lit(word[i + 1]);
      i += 2;
    } else if (c === "'") {
      const close = word.indexOf("'", i + 1);
      if (close < 0) {
        error = "unexpected end of statement while looking for matching single-quote";
        lit(word.slice(i + 1));
        i = n;
      } else {
        lit(word.slice(i + 1, close));
        i = close + 1;
      }
    } else if (c === '"') {
      i++;
      while (i < n && word[i] !== '"') {
        if (word[i] === escape && i + 1 < n && ['"', "$", escape].includes(word[i + 1])) {
          lit(word[i + 1]);
          i += 2;
        } else if (word[i] === "$") expandVar(true);
        else lit(word[i++]);
      }
      if (i >= n) error = "unexpected end of statement while looking for matching double-quote";
      i++;
    } else if (c === "$") {
      expandVar(false);
    } else {
      lit(c);
      i++;
    }
  }
  return finish(parts, error);
}

function finish(parts: Part[], error?: string): Expanded {
  const unknowns = parts.filter(
    (p): p is { unknown: string; why: string } => typeof p !== "string",
  );
  const text = parts.map((p) => (typeof p === "string" ? p : `\${${p.unknown}}`)).join("");
  if (unknowns.length === 0) return { parts, value: text, text, error };
  return { parts, text, why: unknowns[0].why, error };
}

function findClose(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

function globToRegex(glob: string): string {
  return glob
    .split("")
    .map((ch) =>
      ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"),
    )
    .join("");
}

function trimPattern(val: string, op: string, pat: string): string {
  const g = globToRegex(pat);
  const greedy = op.length === 2;
  if (op[0] === "#") {
    const re = new RegExp(`^(${greedy ? g : g.replace(/\.\*/g, ".*?")})`, "s");
    return val.replace(re, "");
  }
  for (let k = greedy ? 0 : val.length; greedy ? k <= val.length : k >= 0; greedy ? k++ : k--) {
    if (new RegExp(`^${g}$`, "s").test(val.slice(k))) return val.slice(0, k);
  }
  return val;
}

/**
 * Could two expanded strings be equal? Known parts must line up; an unknown hole matches
 * anything. Conservative (may say yes when they differ), never says no when they could match.
 */
export function mayEqual(a: Expanded, b: Expanded): boolean {
  if (a.value !== undefined && b.value !== undefined) return a.value === b.value;
  const pa = literalEnds(a);
  const pb = literalEnds(b);
  const prefixOk = pa.prefix.startsWith(pb.prefix) || pb.prefix.startsWith(pa.prefix);
  const suffixOk = pa.suffix.endsWith(pb.suffix) || pb.suffix.endsWith(pa.suffix);
  if (a.value !== undefined) return toRegex(b).test(a.value);
  if (b.value !== undefined) return toRegex(a).test(b.value);
  return prefixOk && suffixOk;
}

function literalEnds(e: Expanded): { prefix: string; suffix: string } {
  const first = e.parts[0];
  const last = e.parts[e.parts.length - 1];
  return {
    prefix: typeof first === "string" ? first : "",
    suffix: typeof last === "string" && e.parts.length > 1 ? last : "",
  };
}

function toRegex(e: Expanded): RegExp {
  return new RegExp(
    "^" +
      e.parts
        .map((p) => (typeof p === "string" ? p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&") : ".*"))
        .join("") +
      "$",
    "s",
  );
}
