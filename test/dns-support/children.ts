// Running the roles of dns-support/laptop.ts inside test namespaces, and
// stopping them like `devnet quit` (SIGTERM) or a crash (SIGKILL).
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Netns } from '../support/netns.ts';

const script = resolve(import.meta.dirname, 'laptop.ts');
const started: ChildProcess[] = [];

/** startRole runs laptop.ts with args inside ns and resolves once it prints "ready". */
export function startRole(ns: Netns, args: object): Promise<ChildProcess> {
  return new Promise((ready, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, script, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${JSON.stringify(args)} did not start: ${err}`)), 15_000);
    child.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(timer);
        ready(child);
      }
    });
    child.stderr?.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('ready')) reject(new Error(`${JSON.stringify(args)} exited ${code}: ${err}`));
    });
  });
}

/** stopRole signals a child and waits for it to exit. */
export async function stopRole(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    child.once('exit', () => done());
    child.kill(signal);
  });
}

/** killAllRoles kills every child still running (for after.always hooks). */
export function killAllRoles(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  started.length = 0;
}
