// Benchmark: the sandbox API server's pod port-forward (the path devnet's
// tunnel rides on in the sandbox). Starts the server as a child process
// (bench/ may not import src/sandbox), a port-forward shim and a loopback
// sink/echo "pod" server in this process, then measures through one
// WebSocket (v4.channel.k8s.io, TLS):
//   - bulk throughput client → pod and pod → client (MiB/s, median of 3);
//   - 1-byte request/response round trips (p50 / p99 µs);
// also with an all-zero client mask (no XOR work: what a client can opt into);
// and the same shim path without the API server as the baseline.
// Usage: npm run bench:portforward [-- --mib 256 --rtt 2000]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: { mib: { type: 'string', default: '256' }, rtt: { type: 'string', default: '2000' } },
});
const MIB = Number(values.mib);
const RTT_ROUNDS = Number(values.rtt);
const CHUNK = 256 * 1024;

const root = mkdtempSync(join(tmpdir(), 'devnet-bench-pf-'));
const runDir = join(root, 'run');
const sockDir = join(runDir, 'pods', 'bench', 'pod');
mkdirSync(sockDir, { recursive: true });

// The "pod": port A sinks uploads and reports the byte count when the client
// half-closes; port B streams N bytes on request; port C echoes.
function listen(handler: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, handler);
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as { port: number }).port })),
  );
}
const sink = await listen((s) => {
  let n = 0;
  s.on('data', (d) => {
    n += d.length;
    if (n >= MIB * 1024 * 1024) s.end('done');
  });
});
const source = await listen((s) => {
  const chunk = Buffer.alloc(CHUNK, 7);
  let left = MIB * 1024 * 1024;
  const pump = () => {
    while (left > 0) {
      left -= CHUNK;
      if (!s.write(chunk)) return void s.once('drain', pump);
    }
    s.end();
  };
  s.once('data', pump);
});
const echo = await listen((s) => s.on('data', (d) => s.write(d)));

// The shim, speaking the runtime's protocol: `<port>\n` → `OK\n` + relay.
const shim = createServer({ allowHalfOpen: true }, (c) => {
  c.once('data', (d) => {
    c.pause();
    const nl = d.indexOf(10);
    const port = Number(d.subarray(0, nl).toString());
    const up = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
      up.setNoDelay(true);
      c.write('OK\n');
      if (nl + 1 < d.length) up.write(d.subarray(nl + 1));
      c.pipe(up);
      up.pipe(c);
    });
    up.on('error', () => c.destroy());
  });
  c.on('error', () => {});
});
await new Promise<void>((r) => shim.listen(join(sockDir, 'portforward.sock'), r));

