// The pod runner's volume mounts, made in the pod's own mount namespace
// (never the node's): each volume directory is bind-mounted at its
// container path, read-only where the volume is. The sandbox shares the
// node's root file system, so a mount point that does not exist (/etc/hello)
// cannot simply be created: its deepest existing ancestor (/etc) first gets
// an overlay whose upper layer is a tmpfs private to the pod, and the mount
// point is made there. Files bind-mounted inside that ancestor before (the
// pod's /etc/resolv.conf from `ip netns exec`) are written into the overlay
// again. A mount point directly below / is refused (an overlay on / would
// hide /proc and /dev).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import type { VolumeMount } from './pod-plan.ts';

const run = promisify(execFile);

/** mountPoints lists the mount points of this mount namespace (from /proc/self/mountinfo, unescaped). */
export function mountPoints(info = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  return info
    .split('\n')
    .filter(Boolean)
    .map((l) =>
      (l.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))),
    );
}

/** existingAncestor returns the deepest existing ancestor of `path` (symlinks resolved) and what is left below it. */
export function existingAncestor(
  path: string,
  exists: (p: string) => boolean = existsSync,
): { ancestor: string; rest: string[] } {
  const parts = path.split(sep).filter(Boolean);
  let i = parts.length;
  while (i > 0 && !exists(`/${parts.slice(0, i).join('/')}`)) i--;
  const ancestor = i === 0 ? '/' : realpathSync(`/${parts.slice(0, i).join('/')}`);
  return { ancestor, rest: parts.slice(i) };
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/** mountVolumes makes a pod's volume mounts; `owned` are directories already private to the pod (its /run). */
export async function mountVolumes(mounts: VolumeMount[], stagingDir: string, owned: string[]): Promise<void> {
  if (mounts.length === 0) return;
  // `ip netns exec` gave us our own mount namespace (slave to the kubelet's); never mount in the kubelet's.
  if (readlinkSync('/proc/self/ns/mnt') === readlinkSync(`/proc/${process.ppid}/ns/mnt`))
    throw new Error('not in a private mount namespace');
  mkdirSync(stagingDir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'devnet-pod-overlays', stagingDir]);
  const writable = [...owned];
  let n = 0;
  const seen = new Set<string>();
  for (const m of [...mounts].sort((a, b) => a.target.length - b.target.length)) {
    if (seen.has(m.target)) continue;
    seen.add(m.target);
    const isFile = statSync(m.source).isFile();
    const { ancestor, rest } = existingAncestor(m.target);
    const target = join(ancestor, ...rest);
    if (rest.length > 0 && !writable.some((w) => under(ancestor, w))) {
      if (ancestor === '/')
        throw new Error(
          `cannot make ${m.target}: the sandbox makes mount points only below an existing directory other than /`,
        );
      // Keep the contents of files mounted inside the ancestor (resolv.conf): the overlay hides those mounts.
      // Only /etc holds such files (`ip netns exec` binds /etc/netns/NAME/* there).
      const kept = mountPoints()
        .filter((p) => p.startsWith(`${ancestor}/`) && p.startsWith('/etc/') && existsSync(p) && statSync(p).isFile())
        .map((p) => ({ p, data: readFileSync(p) }));
      const upper = join(stagingDir, `upper${n}`);
      const work = join(stagingDir, `work${n++}`);
      mkdirSync(upper);
      mkdirSync(work);
      await run('mount', [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${ancestor},upperdir=${upper},workdir=${work}`,
        ancestor,
      ]);
      for (const k of kept) writeFileSync(k.p, k.data);
      writable.push(ancestor);
    }
    if (!existsSync(target)) {
      mkdirSync(isFile ? dirname(target) : target, { recursive: true });
      if (isFile) writeFileSync(target, '');
    }
    await run('mount', ['--bind', m.source, target]);
    if (m.readOnly) await run('mount', ['-o', 'remount,bind,ro', target]);
  }
}
