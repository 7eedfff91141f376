// The real-application bench (issue 17 item 3): Debian's PostgreSQL server
// running in the benchmark pod, driven from the laptop by its own client,
// pgbench, through each path — the standard TPC-B-like script (five
// statements in a transaction, each a round trip), once on persistent
// connections and once with a new connection per transaction (`-C`, as a
// test suite or a short-lived script connects). The server runs with fsync
// and synchronous_commit off, so the disk does not hide the network's cost.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type CpuShares, cpuShares, formatShares, machineBusyUs, snapshot } from './cpu-share.ts';
import type { Lab } from './lab.ts';
import { run } from './programs.ts';
import type { PathName } from './report.ts';
import { type Spread, spread } from './wan.ts';

/** PG_PORT is the server's port in the pod. */
export const PG_PORT = 5432;
/** PG_BIN holds Debian's PostgreSQL 15 programs (package postgresql-15), on the host and in the k8s bench image. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** PgbenchShape is the load: clients, pgbench threads, scale factor of the data set, seconds per run. */
export interface PgbenchShape {
  clients: number;
  jobs: number;
  scale: number;
  seconds: number;
  runs: number;
}

/** PgFigures are one path's pgbench figures, persistent and new-connection-per-transaction. */
export interface PgFigures {
  tps?: Spread;
  latency_ms?: Spread;
  tps_connect?: Spread;
  latency_connect_ms?: Spread;
  /**
   * cpu_us_per_txn is the whole machine's busy CPU time during a run (every
   * process: pgbench, PostgreSQL, the tunnel's processes at both ends, the
   * kernel) per transaction. Against the direct path's figure it is what the
   * path costs per transaction, a steadier figure than TPS on a shared machine.
   */
  cpu_us_per_txn?: Spread;
  cpu_us_per_txn_connect?: Spread;
  /** cpu_pct is where that CPU went: percent of one CPU by process over the mode's runs (bench/support/cpu-share.ts). */
  cpu_pct?: CpuShares;
  cpu_pct_connect?: CpuShares;
}

/** PgbenchDocument is the `pgbench` key of the bench's JSON. */
export interface PgbenchDocument {
  shape: PgbenchShape;
  server: string;
  results: Partial<Record<PathName, PgFigures>>;
}

/** parsePgbench reads pgbench's summary: "tps = X (...)" and "latency average = Y ms". */
export function parsePgbench(out: string): { tps: number; latencyMs: number; failed: number; txns: number } {
  const tps = /^tps = ([\d.]+)/m.exec(out);
  const txns = /number of transactions actually processed: (\d+)/.exec(out);
  const lat = /^latency average = ([\d.]+) ms/m.exec(out);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  if (!tps || !lat)
    throw new Error(`pgbench: no tps or latency in its output: ${out.trim().split('\n').slice(-3).join(' ')}`);
  return {
    tps: Number(tps[1]),
    latencyMs: Number(lat[1]),
    failed: Number(failed?.[1] ?? 0),
    txns: Number(txns?.[1] ?? 0),
  };
}

/**
 * startPostgres starts the server in the benchmark pod as nobody (initdb into
 * a fresh directory, trust authentication for the `postgres` role from any
 * address: a throwaway server in the bench's own namespace), waits
 * until it answers from the node, and loads pgbench's tables there; the
 * server is stopped (fast shutdown) at cleanup.
 */
export async function startPostgres(lab: Lab, shape: PgbenchShape, log: (s: string) => void): Promise<string> {
  // On the sandbox the pod shares the host's files: the directory is unique to this bench and removed after.
  const dir = `${lab.work}-pg`;
  const env = `PATH=${PG_BIN}:$PATH; D=${dir}`;
  const server = [
    env,
    'rm -rf $D && mkdir -m 700 $D',
    'initdb -D $D -A trust -U postgres --locale=C -E UTF8 >/dev/null',
    // A throwaway server in the bench's own namespace: any client may connect as postgres.
    "echo 'host all all 0.0.0.0/0 trust' >> $D/pg_hba.conf",
    `exec postgres -D $D -k $D -h '*' -p ${PG_PORT} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c jit=off -c shared_buffers=64MB -c max_connections=200 -c dynamic_shared_memory_type=mmap`,
  ].join(' && ');
  log('PostgreSQL in the benchmark pod');
  const inPod = (script: string) =>
    lab.cluster.inPod('bench', 'bench', ['busybox', 'su', '-s', '/bin/sh', 'nobody', '-c', script]);
  lab.background(...inPod(server), lab.cluster.env);
  lab.cleanup.add('PostgreSQL stopped', async () => {
    const [cmd, args] = inPod(`${env} && pg_ctl -D $D stop -m fast -w -t 20`);
    await run(cmd, args, { env: lab.cluster.env, timeoutMs: 30_000 });
    rmSync(dir, { recursive: true, force: true });
  });
  const pgbenchOnNode = (args: string[], timeoutMs: number) =>
    run('ip', ['netns', 'exec', lab.cluster.nodeNs, join(PG_BIN, 'pgbench'), ...serverArgs(lab), ...args, 'postgres'], {
      timeoutMs,
    });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await pgbenchOnNode(['-i', '-q', '-s', String(shape.scale)], 120_000);
    if (r.code === 0) break;
    if (Date.now() > deadline)
      throw new Error(
        `PostgreSQL in the pod did not take pgbench's tables: ${(r.stderr || lab.stderrTail).trim().slice(-400)}`,
      );
    await new Promise((res) => setTimeout(res, 1000));
  }
  const v = await run('ip', [
    'netns',
    'exec',
    lab.cluster.nodeNs,
    join(PG_BIN, 'psql'),
    '-h',
    lab.podIp,
    '-U',
    'postgres',
    '-Atc',
    'show server_version',
    'postgres',
  ]);
  return `PostgreSQL ${v.stdout.trim()}`;
}

