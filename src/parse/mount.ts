/**
 * The `--mount` value grammar: one single-line CSV record (BuildKit uses go-csvvalue with
 * LazyQuotes off), each field split at its first `=`, keys case-insensitive with aliases.
 * Field ranges point into the original source so transforms can edit option text.
 */
import { FlagWord, MappedText, sliceMapped } from "./words";

export interface MountField {
  /** Canonical lowercase key (aliases folded: src→source, dst→target, ...). */
  key: string;
  /** The key as written. */
  rawKey: string;
  /** Value before variable expansion; null for bare flags such as `ro`. */
  value: string | null;
  /** Source offsets of the whole field and of its value (end exclusive). */
  start: number;
  end: number;
  valueStart: number | null;
  valueEnd: number | null;
  /** True when the value's characters are contiguous in the source (safe to replace). */
  valueContiguous: boolean;
}

export interface RawMount {
  fields: MountField[];
  /** Source offset right after the last character of the mount value: where options are appended. */
  appendAt: number;
  /** Source range of the whole `--mount=...` flag word. */
  start: number;
  end: number;
  /** CSV-level error (fails the whole file in BuildKit, even in unbuilt stages). */
  error?: string;
}

const ALIASES: Record<string, string> = {
  src: "source",
  dst: "target",
  destination: "target",
  readonly: "ro",
  readwrite: "rw",
};

export const KNOWN_KEYS = new Set([
  "type",
  "from",
  "source",
  "target",
  "ro",
  "rw",
  "required",
  "size",
  "id",
  "sharing",
  "mode",
  "uid",
  "gid",
  "env",
]);

export function canonicalKey(raw: string): string {
  const k = raw.toLowerCase();
  return ALIASES[k] ?? k;
}

/** Splits a `--mount` flag word (`--mount=<csv>`) into fields. */
export function parseMountWord(word: FlagWord): RawMount {
  const eq = word.text.indexOf("=");
  const value = sliceMapped(word, eq + 1);
  const base: RawMount = {
    fields: [],
    appendAt: value.offsets.length ? value.offsets[value.offsets.length - 1] + 1 : word.end,
    start: word.start,
    end: word.end,
  };
  if (value.text === "") return { ...base, error: "failed to parse csv mounts: EOF" };
  const csv = splitCsv(value);
  if (typeof csv === "string") return { ...base, error: `failed to parse csv mounts: ${csv}` };
  for (const f of csv) balanceQuotes(f, word);
  base.fields = csv.map(toField);
  return base;
}

/** Widens a field over shell quotes that open or close inside it and pair up just outside it. */
function balanceQuotes(f: CsvField, word: FlagWord): void {
  const q = word.quotes ?? [];
  const keptBetween = (a: number, b: number) => word.offsets.some((o) => o > a && o < b);
  for (let i = 0; i + 1 < q.length; i += 2) {
    const [open, close] = [q[i], q[i + 1]];
    if (open >= f.start && open < f.end && close >= f.end && !keptBetween(f.end - 1, close))
      f.end = close + 1;
    if (close >= f.start && close < f.end && open < f.start && !keptBetween(open, f.start))
      f.start = open;
  }
}

function toField(f: CsvField): MountField {
  const eq = f.text.indexOf("=");
  const rawKey = eq < 0 ? f.text : f.text.slice(0, eq);
  const value = eq < 0 ? null : f.text.slice(eq + 1);
  const vOffs = eq < 0 ? [] : f.offsets.slice(eq + 1);
  let contiguous = true;
  for (let i = 1; i < vOffs.length; i++) if (vOffs[i] !== vOffs[i - 1] + 1) contiguous = false;
  const valueStart = eq < 0 ? null : vOffs.length ? vOffs[0] : f.offsets[eq] + 1;
  const valueEnd = eq < 0 ? null : vOffs.length ? vOffs[vOffs.length - 1] + 1 : f.offsets[eq] + 1;
  return {
    key: canonicalKey(rawKey),
    rawKey,
    value,
    start: f.start,
    end: f.end,
    valueStart,
    valueEnd,
    valueContiguous: contiguous && !f.quoted,
  };
}

interface CsvField extends MappedText {
  start: number;
  end: number;
  quoted: boolean;
}

/** go-csvvalue rules: only a field starting with `"` is quoted; `""` is a literal quote. */
function splitCsv(m: MappedText): CsvField[] | string {
  const s = m.text;
  const out: CsvField[] = [];
  let i = 0;
  for (;;) {
    const chars: string[] = [];
    const offs: number[] = [];
    const fieldStart = i;
    let quoted = false;
    if (s[i] === '"') {
      quoted = true;
      i++;
      for (;;) {
        if (i >= s.length)
          return `parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`;
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            chars.push('"');
            offs.push(m.offsets[i + 1]);
            i += 2;
            continue;
          }
          i++;
          if (i < s.length && s[i] !== ",")
            return `parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`;
          break;
        }
        chars.push(s[i]);
        offs.push(m.offsets[i]);
        i++;
      }
    } else {
      while (i < s.length && s[i] !== ",") {
        if (s[i] === '"')
          return `parse error on line 1, column ${i + 1}: bare " in non-quoted-field`;
        chars.push(s[i]);
        offs.push(m.offsets[i]);
        i++;
      }
    }
    const endIdx = i;
    out.push({
      text: chars.join(""),
      offsets: offs,
      start: fieldStart < s.length ? m.offsets[fieldStart] : m.offsets[s.length - 1] + 1,
      end:
        endIdx > fieldStart
          ? m.offsets[endIdx - 1] + 1
          : m.offsets[Math.max(0, fieldStart - 1)] + 1,
      quoted,
    });
    if (i >= s.length) return out;
    i++; // comma
    if (i >= s.length) {
      // trailing comma: an empty last field
      out.push({
        text: "",
        offsets: [],
        start: m.offsets[i - 1] + 1,
        end: m.offsets[i - 1] + 1,
        quoted: false,
      });
      return out;
    }
  }
}

