// Process identity on Linux, for deciding whether a journal's owner still runs.
import { readFile } from 'node:fs/promises';
import type { JournalOwner } from '../journal/journal.ts';

/** ProcStat is what we read from /proc/PID/stat (proc(5)). */
export interface ProcStat {
  /** state is field 3: R, S, D, Z (zombie), X (dead), … */
  state: string;
  /** startTime is field 22: clock ticks after boot. */
  startTime: number;
}

/** parseProcStat reads the fields we need; the command name (field 2) may hold spaces and parentheses. */
export function parseProcStat(stat: string): ProcStat | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = stat.slice(close + 2).split(' ');
  const startTime = Number(rest[19]);
  if (!rest[0] || !Number.isFinite(startTime)) return undefined;
  return { state: rest[0], startTime };
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined ? undefined : parseProcStat(stat);
}

/** processStartTime reads the start time of a process, or 0 if it is gone. */
export async function processStartTime(pid: number): Promise<number> {
  return (await procStat(pid))?.startTime ?? 0;
}

/**
 * isOwnerAlive reports whether the process that wrote a journal is still the
 * same running process. A zombie (killed, not yet reaped) is not alive: it
 * will never undo anything.
 */
export async function isOwnerAlive(owner: JournalOwner): Promise<boolean> {
  const st = await procStat(owner.pid);
  if (!st || st.state === 'Z' || st.state === 'X' || st.state === 'x') return false;
  return owner.startTime === 0 || owner.startTime === st.startTime;
}
