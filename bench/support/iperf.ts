// iperf3 helpers for benchmarks: a server in one namespace, a bounded client
// run in another, figures parsed from iperf3's JSON output.
import { spawn } from 'node:child_process';
import type { Netns } from '../../test/support/netns.ts';

/** IperfResult is one run's throughput. */
export interface IperfResult {
  gbps: number;
  retransmits: number;
}

/** startIperfServer runs `iperf3 -s` inside ns; call the returned stop() when done. */
export async function startIperfServer(ns: Netns, port = 5201): Promise<() => void> {
  const child = spawn('ip', ['netns', 'exec', ns.name, 'iperf3', '-s', '-p', String(port)], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  return () => child.kill('SIGTERM');
}

/** runIperf runs a time-bounded client from ns to host; reverse measures server → client. */
export async function runIperf(
  ns: Netns,
  host: string,
  seconds: number,
  reverse: boolean,
  port = 5201,
): Promise<IperfResult> {
  const args = ['-c', host, '-p', String(port), '-t', String(seconds), '-J', '--connect-timeout', '3000'];
  if (reverse) args.push('-R');
  const out = await ns.exec('timeout', [String(seconds + 15), 'iperf3', ...args]);
  const j = JSON.parse(out) as {
    end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } };
  };
  return { gbps: j.end.sum_received.bits_per_second / 1e9, retransmits: j.end.sum_sent.retransmits ?? 0 };
}

/** median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
