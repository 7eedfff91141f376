// Where a figure's CPU time goes, process by process (issue 17: "measure
// where the time goes"). Every process's utime + stime from /proc/PID/stat
// (proc(5), fields 14 and 15, in USER_HZ ticks) and the machine's busy time
// from /proc/stat are read before and after a measurement; the difference,
// over the wall time between, is each process's share of one CPU. A process
// that started and ended between the two readings (a short-lived client) is
// not seen on its own: its time falls in `other`, with interrupt time the
// kernel charged to no process.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ is the unit of /proc's CPU times on Linux. */
const USER_HZ = 100;

/** CpuSnapshot is one reading: each live process's CPU ticks, start time and label, and the machine's busy ticks. */
export interface CpuSnapshot {
  atMs: number;
  busyTicks: number;
  procs: Map<number, ProcTicks>;
}

/** ProcTicks is one process in a snapshot; `start` (since boot) tells a reused pid from the process it had. */
export interface ProcTicks {
  label: string;
  ticks: number;
  start: number;
}

/** CpuShares are percentages of one CPU by process label, `other` and `total` (the machine's busy time). */
export type CpuShares = Record<string, number>;

/** labelOf names a process for the report: devnet's own processes by role, others by their command name. */
export function labelOf(cmdline: string, comm: string): string {
  if (cmdline.includes('src/daemon/main')) return 'devnet daemon';
  if (cmdline.includes('src/gateway/main')) return 'devnet gateway';
  if (cmdline.includes('src/helper/main')) return 'devnet helper';
  if (cmdline.includes('bench/side-by-side')) return 'bench';
  if (cmdline.includes('sshuttle')) return 'sshuttle';
  if (comm.startsWith('kworker/')) return 'kernel workers'; // the name carries the work item, which changes
  // Node names its main thread MainThread: name other Node processes by their script.
  const script = cmdline.split(' ').find((a) => /\.(ts|js|mjs)$/.test(a));
  if (comm === 'MainThread' || comm === 'node') return script ? `node ${script.split('/').pop()}` : 'node';
  return comm.replace(/^postgres:.*/, 'postgres') || 'unknown';
}

/** statTicks reads utime + stime and the start time from a /proc/PID/stat line; the command may hold spaces and parentheses. */
export function statTicks(stat: string): { comm: string; ticks: number; start: number } | undefined {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = stat.slice(close + 2).split(' '); // rest[0] is field 3 (state)
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const start = Number(rest[19]); // field 22
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(start)) return undefined;
  return { comm: stat.slice(open + 1, close), ticks: utime + stime, start };
}

/** busyTicks sums user, nice, system, irq and softirq of /proc/stat's first line (not idle, iowait or steal). */
export function busyTicks(stat: string): number {
  const f = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = f;
  return user + nice + system + irq + softirq;
}

/** machineBusyUs is the machine's busy CPU time so far, in µs (busyTicks of /proc/stat). */
export function machineBusyUs(): number {
  return (busyTicks(readFileSync('/proc/stat', 'utf8')) * 1e6) / USER_HZ;
}

/** snapshot reads every process's CPU time now (processes that vanish while being read are skipped). */
export function snapshot(): CpuSnapshot {
  const procs = new Map<number, ProcTicks>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const s = statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (!s) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      procs.set(pid, { label: labelOf(cmdline, s.comm), ticks: s.ticks, start: s.start });
    } catch {
      // exited meanwhile
    }
  }
  return { atMs: performance.now(), busyTicks: busyTicks(readFileSync('/proc/stat', 'utf8')), procs };
}

/**
 * cpuShares is what happened between two snapshots, as percentages of one CPU:
 * per label (summed over its processes; a process new in `after`, or a
 * reused pid, counts whole),
 * `total` for the machine's busy time and `other` for the rest of it. Labels
 * under minPct are folded into `other`.
 */
export function cpuShares(before: CpuSnapshot, after: CpuSnapshot, minPct = 2): CpuShares {
  const seconds = (after.atMs - before.atMs) / 1000;
  if (!(seconds > 0)) return {};
  const pct = (ticks: number) => Math.round((ticks / USER_HZ / seconds) * 100 * 10) / 10;
  const byLabel = new Map<string, number>();
  for (const [pid, p] of after.procs) {
    const was = before.procs.get(pid);
    const d = p.ticks - (was && was.start === p.start ? was.ticks : 0);
    if (d > 0) byLabel.set(p.label, (byLabel.get(p.label) ?? 0) + d);
  }
  const total = Math.max(0, after.busyTicks - before.busyTicks);
  const shares: CpuShares = {};
  let named = 0;
  for (const [label, ticks] of [...byLabel].sort((a, b) => b[1] - a[1])) {
    if (pct(ticks) < minPct) continue;
    shares[label] = pct(ticks);
    named += ticks;
  }
  shares.other = pct(Math.max(0, total - named));
  shares.total = pct(total);
  return shares;
}

/** formatShares writes shares as "devnet daemon 71%, devnet gateway 36%, …, total 190%". */
export function formatShares(s: CpuShares): string {
  return Object.entries(s)
    .map(([k, v]) => `${k} ${v.toFixed(0)}%`)
    .join(', ');
}
