// A read-only SFTP v3 server (draft-ietf-secsh-filexfer-02) over any byte
// stream, run by the intercept pod to serve the PersistentVolumeClaims it
// mounts read-only; the laptop runs Debian's `sshfs -o slave` on the other
// end of one tunnel channel, as Telepresence does. The packet codec is
// ssh2's SFTP class (docs/dependencies.md); this file gives it a stream
// instead of an SSH channel and answers the requests sshfs sends from the
// file system below `root`. Every path is resolved (symlinks followed) and
// must stay below `root`; anything that would write is refused.
import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, opendir, readlink, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';

const require = createRequire(import.meta.url);
// ssh2 exports the SFTP packet class only from this file; pinned in package.json (its constructor contract below).
const { SFTP, STATUS_CODE } = require('ssh2/lib/protocol/SFTP.js') as {
  SFTP: new (client: unknown, chanInfo: unknown, cfg: { server: boolean }) => SftpPeer;
  STATUS_CODE: Record<'OK' | 'EOF' | 'NO_SUCH_FILE' | 'PERMISSION_DENIED' | 'FAILURE' | 'OP_UNSUPPORTED', number>;
};

/** SftpAttrs are the file attributes an SFTP v3 NAME or ATTRS packet carries. */
interface SftpAttrs {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
}

// The part of ssh2's server-mode SFTP object used here.
interface SftpPeer {
  push(data: Buffer | null): void;
  on(event: string, listener: (...args: never[]) => void): void;
  handle(reqid: number, handle: Buffer): void;
  status(reqid: number, code: number, message?: string): void;
  data(reqid: number, data: Buffer): void;
  name(reqid: number, names: { filename: string; longname: string; attrs?: SftpAttrs }[]): void;
  attrs(reqid: number, attrs: SftpAttrs): void;
}

/** MAX_HANDLES bounds the open files and directories of one SFTP session. */
export const MAX_HANDLES = 256;
/** READDIR_PAGE is how many entries one READDIR answer carries. */
export const READDIR_PAGE = 100;
/** MAX_READ bounds one READ's answer (sshfs asks for 32–64 KiB). */
export const MAX_READ = 64 * 1024;

type Listing = { filename: string; longname: string; attrs: SftpAttrs }[];
type Open = { file: FileHandle } | { dir: string; pending: Promise<Listing> | undefined };

function attrsOf(s: Stats): SftpAttrs {
  return {
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    atime: Math.floor(s.atimeMs / 1000),
    mtime: Math.floor(s.mtimeMs / 1000),
  };
}

function longname(name: string, s: Stats): string {
  const type = s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : '-';
  const rwx = (m: number) => `${m & 4 ? 'r' : '-'}${m & 2 ? 'w' : '-'}${m & 1 ? 'x' : '-'}`;
  const perms = `${type}${rwx(s.mode >> 6)}${rwx(s.mode >> 3)}${rwx(s.mode)}`;
  return `${perms} 1 ${s.uid} ${s.gid} ${s.size} ${new Date(s.mtimeMs).toISOString().slice(0, 16)} ${name}`;
}

function errorCode(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return STATUS_CODE.NO_SUCH_FILE;
  if (code === 'EACCES' || code === 'EPERM') return STATUS_CODE.PERMISSION_DENIED;
  return STATUS_CODE.FAILURE;
}

/** SftpServerOptions say what to serve. */
export interface SftpServerOptions {
  /** root is the directory clients see as `/` (an absolute, symlink-free path). */
  root: string;
  /** onError is told why a session ended badly (malformed packets, stream errors). */
  onError?: (err: Error) => void;
}

/**
 * serveSftp answers SFTP requests arriving on `stream` until it ends. Paths
 * are relative to `root`; a path whose real location (symlinks followed)
 * leaves `root` does not exist for the client. Writes are refused.
 */
