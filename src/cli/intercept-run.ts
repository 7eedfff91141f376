// Running `devnet intercept ... -- CMD ARGS...`: CMD gets this process's
// environment with the pod's on top (PATH and HOME stay this machine's) and
// DEVNET_ROOT; signals sent to devnet are passed on; when CMD ends, the
// claim mounts are unmounted and the intercept left (unless --keep), and
// devnet exits with CMD's status (128 + the signal number if a signal ended it).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type MountedClaim, unmountClaims, unmountFuse } from '../intercept/sshfs.ts';

/** FORWARDED are the signals passed on to the command. */
export const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGINT'];

/** KEPT_LOCAL are variables the pod's environment never replaces (the pod's would break local commands). */
export const KEPT_LOCAL = ['PATH', 'HOME'];

/** commandEnv merges the pod's environment over this one, keeping KEPT_LOCAL. */
export function commandEnv(local: NodeJS.ProcessEnv, pod: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...local, ...pod };
  for (const k of KEPT_LOCAL) if (local[k] !== undefined) out[k] = local[k];
  return out;
}

/** exitStatus is the shell's convention: the exit code, or 128 + the number of the signal that ended it. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/** RunOptions describe the command and what to undo after it. */
export interface RunOptions {
  command: string[];
  env: Record<string, string>;
  mounts: MountedClaim[];
  leave: (() => Promise<void>) | undefined;
}

/** runCommand runs the command to its end and returns its exit status. */
export async function runCommand(o: RunOptions): Promise<number> {
  const [cmd, ...args] = o.command as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: 'inherit', env: commandEnv(process.env, o.env) });
  // A terminal's Ctrl-C already reaches the command (same foreground process group); pass SIGINT on only
  // when it cannot have come from a terminal, so the command does not get it twice.
  const forward = (sig: NodeJS.Signals) => {
    if (sig === 'SIGINT' && process.stdin.isTTY) return;
    child.kill(sig);
  };
  for (const s of FORWARDED) process.on(s, forward);
  const status = await new Promise<number>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`devnet: cannot run ${cmd}: ${err.code === 'ENOENT' ? 'no such command' : err.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
  // Until the intercept is left, a second signal must not kill devnet half way.
  const ignore = () => undefined;
  for (const s of FORWARDED) {
    process.off(s, forward);
    process.on(s, ignore);
  }
  await unmountClaims(o.mounts);
  for (const m of o.mounts) await unmountFuse(m.path);
  if (o.leave)
    await o
      .leave()
      .catch((err: Error) => process.stderr.write(`devnet: leaving the intercept failed: ${err.message}\n`));
  for (const s of FORWARDED) process.off(s, ignore);
  return status;
}
