// Taking the figures from the laptop namespace to the benchmark pod: each
// figure is the median of `runs` short runs, every tool bounded by its own
// duration flag and a `timeout` around it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CpuShares, cpuShares, snapshot } from './cpu-share.ts';
import { LAB, type Lab } from './lab.ts';
import { run } from './programs.ts';
import {
  type DevnetFigures,
  median,
  type PathFigures,
  parseDnsperf,
  parseIperf3,
  parseSockperf,
  percentile,
} from './report.ts';

/** Budget is how long and how often each figure is measured. */
export interface Budget {
  runs: number;
  seconds: number;
}

const script = (name: string) => join(import.meta.dirname, name);

/**
 * measurePath takes a path's figures. A failed run is retried once; a figure
 * whose runs all fail is left out (skip), one with some failed runs is the
 * median of the rest and says so (note). With onlyConnections, only the
 * connection rate is taken (`--cpu-prof`: a profile of that path alone).
 * cpu receives each figure's CPU shares by process over all its runs.
 */
export async function measurePath(
  lab: Lab,
  b: Budget,
  skip: (figure: string, why: string) => void,
  note: (figure: string, what: string) => void,
  onlyConnections = false,
  cpu: (figure: string, shares: CpuShares) => void = () => undefined,
): Promise<PathFigures> {
  const f: PathFigures = {};
  const take = async (names: (keyof PathFigures)[], one: () => Promise<number[]>) => {
    const samples: number[][] = names.map(() => []);
    const failures: string[] = [];
    const before = snapshot();
    for (let i = 0; i < b.runs; i++) {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const v = await one();
          for (const [k, x] of v.entries()) samples[k]?.push(x);
          break;
        } catch (err) {
          failures.push((err as Error).message.split('\n')[0] ?? '');
        }
      }
    }
    if (samples.some((s) => s.length > 0)) cpu(names[0] as string, cpuShares(before, snapshot()));
    for (const [k, n] of names.entries()) {
      const got = samples[k] ?? [];
      if (got.length === 0) skip(n, failures[0] ?? 'no result');
      else {
        f[n] = median(got);
        if (failures.length > 0)
          note(n, `${failures.length} failed attempt(s), median of ${got.length} runs; first: ${failures[0]}`);
      }
    }
  };
  const t = String(b.seconds);
  const iperf = async (reverse: boolean) => {
    const args = ['-c', lab.podIp, '-p', String(LAB.iperfPort), '-t', t, '-J', '--connect-timeout', '3000'];
    // The server takes a moment to notice the end of a previous test through a slow path: retry while it is busy.
    for (let attempt = 0; ; attempt++) {
      const r = await lab.onLaptop('timeout', [String(b.seconds + 15), 'iperf3', ...args, ...(reverse ? ['-R'] : [])]);
      try {
        return [parseIperf3(r.stdout || `{"error":${JSON.stringify(r.stderr.trim() || `exit ${r.code}`)}}`)];
      } catch (err) {
        if (attempt >= 10 || !/busy/.test((err as Error).message)) throw err;
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
  };
  if (!onlyConnections) await take(['tcp_up_gbps'], () => iperf(false));
  if (!onlyConnections) await take(['tcp_down_gbps'], () => iperf(true));
  if (!onlyConnections)
    await take(['rtt_p50_us', 'rtt_p99_us'], async () => {
      const r = await lab.onLaptop('timeout', [
        String(b.seconds + 15),
        'sockperf',
        'ping-pong',
        '--tcp',
        '-i',
        lab.podIp,
        '-p',
        String(LAB.sockperfPort),
        '-t',
        t,
        '--full-rtt',
      ]);
      const s = parseSockperf(r.stdout + r.stderr);
      return [s.p50, s.p99];
    });
  await take(['conn_per_s'], async () => {
    const r = await lab.onLaptop(
      process.execPath,
      [script('conn-rate.ts'), lab.podIp, String(LAB.echoPort), t, '16'],
      (b.seconds + 20) * 1000,
    );
    const j = JSON.parse(r.stdout || '{}') as { per_s?: number; errors?: number; firstError?: string };
    if (j.per_s === undefined) throw new Error(`conn-rate: ${r.stderr.trim() || `exit ${r.code}`}`);
    if (j.errors) throw new Error(`conn-rate: ${j.errors} connections failed (${j.firstError})`);
    return [j.per_s];
  });
  return f;
}

/** rssKib reads a process's resident set size. */
function rssKib(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** daemonPid finds devnet's daemon: the process in the laptop namespace running src/daemon/main. */
async function daemonPid(lab: Lab): Promise<number> {
  const pids = (await run('ip', ['netns', 'pids', lab.laptop.name])).stdout.split('\n').filter(Boolean);
  for (const pid of pids) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // exited meanwhile
    }
    if (/daemon\/main\.(ts|js)/.test(cmd)) return Number(pid);
  }
  throw new Error('devnet daemon not found in the laptop namespace');
}

