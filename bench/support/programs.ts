// Running the programs a bench drives: bounded runs that never throw (run),
// runs that throw with the program's own words (must), background programs
// stopped by process group (stop), and the undo list every step registers
// with (Cleanup).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** DEVNET_BIN is this checkout's CLI. */
export const DEVNET_BIN = join(import.meta.dirname, '../../bin/devnet.mjs');

/** Cleanup runs undo steps in reverse order, once, whatever happened before. */
export class Cleanup {
  #steps: { what: string; run: () => unknown }[] = [];
  #running: Promise<void> | undefined;

  /** add registers an undo step. */
  add(what: string, run: () => unknown): void {
    this.#steps.push({ what, run });
  }

  /**
   * run undoes everything registered, newest first; failures are reported, not
   * thrown. Every caller (a signal handler, the normal end) awaits the same run.
   */
  run(log: (s: string) => void): Promise<void> {
    this.#running ??= this.#undo(log);
    return this.#running;
  }

  async #undo(log: (s: string) => void): Promise<void> {
    for (const s of this.#steps.reverse()) {
      try {
        await s.run();
      } catch (err) {
        log(`cleanup: ${s.what}: ${(err as Error).message}`);
      }
    }
  }
}

/** signalGroup signals a background program's process group (it leads its own: see Lab.background). */
export function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
}

/** stop sends SIGTERM to a background program's group and resolves once it has exited (SIGKILL after 5 s). */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    signalGroup(child, 'SIGTERM');
  });
}

/** run executes a program and returns code and output without throwing. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      stderr += err.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** must is run() that throws with the program's stderr on a non-zero exit. */
export async function must(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().slice(-600)}`);
  return r.stdout;
}

/** pidAlive says whether a process runs (a zombie, killed but not yet reaped, does not). */
export function pidAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
