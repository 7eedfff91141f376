// soak-peer: the "laptop" applications of the soak tests. It runs inside a
// test network namespace (ip netns exec) or the E2E laptop namespace, talks
// to addresses routed through devnet's TUN, and prints one JSON line. Every
// mode is a bounded loop that ends by itself.
//
//   aborts HOST PORT N MAXBYTES SEED [C]  N downloads (C at once, default 4): read a random number of bytes below
//                                         MAXBYTES, half the time stop reading for 100–300 ms (the path's buffers
//                                         fill), then abort (RST, or close with unread bytes: RST as well); a
//                                         download that gets no byte for 10 s counts as stalled and ends the run
//   fetch HOST PORT                       download to EOF; print sha256, bytes, ms, and whether it stalled
//                                         (no byte for 10 s)
//   chatter HOST PORT N SEED              N tiny writes (1–32 bytes) to an echo server, reading the echo as it
//                                         comes and pausing now and then; print whether every byte came back in order
//   tinyread HOST PORT PAUSEMS            connect, read nothing for PAUSEMS, then read to EOF; print sha256 and bytes
//   stall HOST PORT SECONDS               connect, read nothing for SECONDS, then close; print the bytes read (0)
//   echoflows HOST PORT N STOPFILE MAXSECONDS
//                                         N connections at once each send 16 KiB every 100 ms to an echo server until
//                                         STOPFILE exists (or MAXSECONDS passed), then end and check the echo; print
//                                         how many came back intact
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { mulberry32 } from '../../src/tun/fault.ts';
import { patternBlock, readAll } from './netstack-peer.ts';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** STALL_MS is how long a reader waits for the next byte before it calls the transfer stalled. */
const STALL_MS = 10_000;

/** abortOne reads up to `limit` bytes, maybe pauses, then aborts; resolves with the bytes read and whether it stalled. */
async function abortOne(
  host: string,
  port: number,
  limit: number,
  rnd: () => number,
): Promise<{ got: number; stalled: boolean }> {
  const s = await connect(host, port);
  s.on('error', () => undefined);
  let got = 0;
  let stalled = false;
  await new Promise<void>((resolve) => {
    let timer = setTimeout(() => {
      stalled = true;
      resolve();
    }, STALL_MS);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    s.on('data', (c: Buffer) => {
      got += c.length;
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        resolve();
      }, STALL_MS);
      if (got >= limit) {
        s.pause();
        done();
      }
    });
    s.once('end', done);
    s.once('close', done);
  });
  // Half the time the app stops reading a while first, so every buffer along the path fills
  // (the kernel's, the netstack's, the tunnel channel's) before the abort.
  if (rnd() < 0.5) await sleep(100 + Math.floor(rnd() * 200));
  if (rnd() < 0.5) s.resetAndDestroy();
  else s.destroy();
  return { got, stalled };
}

/** fetch reads s to EOF; it gives up when no byte arrives for STALL_MS. */
function fetch(s: net.Socket): Promise<{ sha256: string; bytes: number; stalled: boolean }> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    let bytes = 0;
    const finish = (stalled: boolean): void => {
      clearTimeout(timer);
      resolve({ sha256: h.digest('hex'), bytes, stalled });
    };
    let timer = setTimeout(() => finish(true), STALL_MS);
    s.on('data', (c: Buffer) => {
      h.update(c);
      bytes += c.length;
      clearTimeout(timer);
      timer = setTimeout(() => finish(true), STALL_MS);
    });
    s.once('end', () => finish(false));
    s.once('error', () => finish(false));
  });
}