const child = spawn(
  process.execPath,
  [
    ...(process.env.PF_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/as1/prof'] : []),
    'src/sandbox/apiserver/main.ts',
    '--state-dir',
    join(root, 'state'),
    '--run-dir',
    runDir,
    '--port',
    '0',
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const info: { url: string; caCertPath: string } = await new Promise((resolve, reject) => {
  child.stdout.once('data', (d) => resolve(JSON.parse(d.toString())));
  child.once('exit', (code) => reject(new Error(`API server exited with ${code}`)));
});
const token = JSON.parse(readFileSync(join(root, 'state', 'tokens.json'), 'utf8')).admin;
const ca = readFileSync(info.caCertPath);
const auth = { Authorization: `Bearer ${token}` };
async function api(method: string, path: string, body: unknown): Promise<void> {
  const res = await new Promise<number>((resolve, reject) => {
    const req = request(
      `${info.url}${path}`,
      { method, ca, headers: { ...auth, 'Content-Type': 'application/json' } },
      (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  if (res >= 300) throw new Error(`${method} ${path}: ${res}`);
}

await api('POST', '/api/v1/namespaces', { metadata: { name: 'bench' } });
await api('POST', '/api/v1/namespaces/bench/pods', {
  metadata: { name: 'pod' },
  spec: { nodeName: 'n', containers: [{ name: 'c', image: 'x:1' }] },
});

interface Pipe {
  send(b: Buffer): void;
  onData(fn: (b: Buffer) => void): void;
  close(): void;
  halfClose(): void;
}

/** viaApi opens a port-forward WebSocket and strips the kubelet's port prefixes; zeroMask sends client frames with an all-zero mask (RFC 6455 §5.3 allows any key; ws then skips the XOR on both ends). */
function viaApi(port: number, zeroMask = false): Promise<Pipe> {
  const ws = new WebSocket(
    `${info.url.replace('https', 'wss')}/api/v1/namespaces/bench/pods/pod/portforward?ports=${port}`,
    ['v4.channel.k8s.io'],
    {
      ca,
      headers: auth,
      perMessageDeflate: false,
      ...(zeroMask ? { generateMask: (mask: Buffer) => mask.fill(0) } : {}),
    },
  );
  const seen = [false, false];
  let fn: (b: Buffer) => void = () => {};
  ws.on('message', (d: Buffer) => {
    const ch = d[0]!;
    if (ch > 1) return;
    if (!seen[ch]) {
      seen[ch] = true;
      if (d.length <= 3) return;
      d = Buffer.concat([d.subarray(0, 1), d.subarray(3)]);
    }
    if (ch === 0) fn(d.subarray(1));
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        send: (b) => ws.send(Buffer.concat([Buffer.from([0]), b])),
        onData: (f) => {
          fn = f;
        },
        close: () => ws.close(),
        halfClose: () => {},
      }),
    );
  });
}

/** viaShim goes straight to the shim: the baseline without the API server. */
function viaShim(port: number): Promise<Pipe> {
  const s = connect(join(sockDir, 'portforward.sock'));
  let fn: (b: Buffer) => void = () => {};
  let ok = false;
  s.on('data', (d) => {
    if (!ok) {
      ok = true;
      d = d.subarray(3);
      if (d.length === 0) return;
    }
    fn(d);
  });
  return new Promise((resolve) => {
    s.once('connect', () => {
      s.write(`${port}\n`);
      resolve({ send: (b) => s.write(b), onData: (f) => (fn = f), close: () => s.destroy(), halfClose: () => s.end() });
    });
  });
}

async function upload(open: (p: number) => Promise<Pipe>): Promise<number> {
  const p = await open(sink.port);
  const chunk = Buffer.alloc(CHUNK, 1);
  const t0 = process.hrtime.bigint();
  const done = new Promise<void>((r) => p.onData((d) => d.toString().includes('done') && r()));
  for (let sent = 0; sent < MIB * 1024 * 1024; sent += CHUNK) {
    p.send(chunk);
    if (sent % (16 * CHUNK) === 0) await new Promise((r) => setImmediate(r));
  }
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  p.close();
  return MIB / secs;
}

async function download(open: (p: number) => Promise<Pipe>): Promise<number> {
  const p = await open(source.port);
  let got = 0;
  const t0 = process.hrtime.bigint();
  const done = new Promise<void>((r) =>
    p.onData((d) => {
      got += d.length;
      if (got >= MIB * 1024 * 1024) r();
    }),
  );
  p.send(Buffer.from('go'));
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  p.close();
  return MIB / secs;
}

async function rtt(open: (p: number) => Promise<Pipe>): Promise<[number, number]> {
  const p = await open(echo.port);
  const samples: number[] = [];
  let resolveOne: () => void = () => {};
  p.onData(() => resolveOne());
  for (let i = 0; i < RTT_ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((r) => {
      resolveOne = r;
      p.send(Buffer.from('x'));
    });
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  p.close();
  samples.sort((a, b) => a - b);
  return [samples[Math.floor(samples.length / 2)]!, samples[Math.floor(samples.length * 0.99)]!];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  for (const [name, open] of [
    ['shim only (baseline)', viaShim],
    ['API server port-forward', (p: number) => viaApi(p)],
    ['  same, zero WebSocket mask', (p: number) => viaApi(p, true)],
  ] as const) {
    const up: number[] = [];
    const down: number[] = [];
    for (let i = 0; i < 3; i++) up.push(await upload(open));
    for (let i = 0; i < 3; i++) down.push(await download(open));
    const [p50, p99] = await rtt(open);
    console.log(
      `${name.padEnd(26)} up ${median(up).toFixed(0).padStart(6)} MiB/s  down ${median(down).toFixed(0).padStart(6)} MiB/s  rtt p50 ${p50.toFixed(0)} µs  p99 ${p99.toFixed(0)} µs`,
    );
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  for (const s of [sink.server, source.server, echo.server, shim]) s.close();
  rmSync(root, { recursive: true, force: true });
}
process.exit(0);
