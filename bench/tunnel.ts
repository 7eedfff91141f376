// npm run bench:tunnel — the tunnel's throughput and fairness over loopback
// TCP, against the same transfers without the tunnel, in one run.
//
//   bench process (client) ──TCP──▶ gateway process (src/gateway/main.ts) ──TCP──▶ sink process
//   bench process (client) ─────────────────────── TCP ─────────────────────────▶ sink process (direct)
//
// Scenarios: one stream uploading and downloading SIZE bytes; 1,000
// concurrent streams uploading SIZE/1000 each. For the 1,000 streams we report
// aggregate throughput and the slowest stream's rate against the mean rate.
// Flags: --size MiB (default 1024), --channels N (default 1000), --runs N (default 3, median reported),
// --only up|down|many (one scenario).
// Everything stays on 127.0.0.1; every loop is bounded by the byte counts.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { parseArgs } from 'node:util';
import { connectSession, type Session, type StreamChannel } from '../src/tunnel/index.ts';

const MODE_UP = 0x55; // 'U': the client sends n bytes, the sink answers one byte when it has them all
const MODE_DOWN = 0x44; // 'D': the sink sends n bytes and closes
const CHUNK = Buffer.alloc(256 * 1024, 0xab); // never modified, so it may be written by reference many times

/** runSink is the sink process: a TCP server on 127.0.0.1 that prints its port. */
async function runSink(): Promise<void> {
  const server = createServer({ noDelay: true }, (s) => {
    let header = Buffer.alloc(0);
    let left = -1;
    s.on('data', (d: Buffer) => {
      if (left < 0) {
        header = Buffer.concat([header, d]);
        if (header.length < 9) return;
        const mode = header[0];
        const n = Number(header.readBigUInt64BE(1));
        const rest = header.length - 9;
        if (mode === MODE_DOWN) {
          left = 0;
          sendN(s, n);
          return;
        }
        left = n - rest;
      } else {
        left -= d.length;
      }
      if (left === 0) s.end(Buffer.from([1]));
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function sendN(s: Socket, n: number): void {
  let left = n;
  const pump = (): void => {
    while (left > 0) {
      const k = Math.min(CHUNK.length, left);
      left -= k;
      if (!s.write(k === CHUNK.length ? CHUNK : CHUNK.subarray(0, k))) return void s.once('drain', pump);
    }
    s.end();
  };
  pump();
}

function header(mode: number, n: number): Buffer {
  const h = Buffer.alloc(9);
  h[0] = mode;
  h.writeBigUInt64BE(BigInt(n), 1);
  return h;
}

/** A transfer endpoint: a plain socket or a tunnel channel behind the same three calls. */
interface Pipe {
  write(b: Buffer): boolean;
  waitDrain(): Promise<void>;
  onData(fn: (d: Buffer) => void): void;
  ended(): Promise<void>;
}

function socketPipe(s: Socket): Pipe {
  return {
    write: (b) => s.write(b),
    waitDrain: () => once(s, 'drain').then(() => undefined),
    onData: (fn) => s.on('data', fn),
    ended: () => (s.readableEnded ? Promise.resolve() : once(s, 'end').then(() => undefined)),
  };
}

function channelPipe(ch: StreamChannel): Pipe {
  let ended = false;
  ch.once('end', () => {
    ended = true;
  });
  return {
    write: (b) => ch.write(b),
    waitDrain: () => once(ch, 'drain').then(() => undefined),
    onData: (fn) =>
      ch.on('data', (d) => {
        fn(d);
        ch.release(d.length);
      }),
    ended: () => (ended ? Promise.resolve() : once(ch, 'end').then(() => undefined)),
  };
}

async function upload(p: Pipe, n: number): Promise<void> {
  p.onData(() => {});
  const done = p.ended();
  p.write(header(MODE_UP, n));
  let left = n;
  while (left > 0) {
    const k = Math.min(CHUNK.length, left);
    left -= k;
    if (!p.write(k === CHUNK.length ? CHUNK : CHUNK.subarray(0, k))) await p.waitDrain();
  }
  await done;
}

async function download(p: Pipe, n: number): Promise<void> {
  let got = 0;
  p.onData((d) => {
    got += d.length;
  });
  const done = p.ended();
  p.write(header(MODE_DOWN, n));
  await done;
  if (got !== n) throw new Error(`download got ${got} of ${n} bytes`);
}

type Opener = () => Promise<Pipe>;

function directOpener(port: number): Opener {
  return () =>
    new Promise((resolve, reject) => {
      const s = tcpConnect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true }, () =>
        resolve(socketPipe(s)),
      );
      s.once('error', reject);
    });
}

function tunnelOpener(session: Session, port: number): Opener {
  return async () => {
    const r = await session.open({ protocol: 'tcp', host: '127.0.0.1', port, timeoutMs: 10_000 });
    if (!r.ok) throw new Error(`open failed: ${r.reason} ${r.message}`);
    return channelPipe(r.channel as StreamChannel);
  };
}

const gbit = (bytes: number, ms: number): number => (bytes * 8) / (ms * 1e6);

/** cpuMs reads a process's user + system CPU time in milliseconds from /proc (Linux). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return Number.NaN;
  }
}

async function single(open: Opener, dir: 'up' | 'down', n: number): Promise<number> {
  const p = await open();
  const t0 = performance.now();
  await (dir === 'up' ? upload(p, n) : download(p, n));
  return gbit(n, performance.now() - t0);
}

async function many(
  open: Opener,
  count: number,
  each: number,
): Promise<{ aggregate: number; slowestOverMean: number }> {
  const pipes = await Promise.all(Array.from({ length: count }, () => open()));
  const t0 = performance.now();
  const rates = await Promise.all(
    pipes.map(async (p) => {
      await upload(p, each);
      return gbit(each, performance.now() - t0);
    }),
  );
  const total = performance.now() - t0;
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  return { aggregate: gbit(each * count, total), slowestOverMean: Math.min(...rates) / mean };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function startChild(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<[ChildProcess, string]> {
  const p = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
  let out = '';
  const m = await new Promise<RegExpExecArray>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const hit = ready.exec(out);
      if (hit) resolve(hit);
    });
    p.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
  return [p, m[1]!];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sink: { type: 'boolean' },
      size: { type: 'string', default: '1024' },
      channels: { type: 'string', default: '1000' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
    },
  });
  if (values.sink) return runSink();
  const size = Number(values.size) * 1024 * 1024;
  const channels = Number(values.channels);
  const runs = Number(values.runs);
  const self = new URL(import.meta.url).pathname;
  const gatewayMain = new URL('../src/gateway/main.ts', import.meta.url).pathname;
  const token = 'bench-token';
  const [sink, sinkPort] = await startChild([self, '--sink'], process.env, /^(\d+)\n/);
  const [gateway, gwPort] = await startChild(
    [gatewayMain, '--listen', '127.0.0.1:0', '--health-listen', '127.0.0.1:0', '--deny', ''],
    {
      ...process.env,
      DEVNET_GATEWAY_TOKEN: token,
      DEVNET_GATEWAY_LOG_LEVEL: 'info',
      NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS ?? '',
    },
    /"port":(\d+)\},"msg":"tunnel listener ready"/,
  );
  try {
    const carrier = tcpConnect({ host: '127.0.0.1', port: Number(gwPort), noDelay: true });
    await once(carrier, 'connect');
    const session = await connectSession(carrier, { token, clientId: 'bench' });
    const direct = directOpener(Number(sinkPort));
    const tunnel = tunnelOpener(session, Number(sinkPort));
    const rows: [string, string, string, string][] = [];
    const ratio = (a: number, b: number): string => `${((a / b) * 100).toFixed(0)} %`;
    const gwPid = gateway.pid!;
    const cpu: string[] = [];
    const only = values.only;
    for (const dir of (['up', 'down'] as const).filter((d) => only === undefined || only === d)) {
      const d: number[] = [];
      const tn: number[] = [];
      const selfCpu = { direct: 0, tunnel: 0 };
      let gwCpu = 0;
      for (let i = 0; i < runs; i++) {
        let c0 = process.cpuUsage();
        d.push(await single(direct, dir, size));
        let c1 = process.cpuUsage(c0);
        selfCpu.direct += (c1.user + c1.system) / 1000;
        const g0 = cpuMs(gwPid);
        c0 = process.cpuUsage();
        tn.push(await single(tunnel, dir, size));
        c1 = process.cpuUsage(c0);
        selfCpu.tunnel += (c1.user + c1.system) / 1000;
        gwCpu += cpuMs(gwPid) - g0;
      }
      const gib = (size * runs) / 2 ** 30;
      cpu.push(
        `${dir === 'up' ? 'upload' : 'download'}: CPU ms per GiB — client direct ${(selfCpu.direct / gib).toFixed(0)}, client tunnel ${(selfCpu.tunnel / gib).toFixed(0)}, gateway ${(gwCpu / gib).toFixed(0)}`,
      );
      const [dm, tm] = [median(d), median(tn)];
      rows.push([
        `1 stream ${dir === 'up' ? 'upload' : 'download'}, Gbit/s`,
        dm.toFixed(2),
        tm.toFixed(2),
        ratio(tm, dm),
      ]);
    }
    const each = Math.max(1, Math.floor(size / channels));
    if (only === undefined || only === 'many') {
      const dm = await many(direct, channels, each);
      const tm = await many(tunnel, channels, each);
      rows.push([
        `${channels} streams upload, aggregate Gbit/s`,
        dm.aggregate.toFixed(2),
        tm.aggregate.toFixed(2),
        ratio(tm.aggregate, dm.aggregate),
      ]);
      rows.push([
        `${channels} streams: slowest / mean rate`,
        dm.slowestOverMean.toFixed(2),
        tm.slowestOverMean.toFixed(2),
        '',
      ]);
    }
    const st = session.stats();
    session.close();
    const w = [44, 10, 10, 14];
    const line = (c: string[]): string => `| ${c.map((x, i) => x.padEnd(w[i]!)).join(' | ')} |`;
    console.log(
      `\ntunnel benchmark: ${values.size} MiB per single-stream run (median of ${runs}), ${channels} streams × ${each} bytes; loopback TCP; node ${process.version}`,
    );
    console.log(line(['scenario', 'direct', 'tunnel', 'tunnel/direct']));
    console.log(line(w.map((n) => '-'.repeat(n))));
    for (const r of rows) console.log(line(r));
    console.log('');
    for (const c of cpu) console.log(c);
    console.log(
      `client session: ${st.framesSent} frames sent, ${st.framesReceived} received, RTT ${st.rttMs.toFixed(3)} ms, send stalls ${JSON.stringify(st.stalls)}`,
    );
  } finally {
    gateway.kill('SIGTERM');
    sink.stdin!.end();
    sink.kill();
  }
}

await main();
