// The personal-intercept router against real local servers: a "laptop" and
// an "original" HTTP server, a raw TCP target, and a router listener; the
// client writes bytes by hand so keep-alive, pipelining, chunked bodies,
// 100-continue, Upgrade and malformed input are exactly what is sent.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import { HttpRouter, looksLikeHttp } from './http-router.ts';

interface Rig {
  port: number;
  opened: string[];
  close(): void;
}

function listen(s: Server | HttpServer): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

function named(name: string): HttpServer {
  const s = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      res.end(`${name} ${req.method} ${req.url}${body ? ` ${body}` : ''}`);
    });
  });
  s.on('upgrade', (_req, sock: Socket, head: Buffer) => {
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n${name}:`);
    if (head.length > 0) sock.write(head);
    sock.pipe(sock);
  });
  return s;
}

async function rig(): Promise<Rig> {
  const laptop = named('laptop');
  const original = named('original');
  const raw = createServer((s) => s.end('raw-target\n'));
  const [lp, op, rp] = await Promise.all([listen(laptop), listen(original), listen(raw)]);
  const opened: string[] = [];
  const dial = (name: string, port: number) => async () => {
    opened.push(name);
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((r, j) => {
      s.once('connect', () => r());
      s.once('error', j);
    });
    return s;
  };
  const router = new HttpRouter({
    pick: (req) =>
      req.headersDistinct['x-dev']?.includes('alice')
        ? { key: 'laptop', open: dial('laptop', lp) }
        : { key: 'original', open: dial('original', op) },
    raw: dial('raw', rp),
    sniffMs: 200,
  });
  const front = createServer((s) => router.handle(s));
  const port = await listen(front);
  return {
    port,
    opened,
    close: () => {
      router.close();
      for (const s of [laptop, original, raw, front]) s.close();
      laptop.closeAllConnections();
      original.closeAllConnections();
    },
  };
}

/** exchange writes `input` (in pieces) and reads until the server closes or `until` matches. */
function exchange(port: number, input: string[], until?: RegExp, delayMs = 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, 3000);
    s.on('data', (d) => {
      out += d.toString();
      if (until?.test(out)) {
        clearTimeout(timer);
        s.destroy();
        resolve(out);
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', reject);
    s.on('connect', async () => {
      for (const piece of input) {
        s.write(piece);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    });
  });
}

const bodies = (out: string) => [...out.matchAll(/\r\n\r\n(.*?)(?=HTTP\/1\.1 |$)/gs)].map((m) => m[1]);

test('keep-alive: each request on one connection goes where its headers say', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  const out = await exchange(
    r.port,
    [
      'GET /1 HTTP/1.1\r\nHost: h\r\nx-dev: alice\r\n\r\n',
      'GET /2 HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /3 HTTP/1.1\r\nHost: h\r\nX-Dev: alice\r\n\r\n',
    ],
    /laptop GET \/3$/,
  );
  t.deepEqual(bodies(out), ['laptop GET /1', 'original GET /2', 'laptop GET /3']);
});

test('pipelining: requests sent at once are answered in order', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  const out = await exchange(r.port, [
    'GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nx-dev: alice\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
  ]);
  t.deepEqual(bodies(out), ['original GET /a', 'laptop GET /b', 'original GET /c']);
});

test('chunked and fixed-length bodies reach the chosen target whole', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  const out = await exchange(r.port, [
    'POST /c HTTP/1.1\r\nHost: h\r\nx-dev: alice\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
    '2\r\nde\r\n0\r\n\r\n',
    'POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhel',
    'lo',
  ]);
  t.deepEqual(bodies(out), ['laptop POST /c abcde', 'original POST /f hello']);
});

test('Expect: 100-continue: the target’s 100 reaches the client before it sends the body', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  const s = connect({ host: '127.0.0.1', port: r.port });
  t.teardown(() => s.destroy());
  let out = '';
  s.on('data', (d) => {
    out += d.toString();
  });
  s.write('PUT /e HTTP/1.1\r\nHost: h\r\nx-dev: alice\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
  while (!out.includes('100 Continue')) await new Promise((res) => setTimeout(res, 10));
  t.false(out.includes('laptop'), 'no final answer before the body');
  s.write('xyz');
  while (!out.includes('laptop PUT /e xyz')) await new Promise((res) => setTimeout(res, 10));
  t.pass();
});

test('Upgrade is decided by the upgrade request’s headers, then bytes flow both ways', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  const out = await exchange(
    r.port,
    ['GET /ws HTTP/1.1\r\nHost: h\r\nx-dev: alice\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n', 'ping'],
    /laptop:ping$/,
  );
  t.regex(out, /^HTTP\/1\.1 101 Switching Protocols/);
  t.regex(out, /laptop:ping$/);
});

test('a malformed request gets 400 and closes that connection only', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  const [bad, good] = await Promise.all([
    exchange(r.port, ['GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n']),
    exchange(r.port, ['GET /ok HTTP/1.1\r\nHost: h\r\nx-dev: alice\r\nConnection: close\r\n\r\n']),
  ]);
  t.regex(bad, /^HTTP\/1\.1 400 Bad Request/);
  t.deepEqual(bodies(good), ['laptop GET /ok']);
  const oversized = await exchange(r.port, [`GET / HTTP/1.1\r\nHost: h\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`]);
  t.regex(oversized, /^HTTP\/1\.1 431/);
});

test('non-HTTP bytes, and clients that wait for the server to speak first, go to the raw target', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  t.is(await exchange(r.port, ['\x16\x03\x01 tls-ish']), 'raw-target\n');
  t.is(await exchange(r.port, []), 'raw-target\n', 'silent client: raw after the sniff timeout');
  t.deepEqual(r.opened, ['raw', 'raw']);
});

test('looksLikeHttp: method tokens then a space; anything else is not HTTP (property)', (t) => {
  t.true(looksLikeHttp(Buffer.from('GET / HTTP/1.1')));
  t.is(looksLikeHttp(Buffer.from('GE')), undefined);
  t.false(looksLikeHttp(Buffer.from(' GET')));
  t.false(looksLikeHttp(Buffer.from('get / HTTP/1.1')));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const v = looksLikeHttp(Buffer.from(bytes));
      if (v === true) {
        const sp = bytes.indexOf(0x20);
        return (
          sp > 0 &&
          sp < 24 &&
          [...bytes.subarray(0, sp)].every((c) => (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)
        );
      }
      return v === false || bytes.length < 24;
    }),
  );
});