export function serveSftp(stream: Duplex, opts: SftpServerOptions): void {
  const root = posix.normalize(opts.root);
  const handles = new Map<number, Open>();
  let nextHandle = 1;
  // The object ssh2's SFTP writes through in place of an SSH connection; `window` and
  // `packetSize` bound SSH channel flow control, which a plain stream does not have.
  const outgoing = { id: 0, state: 'open', window: Number.MAX_SAFE_INTEGER, packetSize: 1 << 30 };
  const protocol = {
    _remoteIdentRaw: undefined,
    channelData: (_id: number, data: Buffer) => {
      if (!stream.destroyed) stream.write(data);
    },
    channelClose: () => stream.end(),
  };
  const sftp = new SFTP({ _protocol: protocol }, { type: 'sftp', incoming: {}, outgoing }, { server: true });
  stream.on('data', (d: Buffer) => sftp.push(d));
  const finish = () => {
    outgoing.state = 'closed';
    for (const h of handles.values()) if ('file' in h) void h.file.close().catch(() => undefined);
    handles.clear();
  };
  stream.on('end', () => {
    sftp.push(null);
    stream.end();
    finish();
  });
  stream.on('close', finish);
  stream.on('error', (err) => opts.onError?.(err));
  sftp.on('error', (err: Error) => {
    opts.onError?.(err);
    stream.destroy();
  });

  // inside maps a client path to a local one below root, symlinks resolved; undefined when it leaves root.
  const inside = async (path: string, follow = true): Promise<string | undefined> => {
    const local = posix.join(root, posix.normalize(`/${path}`));
    const real = follow
      ? await realpath(local)
      : posix.join(await realpath(posix.dirname(local)), posix.basename(local));
    return real === root || real.startsWith(`${root}/`) ? real : undefined;
  };
  const newHandle = (h: Open): Buffer | undefined => {
    if (handles.size >= MAX_HANDLES) return undefined;
    const id = nextHandle++;
    handles.set(id, h);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return b;
  };
  const list = async (dir: string): Promise<Listing> => {
    const names: Listing = [];
    for await (const d of await opendir(dir)) {
      const s = await lstat(posix.join(dir, d.name)).catch(() => undefined);
      if (s) names.push({ filename: d.name, longname: longname(d.name, s), attrs: attrsOf(s) });
    }
    for (const dot of ['.', '..']) {
      const s = await stat(posix.join(dir, dot));
      names.push({ filename: dot, longname: longname(dot, s), attrs: attrsOf(s) });
    }
    return names;
  };
  const handleOf = (b: Buffer): Open | undefined => (b.length === 4 ? handles.get(b.readUInt32BE()) : undefined);
  const fail = (reqid: number, err: unknown) => sftp.status(reqid, errorCode(err));
  const noSuch = (reqid: number) => sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE);
  const readOnly = (reqid: number) => sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'read-only');

  const statAt = (follow: boolean) => async (reqid: number, path: string) => {
    try {
      const p = await inside(path, follow);
      if (!p) return noSuch(reqid);
      sftp.attrs(reqid, attrsOf(follow ? await stat(p) : await lstat(p)));
    } catch (err) {
      fail(reqid, err);
    }
  };
  sftp.on('STAT', statAt(true));
  sftp.on('LSTAT', statAt(false));
  sftp.on('REALPATH', async (reqid: number, path: string) => {
    try {
      const p = await inside(path);
      if (!p) return noSuch(reqid);
      const rel = `/${posix.relative(root, p)}`;
      sftp.name(reqid, [{ filename: rel, longname: rel }]);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('READLINK', async (reqid: number, path: string) => {
    try {
      const p = await inside(path, false);
      if (!p) return noSuch(reqid);
      const target = await readlink(p);
      sftp.name(reqid, [{ filename: target, longname: target }]);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('OPEN', async (reqid: number, path: string, flags: number) => {
    // SSH2_FXF_READ is 1; any write, create, truncate or append flag is refused.
    if (flags !== 1) return readOnly(reqid);
    try {
      const p = await inside(path);
      if (!p) return noSuch(reqid);
      const file = await open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
      const h = newHandle({ file });
      if (!h) {
        await file.close();
        return sftp.status(reqid, STATUS_CODE.FAILURE, 'too many open files');
      }
      sftp.handle(reqid, h);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('READ', async (reqid: number, handle: Buffer, offset: number, length: number) => {
    const h = handleOf(handle);
    if (!h || !('file' in h)) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    try {
      const buf = Buffer.alloc(Math.min(length, MAX_READ));
      const { bytesRead } = await h.file.read(buf, 0, buf.length, offset);
      if (bytesRead === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.data(reqid, buf.subarray(0, bytesRead));
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('FSTAT', async (reqid: number, handle: Buffer) => {
    const h = handleOf(handle);
    if (!h || !('file' in h)) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    try {
      sftp.attrs(reqid, attrsOf(await h.file.stat()));
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('OPENDIR', async (reqid: number, path: string) => {
    try {
      const p = await inside(path);
      if (!p) return noSuch(reqid);
      if (!(await stat(p)).isDirectory()) return noSuch(reqid);
      const h = newHandle({ dir: p, pending: undefined });
      if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE, 'too many open directories');
      sftp.handle(reqid, h);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('READDIR', async (reqid: number, handle: Buffer) => {
    const h = handleOf(handle);
    if (!h || !('dir' in h)) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    try {
      // sshfs sends several READDIRs at once: they share one listing, handed out a page at a time.
      h.pending ??= list(h.dir);
      const names = await h.pending;
      // A page per READDIR keeps each packet small; an empty page is the end (EOF).
      const page = names.splice(0, READDIR_PAGE);
      if (page.length === 0) sftp.status(reqid, STATUS_CODE.EOF);
      else sftp.name(reqid, page);
    } catch (err) {
      fail(reqid, err);
    }
  });
  sftp.on('CLOSE', async (reqid: number, handle: Buffer) => {
    const h = handleOf(handle);
    if (!h) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
    handles.delete(handle.readUInt32BE());
    if ('file' in h) await h.file.close().catch(() => undefined);
    sftp.status(reqid, STATUS_CODE.OK);
  });
  for (const write of ['WRITE', 'SETSTAT', 'FSETSTAT', 'REMOVE', 'MKDIR', 'RMDIR', 'RENAME', 'SYMLINK'])
    sftp.on(write, (reqid: number) => readOnly(reqid));
}
