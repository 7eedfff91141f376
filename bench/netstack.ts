// bench:netstack — the netstack's data path against the direct veth path,
// side by side in one run (PERFORMANCE.md: compare ratios, not absolutes).
//
//   netstack: client ns → TUN → NetStack (this process) → LocalDial → 127.0.0.1 server (child process)
//   direct:   client ns → veth → server ns (the same server program)
//
// Measures one-stream throughput both ways (median of BENCH_RUNS), 1-byte
// request/response latency, new connections per second (connect, 1-byte
// request/response, close; 8 and 32 at a time), and this process's memory per idle
// connection with 10,000 connections held. Needs root; makes only test
// namespaces (dnt-*) and a TUN (dvns*), all removed at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { deleteAllNetns, Netns, sh, vethPair } from '../test/support/netns.ts';
import { LAB_V4, NetstackLab } from '../test/support/netstack-lab.ts';

const PEER = join(import.meta.dirname, '../test/support/netstack-peer.ts');
const BYTES = Number(process.env.BENCH_BYTES ?? 1 << 30);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RR = 5000;
const CPS = 5000;
const IDLE = Number(process.env.BENCH_IDLE ?? 10_000);
const PORT = 18080;

interface Row {
  metric: string;
  direct: number;
  netstack: number;
  unit: string;
  target: string;
  ok: (direct: number, ns: number) => boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function startServer(ns: Netns | undefined, host: string): Promise<ChildProcess> {
  const args = [PEER, 'serve', host, String(PORT), String(BYTES)];
  const child = ns
    ? spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((resolve, reject) => {
    rl.once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return child;
}

async function peer(ns: Netns, args: Array<string | number>): Promise<Record<string, number>> {
  const stdout = await ns.exec(process.execPath, [PEER, ...args.map(String)], { timeout: 300_000 });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
}

async function measure(client: Netns, host: string) {
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const u = await peer(client, ['upload', host, PORT + 1, BYTES, 'nohash']);
    up.push((BYTES * 8) / ((u.ms as number) * 1e6));
    const d = await peer(client, ['download', host, PORT + 2, 'nohash']);
    down.push((BYTES * 8) / ((d.ms as number) * 1e6));
  }
  const rr = await peer(client, ['rr', host, PORT, RR]);
  const cps = await peer(client, ['cps', host, PORT, CPS, 8]);
  const cps32 = await peer(client, ['cps', host, PORT, CPS, 32]);
  return {
    up: median(up),
    down: median(down),
    p50: rr.p50 as number,
    p99: rr.p99 as number,
    cps: cps.perSecond as number,
    cps32: cps32.perSecond as number,
  };
}

async function idleMemory(lab: NetstackLab): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  await new Promise((r) => setTimeout(r, 200));
  gc?.();
  const before = process.memoryUsage();
  const child = spawn(
    'ip',
    ['netns', 'exec', lab.ns.name, process.execPath, PEER, 'idle', LAB_V4, String(PORT), String(IDLE), '8'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((resolve) => rl.once('line', () => resolve()));
  await new Promise((r) => setTimeout(r, 500));
  gc?.();
  await new Promise((r) => setTimeout(r, 200));
  gc?.();
  const after = process.memoryUsage();
  const held = lab.driver.stack.tcpConnections;
  child.kill();
  await new Promise((r) => child.once('exit', r));
  if (held < IDLE) throw new Error(`only ${held} of ${IDLE} connections were held`);
  const grew =
    after.heapUsed + after.external + after.arrayBuffers - (before.heapUsed + before.external + before.arrayBuffers);
  const rss = after.rss - before.rss;
  console.error(
    `idle: ${held} connections, heap+external +${(grew / 1024 / held).toFixed(1)} KiB each, rss +${(rss / 1024 / held).toFixed(1)} KiB each`,
  );
  return Math.max(grew, rss) / 1024 / held;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:netstack needs root (network namespaces and a TUN device)');
  const children: ChildProcess[] = [];
  let lab: NetstackLab | undefined;
  try {
    // Direct path: client ns ↔ veth ↔ server ns.
    const dClient = await Netns.create('bdc');
    const dServer = await Netns.create('bds');
    await vethPair(dClient, '10.214.0.1/24', dServer, '10.214.0.2/24');
    children.push(await startServer(dServer, '::'));
    // Netstack path: client ns → TUN → stack here → loopback server.
    lab = await NetstackLab.create('bns', { stack: { verifyChecksums: false } });
    children.push(await startServer(undefined, '::'));
    console.error(
      `bench:netstack: ${RUNS} runs of ${BYTES >> 20} MiB each way, ${RR} round trips, ${CPS} connections, ${IDLE} idle`,
    );
    const direct = await measure(dClient, '10.214.0.2');
    console.error('direct', direct);
    const stack = await measure(lab.ns, LAB_V4);
    console.error('netstack', stack);
    const m = lab.driver.stack.counters;
    const measured = `retransmits ${m.retransmits}, fast retransmits ${m.fastRetransmits}, RTO expiries ${m.rtoExpiries}, TUN drops ${lab.tun.stats().drops}`;
    const perConn = await idleMemory(lab);
    const rows: Row[] = [
      {
        metric: 'throughput app → upstream',
        direct: direct.up,
        netstack: stack.up,
        unit: 'Gbit/s',
        target: '≥ 4',
        ok: (_, n) => n >= 4,
      },
      {
        metric: 'throughput upstream → app',
        direct: direct.down,
        netstack: stack.down,
        unit: 'Gbit/s',
        target: '≥ 4',
        ok: (_, n) => n >= 4,
      },
      {
        metric: 'request/response p50',
        direct: direct.p50,
        netstack: stack.p50,
        unit: 'µs',
        target: '≤ direct + 100',
        ok: (d, n) => n <= d + 100,
      },
      {
        metric: 'request/response p99',
        direct: direct.p99,
        netstack: stack.p99,
        unit: 'µs',
        target: '≤ direct + 500',
        ok: (d, n) => n <= d + 500,
      },
      {
        metric: 'new connections, 8 at a time',
        direct: direct.cps,
        netstack: stack.cps,
        unit: '/s',
        target: '≥ 5,000',
        ok: (_, n) => n >= 5000,
      },
      {
        metric: 'new connections, 32 at a time',
        direct: direct.cps32,
        netstack: stack.cps32,
        unit: '/s',
        target: '≥ 5,000',
        ok: (_, n) => n >= 5000,
      },
      {
        metric: `memory per idle connection (${IDLE})`,
        direct: Number.NaN,
        netstack: perConn,
        unit: 'KiB',
        target: '≤ 20',
        ok: (_, n) => n <= 20,
      },
    ];
    const f = (x: number) => (Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
    const c = lab.driver.stack.counters;
    console.log(
      `\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, kernel ${(await sh('uname', ['-r'])).trim()}`,
    );
    console.log('\n| metric | direct (veth) | netstack | unit | target | met |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.metric} | ${f(r.direct)} | ${f(r.netstack)} | ${r.unit} | ${r.target} | ${r.ok(r.direct, r.netstack) ? 'yes' : 'NO'} |`,
      );
    }
    console.log(`\nstack counters during the measurements: ${measured}`);
    console.log(
      `after ${IDLE} idle connections were dropped at once: retransmits ${c.retransmits}, RTO expiries ${c.rtoExpiries}`,
    );
  } finally {
    for (const ch of children) ch.kill('SIGKILL');
    await lab?.close();
    await deleteAllNetns();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
