// Locks between processes, with flock(1): a holder child takes the lock and
// keeps it while it can read our stdin, so the lock is released when we let
// go (ending its stdin) or when this process dies, however it dies (no stale
// lock files).
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Release lets go of a lock; it resolves once the lock is free. */
export type Release = () => Promise<void>;

function releaser(holder: ChildProcess): Release {
  return () =>
    new Promise((resolve) => {
      if (holder.exitCode !== null || holder.signalCode !== null) return resolve();
      holder.once('exit', () => resolve());
      holder.stdin?.end();
    });
}

/** holdLock takes an flock(1) lock (exclusive or shared) and resolves with its release. */
export function holdLock(path: string, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<Release> {
  const holder: ChildProcess = spawn(
    'flock',
    [mode === 'shared' ? '-s' : '-x', path, '-c', 'echo locked; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: holder.stdout as NodeJS.ReadableStream });
    lines.once('line', () => resolve(releaser(holder)));
    holder.once('error', reject);
    holder.once('exit', (code) => reject(new Error(`flock ${path} exited with ${code}`)));
  });
}

/** tryLock takes an exclusive lock only if nobody holds it; it resolves with its release, or undefined. */
export function tryLock(path: string): Promise<Release | undefined> {
  const holder: ChildProcess = spawn('flock', ['-xn', path, '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    const lines = createInterface({ input: holder.stdout as NodeJS.ReadableStream });
    lines.once('line', () => resolve(releaser(holder)));
    holder.once('error', () => resolve(undefined));
    holder.once('exit', () => resolve(undefined));
  });
}
