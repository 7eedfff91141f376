// netstack-peer: the "laptop" side of the netstack conformance tests and
// benchmark. It runs inside a test network namespace (ip netns exec), talks
// to addresses routed through the TUN, and prints one JSON line of results.
// Every mode is a bounded loop that ends by itself.
//
//   upload HOST PORT BYTES [nohash]  send BYTES of pattern, shut down writing, wait for EOF; print sha256
//   download HOST PORT [nohash]      read until EOF; print sha256 and bytes
//   pausedread HOST PORT MS          connect, read nothing for MS ms, then read until EOF; print sha256 and bytes
//   halfclose HOST PORT MSG    write MSG, shut down writing, read the reply until EOF
//   connect HOST PORT          connect once; print the error code (or "ok") and the time taken
//   conns HOST PORT N          hold N connections open at once, each echoing one line; then close all
//   udp HOST PORT SIZE...      send one datagram of each size and check its echo
//   rr HOST PORT N             N 1-byte request/response round trips; print latency percentiles (µs)
//   cps HOST PORT N [C]        N times, C at once (default 8): connect, 1-byte request/response, close; print connections/s
//   idle HOST PORT N SECONDS   open N connections, report, keep them SECONDS, then close
//   quiet HOST PORT N SECONDS  open N connections, say nothing for SECONDS, then one echo round trip on each;
//                              print how many echoed and the fewest segments any socket's kernel sent meanwhile
//   reuse HOST PORT N GAPMS    N times, GAPMS apart: connect, one echo, close first (TIME-WAIT here); print the
//                              outcome of each connect ("ok" or the error code) and whether timestamps were on
//   serve HOST PORT BYTES      serve echo on PORT, sink on PORT+1 (read to EOF, then end), source on
//                              PORT+2 (send BYTES, then end; no hashing); print once listening; exit after 15 minutes
import { createHash } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';

