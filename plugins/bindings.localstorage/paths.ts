// Where a request's fileName lands under rootPath, and the refusal of any name that would land outside it.
//
// Two guards, because a symbolic link can change between a check and its use:
// - resolveFile walks the name one component at a time with lstat, follows every link (a dangling one too) with
//   readlink, refuses a link whose target is outside the root, and gives the real path it leads to;
// - openInside opens that path with O_NOFOLLOW and then asks the kernel where the opened file really is
//   (/proc/self/fd/N), so a link swapped in after the walk is caught before a byte is read or written.
import { constants } from "node:fs";
import { mkdir, open, readlink, realpath, lstat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { BindingRequestError } from "../../src/components/contracts/bindings.js";

/** Roots Dapr refuses too: kernel views, boot files, and the mounted Kubernetes service-account secrets. */
const DISALLOWED_ROOTS = ["/proc", "/sys", "/boot", "/var/run/secrets", "/run/secrets"];

/** Links followed in one name before giving up, as the kernel's ELOOP limit. */
const MAX_LINKS = 40;

export const within = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** The absolute real root for `rootPath` (relative to `baseDir`), created if missing, or a reason it cannot be one. */
export async function resolveRoot(rootPath: string, baseDir: string): Promise<string> {
  const disallowed = (p: string) => DISALLOWED_ROOTS.find((d) => within(d, p));
  const wanted = resolve(baseDir, rootPath);
  let bad = disallowed(wanted);
  if (bad) throw new Error(`points into ${bad}, which is not allowed`);
  await mkdir(wanted, { recursive: true });
  const root = await realpath(wanted);
  bad = disallowed(root);
  if (bad) throw new Error(`points into ${bad} (through a symbolic link), which is not allowed`);
  return root;
}

export interface Resolved {
  /** The real path the name leads to: no symbolic link in it (but a final one when `followLast` is false). */
  abs: string;
  /** The name relative to the root as the request wrote it, as answers report it; "." for the root. */
  rel: string;
}

/** The refusal of a request's fileName, naming the binding and the name. */
export function refusal(where: string, fileName: string, why: string): BindingRequestError {
  return new BindingRequestError(`${where}: metadata "fileName" ${why}, got ${JSON.stringify(fileName)}`);
}

/**
 * Resolves a request's fileName under `root` (a real path). Names that are absolute, climb with "..", or pass
 * through a symbolic link whose target lies outside the root are refused. `followLast: false` leaves a final link
 * itself (what delete removes).
 */
export async function resolveFile(root: string, fileName: string, where: string, { followLast = true } = {}): Promise<Resolved> {
  const refuse = (why: string) => refusal(where, fileName, why);
  if (fileName.includes("\0")) throw refuse("must not contain NUL");
  if (isAbsolute(fileName)) throw refuse("must be relative to rootPath, not absolute");
  if (fileName.split(/[\\/]/).includes("..")) throw refuse('must not contain ".." segments');
  const rel = relative(root, join(root, fileName)) || ".";

  const segments = (p: string) => p.split("/").filter((s) => s !== "" && s !== ".");
  const queue = segments(fileName);
  let cur = root;
  let missing = false;
  let links = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === "..") {
      // Only a link's target brings ".." here; the kernel resolves it against the real directory reached so far.
      if (missing) throw refuse("leads through a symbolic link into a missing directory");
      cur = dirname(cur);
      continue;
    }
    const next = join(cur, part);
    if (missing) {
      cur = next;
      continue;
    }
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch (err) {
      const code = codeOf(err);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      missing = true; // the rest of the name is created (create) or reported missing (the others)
      cur = next;
      continue;
    }
    if (!isLink || (!followLast && queue.length === 0)) {
      cur = next;
      continue;
    }
    if (++links > MAX_LINKS) throw refuse("passes through too many symbolic links");
    const target = await readlink(next);
    // A target is followed wherever it points (an absolute one may be spelled through a link to the root, as
    // rootPath itself may be): only where the whole name ends up counts, checked below.
    if (isAbsolute(target)) cur = "/";
    queue.unshift(...segments(target));
  }
  if (!within(root, cur)) throw refuse("leads outside rootPath through a symbolic link");
  return { abs: cur, rel };
}

/** Where the kernel says an open file is. */
async function openedPath(fh: FileHandle, path: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${fh.fd}`);
  } catch {
    return realpath(path); // no /proc (not Linux): the best available answer
  }
}

/**
 * Opens `abs` (from resolveFile) without following a final link and checks that the opened file is inside `root`;
 * O_NONBLOCK keeps a FIFO from blocking the open (callers refuse what is not a regular file). With O_CREAT, a file
 * this call created and then refuses is removed again, so a refused create leaves nothing outside the root.
 */
export async function openInside(root: string, abs: string, flags: number, refuse: (why: string) => Error): Promise<FileHandle> {
  const base = flags | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let fh: FileHandle;
  let created = false;
  if (flags & constants.O_CREAT) {
    try {
      fh = await open(abs, base | constants.O_EXCL, 0o666);
      created = true;
    } catch (err) {
      if (codeOf(err) !== "EEXIST") throw err;
      fh = await open(abs, base & ~constants.O_CREAT, 0o666); // it was there before: opened as it is
    }
  } else {
    fh = await open(abs, base, 0o666);
  }
  try {
    const opened = await openedPath(fh, abs);
    if (!within(root, opened)) {
      if (created) await removeIfSame(fh, opened);
      throw refuse("leads outside rootPath through a symbolic link");
    }
    return fh;
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/** Unlinks `path` if it still names the file `fh` has open (best effort: a refused create cleans up after itself). */
async function removeIfSame(fh: FileHandle, path: string): Promise<void> {
  try {
    const [open, there] = await Promise.all([fh.stat(), lstat(path)]);
    if (open.dev === there.dev && open.ino === there.ino) await unlink(path);
  } catch {
    // gone already, or no longer reachable: nothing to remove
  }
}

/**
 * Creates the missing directories of `dir` (a real path under `root`, from resolveFile) one level at a time, each
 * parent checked with lstat first, and refuses to go through a symbolic link. Best effort: a directory swapped for
 * a link between the lstat and the mkdir below it can still get one empty directory made where the link points
 * (Node has no mkdirat); openInside's check still keeps the file itself from being written there.
 */
export async function mkdirInside(root: string, dir: string, refuse: (why: string) => Error): Promise<void> {
  if (!within(root, dir)) throw refuse("leads outside rootPath through a symbolic link");
  let cur = root;
  for (const part of relative(root, dir).split(sep).filter((s) => s !== "")) {
    cur = join(cur, part);
    let st;
    try {
      st = await lstat(cur);
    } catch (err) {
      if (codeOf(err) !== "ENOENT") throw err;
      try {
        await mkdir(cur);
      } catch (e) {
        if (codeOf(e) !== "EEXIST") throw e;
      }
      st = await lstat(cur);
    }
    if (st.isSymbolicLink()) throw refuse("leads through a symbolic link that was swapped in");
    if (!st.isDirectory()) throw Object.assign(new Error(`not a directory: ${cur}`), { code: "ENOTDIR" });
  }
}