/** measurePgbench takes one path's figures: `runs` runs of each mode, medians with their spread. */
export async function measurePgbench(
  lab: Lab,
  shape: PgbenchShape,
  skip: (figure: string, why: string) => void,
): Promise<PgFigures> {
  const f: PgFigures = {};
  for (const connect of [false, true]) {
    const tps: number[] = [];
    const lat: number[] = [];
    const cpu: number[] = [];
    let why = '';
    const first = snapshot();
    for (let i = 0; i < shape.runs; i++) {
      const busyBefore = machineBusyUs();
      const r = await lab.onLaptop(
        'timeout',
        [
          String(shape.seconds + 30),
          join(PG_BIN, 'pgbench'),
          ...serverArgs(lab),
          '-n',
          '-c',
          String(shape.clients),
          '-j',
          String(shape.jobs),
          '-T',
          String(shape.seconds),
          ...(connect ? ['-C'] : []),
          'postgres',
        ],
        (shape.seconds + 40) * 1000,
      );
      const busy = machineBusyUs() - busyBefore;
      try {
        if (r.code !== 0)
          throw new Error(`pgbench exited ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
        const p = parsePgbench(r.stdout);
        if (p.failed > 0) throw new Error(`pgbench: ${p.failed} failed transactions`);
        tps.push(p.tps);
        lat.push(p.latencyMs);
        if (p.txns > 0) cpu.push(busy / p.txns);
      } catch (err) {
        why = (err as Error).message;
      }
    }
    const [tk, lk] = connect ? (['tps_connect', 'latency_connect_ms'] as const) : (['tps', 'latency_ms'] as const);
    const t = spread(tps);
    const l = spread(lat);
    if (t && l) {
      f[tk] = t;
      f[lk] = l;
      const c = spread(cpu);
      if (c) f[connect ? 'cpu_us_per_txn_connect' : 'cpu_us_per_txn'] = c;
      f[connect ? 'cpu_pct_connect' : 'cpu_pct'] = cpuShares(first, snapshot());
    } else skip(tk, why || 'no result');
  }
  return f;
}

/** formatPgbenchTable writes the pgbench figures, each path against the direct path. */
export function formatPgbenchTable(pg: PgbenchDocument, cpus: number): string {
  const s = pg.shape;
  const direct = pg.results.direct;
  const sp = (x: Spread | undefined, d: number) =>
    x ? `${x.p50.toFixed(d)} (${x.min.toFixed(d)}–${x.max.toFixed(d)})` : '—';
  const vs = (x: Spread | undefined, base: Spread | undefined) =>
    x && base ? `${(x.p50 / base.p50).toFixed(2)}×` : '—';
  // The machine's CPU per transaction, and what the path adds to the direct path's.
  const cpu = (x: Spread | undefined, base: Spread | undefined) =>
    x ? `${x.p50.toFixed(0)}${base && x !== base ? ` (+${(x.p50 - base.p50).toFixed(0)})` : ''}` : '—';
  const out = [
    `pgbench (${pg.server}, TPC-B-like, scale ${s.scale}, ${s.clients} clients, ${s.jobs} threads, ${s.runs} × ${s.seconds} s; median (min–max), × = against direct)`,
    '',
    '| path | TPS | × | latency ms | CPU µs/txn (+direct) | TPS, new connection each (-C) | × | latency ms (-C) | CPU µs/txn (-C) (+direct) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [path, f] of Object.entries(pg.results)) {
    if (!f) continue;
    out.push(
      `| ${path} | ${sp(f.tps, 0)} | ${vs(f.tps, direct?.tps)} | ${sp(f.latency_ms, 2)} | ${cpu(f.cpu_us_per_txn, direct?.cpu_us_per_txn)} | ${sp(f.tps_connect, 0)} | ${vs(f.tps_connect, direct?.tps_connect)} | ${sp(f.latency_connect_ms, 2)} | ${cpu(f.cpu_us_per_txn_connect, direct?.cpu_us_per_txn_connect)} |`,
    );
  }
  const shares = Object.entries(pg.results).flatMap(([path, f]) => [
    ...(f?.cpu_pct ? [`- ${path}: ${formatShares(f.cpu_pct)}`] : []),
    ...(f?.cpu_pct_connect ? [`- ${path} (-C): ${formatShares(f.cpu_pct_connect)}`] : []),
  ]);
  if (shares.length > 0)
    out.push(
      '',
      `CPU by process while pgbench ran (percent of one CPU; the machine has ${cpus * 100}%)`,
      '',
      ...shares,
    );
  return out.join('\n');
}

/** serverArgs are pgbench's options naming the PostgreSQL server in the bench pod. */
function serverArgs(lab: { podIp: string }): string[] {
  return ['-h', lab.podIp, '-p', String(PG_PORT), '-U', 'postgres'];
}
