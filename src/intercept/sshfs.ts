// The laptop's side of claim volumes: for each PersistentVolumeClaim the
// intercept pod serves, connect to its volume listener (through the TUN and
// the one tunnel, to the pod's IP), present the token (sftp-auth.ts), and
// hand that connection to Debian's `sshfs -o slave` as its stdin and stdout,
// which mounts it read-only at DIR + mountPath. sshfs runs as the user, needs
// /dev/fuse and fusermount3 (package fuse3, a dependency of sshfs), and ends —
// unmounting — when the connection ends.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { VolumeReport } from './laptop.ts';
import { dialSftp } from './sftp-auth.ts';

/** SSHFS_INSTALL tells people how to get sshfs. */
export const SSHFS_INSTALL =
  'sudo apt-get install sshfs (Debian, Ubuntu), sudo dnf install fuse-sshfs (Fedora), sudo pacman -S sshfs (Arch)';

/** findProgram looks a program up on PATH. */
export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** isMountPoint says whether `path` is a mount point in this process's mount namespace. */
export function isMountPoint(path: string, mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  // Field 5 of each line is the mount point, with space, tab, newline and backslash octal-escaped.
  const esc = path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mountinfo()
    .split('\n')
    .some((line) => line.split(' ')[4] === esc);
}

/** ClaimMount is one running sshfs. */
export interface MountedClaim {
  path: string;
  child: ChildProcess;
}

/** MountResult lists what was mounted and what was not (with why). */
export interface MountResult {
  mounted: MountedClaim[];
  failed: { path: string; why: string }[];
}

/**
 * mountClaims starts one sshfs per claim volume. `detached` sshfs processes
 * outlive this process (the intercept stays after the CLI returns).
 */
export async function mountClaims(
  dir: string,
  volumes: VolumeReport[],
  sftp: { host: string; port: number; token: string },
  detached: boolean,
): Promise<MountResult> {
  const out: MountResult = { mounted: [], failed: [] };
  const claims = volumes.filter((v) => v.how === 'claim' && v.podPath);
  if (claims.length === 0) return out;
  const sshfs = findProgram('sshfs');
  if (!sshfs) {
    for (const v of claims)
      out.failed.push({ path: join(dir, v.mountPath), why: `sshfs is not installed: ${SSHFS_INSTALL}` });
    return out;
  }
  for (const v of claims) {
    const path = join(dir, v.mountPath);
    try {
      mkdirSync(path, { recursive: true });
      const sock = await dialSftp(sftp.host, sftp.port, sftp.token);
      const child = spawn(
        sshfs,
        [
          '-o',
          // slave: SFTP over stdin/stdout; ro: read-only; short caches: the claim's files change under us.
          'slave,ro,dir_cache=no,attr_timeout=1,entry_timeout=1,negative_timeout=1',
          `devnet:${v.podPath}`,
          path,
        ],
        { stdio: [sock, sock, 'pipe'], detached },
      );
      sock.destroy(); // sshfs holds its own copy of the connection
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000);
      });
      const ok = await waitMounted(path, child, 10_000);
      if (!ok) {
        child.kill('SIGTERM');
        out.failed.push({ path, why: `sshfs did not mount it${stderr ? `: ${stderr.trim()}` : ''}` });
        continue;
      }
      if (detached) {
        child.stderr?.destroy();
        child.unref();
      }
      out.mounted.push({ path, child });
    } catch (err) {
      out.failed.push({ path, why: (err as Error).message });
    }
  }
  return out;
}

function waitMounted(path: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(false);
      if (isMountPoint(path)) return resolve(true);
      if (Date.now() > deadline) return resolve(false);
      setTimeout(tick, 50);
    };
    tick();
  });
}

/** unmountClaims stops sshfs processes (which unmount on SIGTERM) and waits for them. */
export async function unmountClaims(mounted: MountedClaim[]): Promise<void> {
  await Promise.all(
    mounted.map(
      (m) =>
        new Promise<void>((resolve) => {
          if (m.child.exitCode !== null || m.child.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            m.child.kill('SIGKILL');
            resolve();
          }, 5000);
          m.child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          m.child.kill('SIGTERM');
        }),
    ),
  );
}

/** unmountFuse asks fusermount to detach a FUSE mount (lazily); errors (not mounted, no fusermount) are ignored. */
export function unmountFuse(path: string): Promise<void> {
  return new Promise((resolve) => {
    execFile('fusermount3', ['-u', '-z', '-q', path], { timeout: 5000 }, (err) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT')
        execFile('fusermount', ['-u', '-z', '-q', path], { timeout: 5000 }, () => resolve());
      else resolve();
    });
  });
}
