// machineUndoEnv replays undo steps on the real machine: commands, files and
// processes (journal.ts UndoEnv). Used by the root helper, the CLI's repair
// of a crashed session and the sandbox.
import { readFileSync } from 'node:fs';
import { rm, rmdir, writeFile } from 'node:fs/promises';
import { execArgv } from '../helper/exec.ts';
import type { UndoEnv } from './journal.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** processStartText reads a process's start time (field 22 of /proc/PID/stat, proc(5)), so a recycled pid is never taken for it. */
export function processStartText(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

// still says whether pid is the process that started at `start`.
async function still(pid: number, start: string): Promise<boolean> {
  return processStartText(pid) === start;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/** stopProcessGroup ends the group led by pid (TERM, then KILL after 3 s) if pid is still the process recorded. */
export async function stopProcessGroup(pid: number, start: string): Promise<string | undefined> {
  if (!(await still(pid, start))) return undefined;
  signal(pid, 'SIGTERM');
  for (let i = 0; i < 60; i++) {
    if (!(await still(pid, start))) return undefined;
    await sleep(50);
  }
  signal(pid, 'SIGKILL');
  for (let i = 0; i < 40; i++) {
    if (!(await still(pid, start))) return undefined;
    await sleep(50);
  }
  return `process ${pid} did not exit`;
}

/** machineUndoEnv is the real machine for journal replay. */
export const machineUndoEnv: UndoEnv = {
  exec: execArgv,
  writeFile: (path, data, mode) => writeFile(path, data, mode === undefined ? undefined : { mode }),
  removeFile: (path) => rm(path, { force: true }),
  removeTree: (path) => rm(path, { recursive: true, force: true }),
  removeEmptyDir: (path) => rmdir(path).catch(() => undefined),
  stopProcess: stopProcessGroup,
};
