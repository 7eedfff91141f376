// An unprivileged local user for adversarial tests: a uid with no passwd
// entry (nothing to add or remove on the host), and a way to run programs as
// it inside a test network namespace (setpriv drops root after `ip netns
// exec`). It is the user of the threat model who may run `sudo devnet
// connect` and nothing else (docs/security.md).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Netns } from './netns.ts';

/** freeUid picks a uid no account uses (from 61000 up, offset by the test's pid so parallel files differ). */
export function freeUid(): number {
  const used = new Set(
    readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => Number(l.split(':')[2])),
  );
  for (let uid = 61000 + (process.pid % 3000); ; uid++) if (!used.has(uid)) return uid;
}

/** Ran is a finished command. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** asUser runs cmd as uid:uid (no supplementary groups) inside ns; it never throws. */
export function asUser(ns: Netns, uid: number, cmd: string, args: string[], timeout = 30_000): Promise<Ran> {
  const argv = [
    'netns',
    'exec',
    ns.name,
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${uid}`,
    '--clear-groups',
    '--',
    cmd,
    ...args,
  ];
  return new Promise((resolve) => {
    execFile(
      'ip',
      argv,
      { encoding: 'utf8', timeout, env: { ...process.env, HOME: '/nonexistent' } },
      (err, so, se) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(so), stderr: String(se) });
      },
    );
  });
}