/**
 * measureDevnet takes devnet-only figures over the current session: daemon
 * memory per idle connection (RSS before and with `idle` echo-proven
 * connections held), and DNS answers from devnet's in-TUN server 198.18.0.2
 * for a cached cluster name (dnsperf: latency at 2,000 queries/s offered, then
 * throughput with 4 clients × 200 outstanding).
 */
export async function measureDevnet(
  lab: Lab,
  b: Budget,
  idle: number,
  skip: (figure: string, why: string) => void,
): Promise<DevnetFigures> {
  const d: DevnetFigures = {};
  try {
    const pid = await daemonPid(lab);
    const before = rssKib(pid);
    const holder = await new Promise<{ open: number; errors: number; firstError?: string; rss: number }>(
      (resolve, reject) => {
        const child = lab.background(
          'ip',
          [
            'netns',
            'exec',
            lab.laptop.name,
            process.execPath,
            script('idle-conns.ts'),
            lab.podIp,
            String(LAB.echoPort),
            String(idle),
          ],
          process.env,
          true,
        );
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('idle connections: no report within 90 s'));
        }, 90_000);
        let out = '';
        let reported = false;
        child.stdout?.on('data', async (chunk: Buffer) => {
          out += chunk;
          if (reported || !out.includes('\n')) return;
          reported = true;
          clearTimeout(timer);
          try {
            // A moment for the daemon to settle (timers, buffers of the last handshakes).
            await new Promise((r) => setTimeout(r, 1000));
            const rss = rssKib(pid);
            child.stdin?.end();
            resolve({ ...JSON.parse(out), rss });
          } catch (err) {
            child.kill('SIGKILL');
            reject(err);
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`idle connections: exited ${code} before reporting`));
        });
      },
    );
    if (holder.open < idle) throw new Error(`only ${holder.open} of ${idle} connections opened (${holder.firstError})`);
    d.idle_conn_kib = (holder.rss - before) / idle;
  } catch (err) {
    skip('devnet.idle_conn_kib', (err as Error).message);
  }
  const queries = join(lab.work, 'dns-queries.txt');
  writeFileSync(queries, 'hello.demo.svc.cluster.local A\n');
  const dnsperf = async (args: string[]) => {
    const r = await lab.onLaptop(
      'timeout',
      ['30', 'dnsperf', '-s', '198.18.0.2', '-d', queries, '-t', '2', ...args],
      40_000,
    );
    return parseDnsperf(r.stdout);
  };
  try {
    await dnsperf(['-n', '1', '-q', '1']); // fills the cache
    const p50s: number[] = [];
    const qps: number[] = [];
    for (let i = 0; i < b.runs; i++) {
      const lat = await dnsperf(['-l', String(b.seconds), '-Q', '2000', '-q', '20', '-v']);
      const p = percentile(lat.latenciesUs, 50);
      if (p !== undefined) p50s.push(p);
      const rate = await dnsperf(['-l', String(b.seconds), '-q', '200', '-c', '4']);
      qps.push(rate.qps);
    }
    d.dns_cached_p50_us = median(p50s);
    d.dns_qps = median(qps);
    if (p50s.length === 0) skip('devnet.dns_cached_p50_us', 'dnsperf -v printed no per-query latencies');
  } catch (err) {
    skip('devnet.dns', (err as Error).message);
  }
  return d;
}
