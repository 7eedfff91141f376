// Process identity on Linux, for deciding whether a journal's owner still runs.
import { readFile } from 'node:fs/promises';
import type { JournalOwner } from './journal.ts';

/** processStartTime reads field 22 (starttime) of /proc/PID/stat, or 0 if the process is gone. */
export async function processStartTime(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return 0;
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[19]) || 0;
}

/** isOwnerAlive reports whether the process that wrote a journal is still the same running process. */
export async function isOwnerAlive(owner: JournalOwner): Promise<boolean> {
  const start = await processStartTime(owner.pid);
  if (start === 0) return false;
  return owner.startTime === 0 || owner.startTime === start;
}