async function main(argv: string[]): Promise<void> {
  const [mode, host = '', portS = '0', ...rest] = argv;
  const port = Number(portS);
  const t0 = performance.now();
  switch (mode) {
    case 'aborts': {
      const n = Number(rest[0]);
      const max = Number(rest[1]);
      const rnd = mulberry32(Number(rest[2] ?? 1));
      const conc = Number(rest[3] ?? 4);
      let next = 0;
      let bytes = 0;
      let done = 0;
      let stalled = 0;
      const worker = async (): Promise<void> => {
        while (next < n && stalled === 0) {
          next++;
          const r = await abortOne(host, port, Math.floor(rnd() * max), rnd);
          bytes += r.got;
          if (r.stalled) stalled++;
          else done++;
        }
      };
      await Promise.all(Array.from({ length: conc }, worker));
      out({ done, stalled, bytes, ms: performance.now() - t0 });
      return;
    }
    case 'fetch': {
      const s = await connect(host, port);
      s.end();
      const r = await fetch(s);
      s.destroy();
      out({ ...r, ms: performance.now() - t0 });
      return;
    }
    case 'chatter': {
      const n = Number(rest[0]);
      const rnd = mulberry32(Number(rest[1] ?? 1));
      const s = await connect(host, port);
      const sent = createHash('sha256');
      let sentBytes = 0;
      const echoed = readAll(s);
      const block = patternBlock(7);
      for (let i = 0; i < n; i++) {
        const len = 1 + Math.floor(rnd() * 32);
        const off = Math.floor(rnd() * (block.length - 64));
        const piece = block.subarray(off, off + len);
        sent.update(piece);
        sentBytes += len;
        const ok = s.write(piece);
        if (i % 500 === 499) {
          s.pause(); // stop reading a moment: the echo's tiny segments pile up
          await sleep(20 + Math.floor(rnd() * 80));
          s.resume();
        }
        if (!ok) await new Promise((r) => s.once('drain', r));
      }
      s.end();
      const r = await echoed;
      out({ intact: r.sha256 === sent.digest('hex') && r.bytes === sentBytes, bytes: r.bytes, sent: sentBytes });
      s.destroy();
      return;
    }
    case 'tinyread': {
      const s = await connect(host, port);
      s.pause();
      await sleep(Number(rest[0]));
      s.end();
      const p = readAll(s);
      s.resume();
      const r = await p;
      out({ sha256: r.sha256, bytes: r.bytes, ms: performance.now() - t0 });
      s.destroy();
      return;
    }
    case 'stall': {
      const s = await connect(host, port);
      s.on('error', () => undefined);
      s.pause();
      await sleep(Number(rest[0]) * 1000);
      out({ read: s.bytesRead });
      s.destroy();
      return;
    }
    case 'echoflows': {
      const n = Number(rest[0]);
      const stopFile = rest[1] ?? '';
      const maxMs = Number(rest[2] ?? 60) * 1000;
      const chunk = 16 * 1024;
      const failures: Record<string, number> = {};
      const fail = (why: string): number => {
        failures[why] = (failures[why] ?? 0) + 1;
        return -1;
      };
      const one = async (i: number): Promise<number> => {
        const s = await connect(host, port);
        let error = '';
        s.on('error', (err: NodeJS.ErrnoException) => {
          error ||= err.code ?? err.message;
        });
        const back = readAll(s).catch(() => ({ sha256: '', bytes: -1 }));
        const h = createHash('sha256');
        const piece = patternBlock(i).subarray(0, chunk);
        let sent = 0;
        while (!s.destroyed && !existsSync(stopFile) && performance.now() - t0 < maxMs) {
          h.update(piece);
          sent += piece.length;
          if (!s.write(piece))
            await new Promise((r) => {
              s.once('drain', r);
              s.once('close', r); // a reset connection drains never
            });
          await sleep(100);
        }
        s.end();
        const r = await back;
        s.destroy();
        if (error) return fail(error);
        if (r.bytes !== sent) return fail(`short echo (${r.bytes} of ${sent} bytes)`);
        return r.sha256 === h.digest('hex') ? sent : fail('echo differs');
      };
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => one(i).catch((err) => fail(String(err?.code ?? err)))),
      );
      const intact = results.filter((b) => b >= 0);
      out({ intact: intact.length, n, bytes: intact.reduce((a, b) => a + b, 0), ms: performance.now() - t0, failures });
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
