// How root touches files without following a path an unprivileged user
// controls (docs/security.md, "a local unprivileged user"). The user's own
// folder (/run/devnet/user-UID) is writable by that user, so anything in it
// may be a symlink, a FIFO or a hard link planted to make root open, create,
// chown or connect to something else. Root therefore:
// - opens files there with O_NOFOLLOW (and O_EXCL when creating), then checks
//   the descriptor (fstat) — never the path — before using it;
// - connects to sockets there through an O_PATH descriptor it has checked
//   (connect(2) on /proc/self/fd/N reaches exactly that inode; open(2)),
//   so a swap between check and use is impossible;
// - uses its own directories (run, state, policy) only after checking that
//   every component of their real path is owned by root and not writable by
//   others (sticky directories such as /tmp excepted, as for sudoers).
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { DevnetError } from '../errors.ts';
import type { ConnectTarget } from './transport.ts';

// O_PATH (open(2)): a descriptor that names an inode without opening it; 010000000 on every Linux architecture Node supports.
const O_PATH = 0o10000000;
const { O_NOFOLLOW, O_CREAT, O_EXCL, O_WRONLY, O_APPEND, O_NONBLOCK, O_RDONLY, O_DIRECTORY } = constants;

function refuse(path: string, problem: string): DevnetError {
  return new DevnetError('user', `${path} ${problem}; devnet, running as root, will not use it`, {
    hint: `Remove it (rm -rf ${path}) and run the command again.`,
  });
}

function kind(st: Stats): string {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (st.isDirectory()) return 'is a directory';
  if (st.isFIFO()) return 'is a FIFO';
  if (st.isSocket()) return 'is a socket';
  if (st.isFile()) return 'is a regular file';
  return 'is a device or other special file';
}

function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * userSocket checks that path is a socket owned by uid (not a symlink, not
 * someone else's) and returns a target that connects to exactly that inode.
 * A missing socket throws ENOENT like connect(2) would.
 */
export function userSocket(path: string, uid: number): ConnectTarget {
  const fd = openSync(path, O_PATH | O_NOFOLLOW);
  return withFd(fd, () => {
    const st = fstatSync(fd);
    if (!st.isSocket()) throw refuse(path, kind(st));
    if (st.uid !== uid) throw refuse(path, `belongs to uid ${st.uid}, not to uid ${uid}`);
    return { path, via: `/proc/self/fd/${fd}`, release: () => closeSync(fd) };
  });
}

/**
 * openUserLog opens path, in the user's folder, for appending on behalf of
 * uid: it creates a new file (O_EXCL, then owned by the user) or opens an
 * existing one without following a symlink, and accepts only a regular file
 * with one link that the user owns. The descriptor is the caller's to close.
 */
export function openUserLog(path: string, uid: number, gid: number): number {
  const flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK;
  let fd: number;
  try {
    fd = openSync(path, flags | O_CREAT | O_EXCL, 0o600);
    return withFd(fd, () => {
      fchownSync(fd, uid, gid);
      return fd;
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  try {
    fd = openSync(path, flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw refuse(path, 'is a symbolic link');
    if (code === 'ENXIO') throw refuse(path, 'is a FIFO');
    throw err;
  }
  return withFd(fd, () => {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(path, kind(st));
    if (st.nlink !== 1) throw refuse(path, `has ${st.nlink} hard links`);
    if (st.uid !== uid) throw refuse(path, `belongs to uid ${st.uid}, not to uid ${uid}`);
    return fd;
  });
}

/**
 * ensureUserDir makes dir (in a root-controlled parent) the user's private
 * folder: created if missing, never through a symlink, owned by uid:gid,
 * mode 0700. A folder another user owns is refused.
 */
export function ensureUserDir(dir: string, uid: number, gid: number): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let fd: number;
  try {
    fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP): say what is there.
    if (code === 'ELOOP' || code === 'ENOTDIR') throw refuse(dir, kind(lstatSync(dir)));
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (st.uid !== uid && st.uid !== 0) throw refuse(dir, `belongs to uid ${st.uid}, not to uid ${uid}`);
    fchownSync(fd, uid, gid);
    fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

/**
 * checkRootControlled verifies that no unprivileged user can change what
 * path names: every component of its real path is owned by root and not
 * writable by group or others, except sticky directories (like /tmp) on
 * the way. A missing path is checked up to its nearest existing ancestor.
 */
export function checkRootControlled(path: string, what: string): void {
  let existing = path;
  for (;;) {
    try {
      existing = realpathSync(existing);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(existing) === existing) throw err;
      existing = dirname(existing);
    }
  }
  const parts = existing.split(sep).filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = join(sep, ...parts.slice(0, i));
    const st = lstatSync(p);
    const last = i === parts.length;
    const sticky = (st.mode & 0o1000) !== 0 && st.isDirectory() && !last;
    if (st.uid !== 0)
      throw new DevnetError('config', `${what} ${path} is not safe for root: ${p} belongs to uid ${st.uid}`, {
        hint: `Use a location only root can change (devnet's defaults are /run/devnet, /var/lib/devnet, /etc/devnet).`,
      });
    if ((st.mode & 0o022) !== 0 && !sticky)
      throw new DevnetError('config', `${what} ${path} is not safe for root: ${p} is writable by other users`, {
        hint: `Run \`chmod go-w ${p}\` or use a location only root can change.`,
      });
  }
}

/** ensureRootDir creates dir (mode) if missing and checks that only root controls it. */
export function ensureRootDir(dir: string, mode: number, what: string): void {
  checkRootControlled(dir, what);
  mkdirSync(dir, { recursive: true, mode });
  checkRootControlled(dir, what);
}
