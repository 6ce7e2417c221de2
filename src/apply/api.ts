/** The helpers every transform gets: small edit builders over mount option ranges. */
import lock from "../../transforms/lock";
import merge from "../../transforms/merge";
import split from "../../transforms/split";
import { Edit, MountUse, Transform, TransformApi, TransformFile, TransformResult } from "./types";

/** A transform's answer in one shape (a transform may return its edits bare). */
export function asResult(r: TransformResult | Edit[]): TransformResult {
  return Array.isArray(r) ? { edits: r, notes: [] } : r;
}

const bundled =
  (t: Transform): TransformApi["transforms"]["lock"] =>
  (file, findings, api) =>
    asResult(t(file, findings, api));

export function createApi(file: TransformFile): TransformApi {
  const setOption = (use: MountUse, key: string, value: string): Edit => {
    const opts = use.options.filter((o) => o.key === key);
    const o = opts[opts.length - 1];
    if (o && o.valueStart !== null && o.valueEnd !== null && o.valueContiguous)
      return { start: o.valueStart, end: o.valueEnd, text: value };
    if (o) return { start: o.start, end: o.end, text: `${key}=${value}` };
    return { start: use.appendAt, end: use.appendAt, text: `,${key}=${value}` };
  };
  return {
    setOption,
    lock: (use) => (use.sharing === "shared" ? setOption(use, "sharing", "locked") : null),
    insertLineAfter: (offset, line) => ({ start: offset, end: offset, text: file.eol + line }),
    transforms: { lock: bundled(lock), split: bundled(split), merge: bundled(merge) },
  };
}