export type Sharing = "shared" | "private" | "locked";

/** A mount after variable expansion and BuildKit's validation. */
export interface MountSpec {
  type: string;
  from?: string;
  source?: string;
  target?: string;
  id?: string;
  sharing: Sharing;
  mode?: string;
  uid?: string;
  gid?: string;
  readonly: boolean;
}

/**
 * BuildKit's second-pass mount validation (parseMount with an expander): order-sensitive
 * `size`/`required`, octal mode, known sharing values. `values` are the expanded values.
 */
export function validateMount(
  fields: MountField[],
  values: (string | null)[],
): { spec: MountSpec; error?: string } {
  const spec: MountSpec = { type: "bind", sharing: "shared", readonly: false };
  let roSet: boolean | undefined;
  let sharingSet = false;
  const fail = (error: string) => ({ spec, error });
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const v = values[i];
    if (v === null) {
      switch (f.key) {
        case "ro":
          roSet = true;
          continue;
        case "rw":
          roSet = false;
          continue;
        case "required":
          if (spec.type !== "secret" && spec.type !== "ssh")
            return fail(`unexpected key 'required' for mount type '${spec.type}'`);
          continue;
        default:
          return fail(`invalid field '${f.rawKey}' must be a key=value pair`);
      }
    }
    switch (f.key) {
      case "type": {
        const t = v.toLowerCase();
        if (!["bind", "cache", "tmpfs", "secret", "ssh"].includes(t))
          return fail(`unsupported mount type "${v}"`);
        spec.type = t;
        break;
      }
      case "from":
        spec.from = v;
        break;
      case "source":
        spec.source = v;
        break;
      case "target":
        spec.target = v;
        break;
      case "ro":
      case "rw": {
        const b = parseBool(v);
        if (b === null) return fail(`invalid value for ${f.rawKey}: ${v}`);
        roSet = f.key === "ro" ? b : !b;
        break;
      }
      case "required":
        if (spec.type !== "secret" && spec.type !== "ssh")
          return fail(`unexpected key 'required' for mount type '${spec.type}'`);
        if (parseBool(v) === null) return fail(`invalid value for ${f.rawKey.toLowerCase()}: ${v}`);
        break;
      case "size":
        if (spec.type !== "tmpfs")
          return fail(`unexpected key 'size' for mount type '${spec.type}'`);
        // units.RAMInBytes
        if (!/^\d+(\.\d+)* ?[kKmMgGtTpP]?[iI]?[bB]?$/.test(v))
          return fail(`invalid value for size: ${v}`);
        break;
      case "id":
        spec.id = v;
        break;
      case "sharing": {
        const sv = v.toLowerCase();
        if (sv !== "shared" && sv !== "private" && sv !== "locked")
          return fail(`unsupported sharing value "${v}"`);
        spec.sharing = sv;
        sharingSet = true;
        break;
      }
      case "mode":
        if (!/^[0-7]+$/.test(v) || parseInt(v, 8) > 0xffffffff)
          return fail(`invalid value for mode: ${v} (must be octal)`);
        spec.mode = v;
        break;
      case "uid":
      case "gid":
        if (!/^[0-9]+$/.test(v) || Number(v) > 0xffffffff)
          return fail(`invalid value for ${f.key}: ${v}`);
        spec[f.key] = v;
        break;
      case "env":
        break;
      default:
        return fail(`unexpected key '${f.rawKey}' in '${f.rawKey}=${v}'`);
    }
  }
  if (spec.type === "secret") {
    if (spec.from !== undefined && spec.from !== "")
      return fail("secret mount should not have a from");
    if (sharingSet) return fail("secret mount should not define sharing");
    if (!spec.source && !spec.target && !spec.id)
      return fail("invalid secret mount. one of source, target required");
    if (spec.source && spec.id) return fail("both source and id can't be set");
  }
  if (sharingSet && spec.type !== "cache")
    return fail(`invalid cache sharing set for ${spec.type} mount`);
  if ((spec.mode || spec.uid || spec.gid) && !["cache", "secret", "ssh"].includes(spec.type)) {
    const k = spec.mode ? "mode" : spec.uid ? "uid" : "gid";
    return fail(`${k} not allowed for "${spec.type}" type mounts`);
  }
  spec.readonly = roSet ?? !["cache", "tmpfs"].includes(spec.type);
  return { spec };
}

function parseBool(v: string): boolean | null {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  return null;
}
