/**
 * Writing in place, atomically: a temp file in the same directory, the original's mode (and
 * owner when permitted), a check that the file did not change since it was read, then
 * rename. An interrupted or killed run leaves each file either original or fully rewritten;
 * a kill (SIGKILL, power loss) during a write can leave one `.<name>.buildrace-*.tmp` file.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { treeRootOf } from "../discover/discover";

/** Temp files of this process not yet renamed (removed if the process is interrupted). */
const pendingTemps = new Set<string>();
let handlerInstalled = false;

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

function installInterruptHandler(): void {
  if (handlerInstalled) return;
  handlerInstalled = true;
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    process.once(sig, () => {
      // JavaScript runs this between two writes, never inside one: files are whole either way
      for (const tmp of pendingTemps) {
        try {
          fs.unlinkSync(tmp);
        } catch {
          /* already renamed or never written */
        }
      }
      process.stderr.write(
        `\nbuildrace: interrupted (${sig}); every file is either unchanged or fully rewritten\n`,
      );
      process.exit(SIGNAL_EXIT[sig]);
    });
  }
}

/**
 * Awaited before each write of a bulk run: lets a pending SIGINT/SIGTERM run its handler
 * between two files, so an interrupt stops the run promptly (exit 130) with every file whole.
 * A loop of synchronous writeAtomic calls without it only sees the signal after the last file.
 */
export function betweenWrites(): Promise<void> {
  installInterruptHandler();
  return new Promise((resolve) => setImmediate(resolve));
}

/** The name of a temp file for `target`: hidden, next to it, unique to this process and call. */
export function tempNameFor(target: string): string {
  const rand = crypto.randomBytes(4).toString("hex");
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.buildrace-${process.pid}-${rand}.tmp`,
  );
}

/** Matches the temp files `writeAtomic` creates (to find leftovers of a killed run). */
export const TEMP_FILE_PATTERN = /^\..+\.buildrace-\d+-[0-9a-f]{8}\.tmp$/;

const inside = (root: string, p: string) => {
  const rel = path.relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/**
 * Replaces `file`'s content with `text` if it still holds `expected`. `root` is the tree the
 * file was found in (default: the directory or file's directory the user named, as recorded
 * by discover(), else the file's own directory); a file whose real path lies outside it —
 * reached through a symlink — is not written. Returns an error message instead of throwing.
 */
export function writeAtomic(
  file: string,
  expected: string,
  text: string,
  root: string = treeRootOf(file),
): string | undefined {
  installInterruptHandler();
  let tmp: string | undefined;
  try {
    const target = fs.realpathSync(file);
    const realRoot = fs.realpathSync(root);
    if (!inside(realRoot, target))
      return `resolves through a symlink to ${target}, outside ${root}: not written (fix the real file instead)`;
    const st = fs.statSync(target);
    if (!st.isFile()) return "not a regular file: not written";
    if (st.nlink > 1)
      return `has ${st.nlink} hard links: replacing it would split them; not written`;
    const current = fs.readFileSync(target);
    if (!current.equals(Buffer.from(expected, "utf8")))
      return "changed on disk since it was read: not written (run again)";
    tmp = tempNameFor(target);
    pendingTemps.add(tmp);
    const mode = st.mode & 0o7777;
    const fd = fs.openSync(tmp, "wx", mode);
    try {
      fs.writeFileSync(fd, text, "utf8");
      fs.fchmodSync(fd, mode); // the umask narrowed the mode given to open
      try {
        fs.fchownSync(fd, st.uid, st.gid);
      } catch {
        /* not permitted: keep the writer's ownership */
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // last look before the switch: someone may have saved the file while we wrote ours
    const now = fs.statSync(target);
    if (now.ino !== st.ino || now.size !== st.size || now.mtimeMs !== st.mtimeMs) {
      fs.unlinkSync(tmp);
      pendingTemps.delete(tmp);
      return "changed on disk while it was being rewritten: not written (run again)";
    }
    fs.renameSync(tmp, target);
    pendingTemps.delete(tmp);
    syncDir(path.dirname(target));
    return undefined;
  } catch (e) {
    if (tmp && pendingTemps.has(tmp)) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* nothing to clean */
      }
      pendingTemps.delete(tmp);
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT" && !tmp) return "no longer exists: not written";
    return `could not write: ${err.message}`;
  }
}

/** Makes the rename durable (best effort: not every platform can fsync a directory). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