/** pattern returns deterministic bytes for stream position pos (a 1 MiB block whose first word counts blocks). */
export function patternBlock(index: number): Buffer {
  const b = Buffer.alloc(1 << 20);
  let x = 0x9e3779b9 ^ index;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

function out(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** sendPattern writes `bytes` of the pattern to s with backpressure and returns their sha256 (empty when hash is false). */
export async function sendPattern(s: net.Socket, bytes: number, hash = true): Promise<string> {
  const h = hash ? createHash('sha256') : undefined;
  const blocks = [patternBlock(0), patternBlock(1), patternBlock(2)];
  let sent = 0;
  let i = 0;
  while (sent < bytes) {
    const b = blocks[i++ % blocks.length] as Buffer;
    const chunk = bytes - sent >= b.length ? b : b.subarray(0, bytes - sent);
    h?.update(chunk);
    sent += chunk.length;
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  }
  return h?.digest('hex') ?? '';
}

/** readAll reads s until EOF and returns the sha256 (empty when hash is false) and length. */
export function readAll(s: net.Socket, hash = true): Promise<{ sha256: string; bytes: number; data?: Buffer }> {
  return new Promise((resolve, reject) => {
    const h = hash ? createHash('sha256') : undefined;
    let n = 0;
    const keep: Buffer[] = [];
    s.on('data', (c: Buffer) => {
      h?.update(c);
      n += c.length;
      if (n <= 65536) keep.push(c);
    });
    s.once('end', () => resolve({ sha256: h?.digest('hex') ?? '', bytes: n, data: Buffer.concat(keep) }));
    s.once('error', reject);
  });
}

async function main(argv: string[]): Promise<void> {
  const [mode, host = '', portS = '0', ...rest] = argv;
  const port = Number(portS);
  const t0 = performance.now();
  switch (mode) {
    case 'upload': {
      const s = await connect(host, port);
      const ended = readAll(s);
      const sha256 = await sendPattern(s, Number(rest[0]), rest[1] !== 'nohash');
      s.end();
      await ended;
      out({ sha256, ms: performance.now() - t0 });
      s.destroy();
      return;
    }
    case 'download': {
      const s = await connect(host, port);
      s.end();
      const r = await readAll(s, rest[0] !== 'nohash');
      out({ sha256: r.sha256, bytes: r.bytes, ms: performance.now() - t0 });
      return;
    }
    case 'pausedread': {
      const s = await connect(host, port);
      s.pause();
      await new Promise((r) => setTimeout(r, Number(rest[0])));
      const r = readAll(s);
      s.resume();
      const got = await r;
      out({ sha256: got.sha256, bytes: got.bytes, ms: performance.now() - t0 });
      s.destroy();
      return;
    }
    case 'halfclose': {
      const s = await connect(host, port);
      s.end(rest[0] ?? '');
      const r = await readAll(s);
      out({ reply: r.data?.toString() ?? '' });
      return;
    }
    case 'connect': {
      try {
        const s = await connect(host, port);
        s.destroy();
        out({ result: 'ok', ms: performance.now() - t0 });
      } catch (err) {
        out({ result: (err as NodeJS.ErrnoException).code, ms: performance.now() - t0 });
      }
      return;
    }
    case 'conns': {
      const n = Number(rest[0]);
      const socks: net.Socket[] = [];
      let ok = 0;
      const batch = 100;
      for (let i = 0; i < n; i += batch) {
        const group = await Promise.all(
          Array.from({ length: Math.min(batch, n - i) }, (_, k) =>
            connect(host, port).then(async (s) => {
              const line = `hello ${i + k}\n`;
              const reply = new Promise<string>((r) => s.once('data', (c: Buffer) => r(c.toString())));
              s.write(line);
              if ((await reply) === line) ok++;
              return s;
            }),
          ),
        );
        socks.push(...group);
      }
      const open = socks.filter((s) => !s.destroyed).length;
      await Promise.all(
        socks.map(
          (s) =>
            new Promise((r) => {
              s.once('close', r);
              s.end();
            }),
        ),
      );
      out({ ok, open, ms: performance.now() - t0 });
      return;
    }
    case 'udp': {
      const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const results: Array<{ size: number; ok: boolean }> = [];
      for (const sizeS of rest) {
        const size = Number(sizeS);
        const payload = patternBlock(size).subarray(0, size);
        const echo = new Promise<Buffer | undefined>((r) => {
          const timer = setTimeout(() => r(undefined), 3000);
          sock.once('message', (m) => {
            clearTimeout(timer);
            r(m);
          });
        });
        sock.send(payload, port, host);
        const m = await echo;
        results.push({ size, ok: m?.equals(payload) === true });
      }
      sock.close();
      out({ results });
      return;
    }
    case 'rr': {
      const n = Number(rest[0]);
      const s = await connect(host, port);
      const lat: number[] = [];
      const one = Buffer.from('x');
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const got = new Promise((r) => s.once('data', r));
        s.write(one);
        await got;
        lat.push((performance.now() - t) * 1000);
      }
      s.destroy();
      lat.sort((a, b) => a - b);
      const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
      out({ p50: pct(0.5), p99: pct(0.99), n });
      return;
    }
    case 'cps': {
      const n = Number(rest[0]);
      const conc = Number(rest[1] ?? 8);
      let next = 0;
      let ok = 0;
      const worker = async () => {
        while (next < n) {
          next++;
          const s = await connect(host, port);
          const got = new Promise((r) => s.once('data', r));
          s.write('x');
          await got;
          await new Promise((r) => {
            s.once('close', r);
            s.end();
          });
          ok++;
        }
      };
      await Promise.all(Array.from({ length: conc }, worker));
      const ms = performance.now() - t0;
      out({ ok, perSecond: (ok / ms) * 1000 });
      return;
    }
    case 'idle': {
      const n = Number(rest[0]);
      const secs = Number(rest[1]);
      const socks: net.Socket[] = [];
      for (let i = 0; i < n; i += 200) {
        socks.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => connect(host, port)))));
      }
      out({ open: socks.length });
      await new Promise((r) => setTimeout(r, secs * 1000));
      for (const s of socks) s.destroy();
      return;
    }
    case 'quiet': {
      const n = Number(rest[0]);
      const socks = await Promise.all(Array.from({ length: n }, () => connect(host, port)));
      // What each socket's kernel has sent so far (ss -i segs_out), by local port: the app itself sends nothing.
      const { execFileSync } = await import('node:child_process');
      const segsOut = () => {
        const dst = `${host.includes(':') ? `[${host}]` : host}:${port}`;
        const ss = execFileSync('ss', ['-Htni', 'dst', dst], { encoding: 'utf8' });
        // One line per socket (state, queues, local, peer), then an indented line of its details.
        const m = new Map<number, number>();
        let local = 0;
        for (const line of ss.split('\n')) {
          if (/^\S/.test(line)) local = Number(/:(\d+)$/.exec(line.trim().split(/\s+/)[3] ?? '')?.[1] ?? 0);
          else if (local && line.trim() !== '') m.set(local, Number(/segs_out:(\d+)/.exec(line)?.[1] ?? 0));
        }
        return m;
      };
      const before = segsOut();
      await new Promise((r) => setTimeout(r, Number(rest[1]) * 1000));
      const after = segsOut();
      const answered = socks.map((s) => (after.get(s.localPort ?? 0) ?? 0) - (before.get(s.localPort ?? 0) ?? 0));
      let ok = 0;
      await Promise.all(
        socks.map(async (s, i) => {
          const line = `still here ${i}\n`;
          const got = new Promise<string>((r) => s.once('data', (c: Buffer) => r(c.toString())));
          s.on('error', () => undefined);
          s.write(line);
          if ((await got) === line) ok++;
          s.destroy();
        }),
      );
      out({ ok, sockets: after.size, fewestAnswers: Math.min(...answered) });
      return;
    }
    case 'reuse': {
      const n = Number(rest[0]);
      const results: string[] = [];
      let timestamps = false;
      const { execFileSync } = await import('node:child_process');
      for (let i = 0; i < n; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, Number(rest[1])));
        try {
          const s = await connect(host, port);
          // (ss leaves the option flags out when given a filter: read all sockets and pick this one.)
          const lines = execFileSync('ss', ['-Htnoi'], { encoding: 'utf8' }).split('\n');
          const at = lines.findIndex((l) => l.includes(`:${s.localPort} `));
          if (at >= 0 && /\bts\b/.test(lines[at + 1] ?? '')) timestamps = true;
          const got = new Promise((r) => s.once('data', r));
          s.write('x');
          await got;
          await new Promise((r) => {
            s.once('close', r);
            s.end();
          });
          results.push('ok');
        } catch (err) {
          results.push(String((err as NodeJS.ErrnoException).code ?? err));
        }
      }
      out({ results, timestamps });
      return;
    }
    case 'serve': {
      const bytes = Number(rest[0]);
      const opts = { allowHalfOpen: true, noDelay: true };
      const servers = [
        net.createServer(opts, (s) => s.pipe(s)),
        net.createServer(opts, (s) => {
          s.on('data', () => undefined);
          s.on('end', () => s.end());
        }),
        net.createServer(opts, async (s) => {
          s.on('error', () => undefined);
          await sendPattern(s, bytes, false);
          s.end();
        }),
      ];
      await Promise.all(
        servers.map((srv, i) => new Promise<void>((r) => srv.listen({ port: port + i, host, backlog: 4096 }, r))),
      );
      out({ listening: true });
      setTimeout(() => process.exit(0), 15 * 60_000).unref();
      await new Promise(() => undefined);
      return;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err) => {
    out({ error: String(err?.code ?? err?.message ?? err) });
    process.exit(1);
  });
}
