/**
 * Writing in place, atomically: a temp file in the same directory, the original's mode,
 * a check that the file did not change since it was read, then rename. An interrupted run
 * leaves each file either original or fully rewritten.
 */
import * as fs from "fs";
import * as path from "path";

let pendingTemp: string | null = null;
let handlerInstalled = false;

function installInterruptHandler(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      if (pendingTemp) {
        try {
          fs.unlinkSync(pendingTemp);
        } catch {
          /* already renamed or never written */
        }
      }
      process.stderr.write(
        `\nbuildrace: interrupted; every file is either unchanged or fully rewritten\n`,
      );
      process.exit(130);
    });
  }
}

/**
 * Replaces `file`'s content with `text` if it still holds `expected`.
 * Returns an error message instead of throwing.
 */
export function writeAtomic(
  file: string,
  expected: string,
  text: string,
  root = process.cwd(),
): string | undefined {
  installInterruptHandler();
  let target = file;
  try {
    const lst = fs.lstatSync(file);
    if (lst.isSymbolicLink()) {
      target = fs.realpathSync(file);
      const rel = path.relative(fs.realpathSync(root), target);
      if (rel.startsWith("..") || path.isAbsolute(rel))
        return `is a symlink to ${target}, outside ${root}: not written (fix the real file instead)`;
    }
    const st = fs.statSync(target);
    const current = fs.readFileSync(target);
    if (!current.equals(Buffer.from(expected, "utf8")))
      return "changed on disk since it was read: not written (run again)";
    const tmp = path.join(
      path.dirname(target),
      `.${path.basename(target)}.buildrace-${process.pid}.tmp`,
    );
    pendingTemp = tmp;
    const fd = fs.openSync(tmp, "wx", st.mode & 0o7777);
    try {
      fs.writeFileSync(fd, text, "utf8");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.chmodSync(tmp, st.mode & 0o7777);
    try {
      fs.chownSync(tmp, st.uid, st.gid);
    } catch {
      /* not permitted: keep the writer's ownership */
    }
    fs.renameSync(tmp, target);
    pendingTemp = null;
    return undefined;
  } catch (e) {
    if (pendingTemp) {
      try {
        fs.unlinkSync(pendingTemp);
      } catch {
        /* nothing to clean */
      }
      pendingTemp = null;
    }
    return `could not write: ${(e as Error).message}`;
  }
}
