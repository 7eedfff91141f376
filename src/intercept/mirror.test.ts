// Mirrors and fallbacks against real local servers: the "pods" always answer;
// the "laptop" is down, slow or listening; the client must see the pods'
// answer every time, and the copies must be counted as copied or dropped.
import { createServer as createHttpServer, request } from 'node:http';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import test from 'ava';
import { HttpRouter, type Opener } from './http-router.ts';
import { Mirror } from './mirror.ts';

function listen(s: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

const dial =
  (port: number): Opener =>
  () =>
    new Promise<Duplex>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });

const refused: Opener = () => Promise.reject(new Error('refused: nothing listens'));

async function routerWith(mirror: Mirror | undefined, laptop?: Opener) {
  const pods = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(`pods ${req.method} ${req.url}`));
  });
  const podsPort = await listen(pods);
  const router = new HttpRouter({
    pick: () =>
      laptop ? { key: 'laptop', open: laptop, fallback: dial(podsPort) } : { key: 'pods', open: dial(podsPort) },
    raw: dial(podsPort),
    ...(mirror ? { onRequest: (req) => mirror.copyRequest(req) } : {}),
  });
  const front = createServer((s) => router.handle(s));
  const port = await listen(front);
  return {
    port,
    close() {
      router.close();
      front.close();
      pods.close();
      mirror?.close();
    },
  };
}

function get(port: number, path: string, body?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent: false }, (res) => {
      let out = '';
      res.on('data', (d) => {
        out += d;
      });
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
};

test('a mirror whose laptop is down: every request gets the pods’ answer and every copy is a drop', async (t) => {
  const m = new Mirror(refused);
  const r = await routerWith(m);
  t.teardown(() => r.close());
  for (let i = 0; i < 5; i++) t.is(await get(r.port, `/x${i}`), `pods GET /x${i}`);
  await until(() => m.stats.dropped === 5);
  t.like(m.stats, { copied: 0, dropped: 5, lastError: 'the laptop: refused: nothing listens' });
});

test('a listening laptop gets a copy of each request with its body; its answers are discarded', async (t) => {
  const seen: string[] = [];
  const laptop = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      res.end('laptop answer nobody sees');
    });
  });
  const lp = await listen(laptop);
  t.teardown(() => laptop.close());
  const m = new Mirror(dial(lp));
  const r = await routerWith(m);
  t.teardown(() => r.close());
  t.is(await get(r.port, '/a'), 'pods GET /a');
  t.is(await get(r.port, '/b', Buffer.from('payload')), 'pods POST /b');
  await until(() => m.stats.copied === 2);
  t.deepEqual(seen, ['GET /a ', 'POST /b payload']);
  t.like(m.stats, { copied: 2, dropped: 0 });
});

test('a laptop that does not read: the copy is dropped at the bound, the client is answered in full', async (t) => {
  const stuck = createServer(() => undefined); // accepts, never reads
  const sp = await listen(stuck);
  t.teardown(() => stuck.close());
  const m = new Mirror(dial(sp), { maxBufferedBytes: 64 * 1024, maxInFlight: 4 });
  const r = await routerWith(m);
  t.teardown(() => r.close());
  t.is(await get(r.port, '/big', Buffer.alloc(8 << 20, 1)), 'pods POST /big');
  await until(() => m.stats.dropped === 1);
  t.is(m.stats.dropped, 1);
  t.regex(m.stats.lastError, /slower than the client sends/);
});

test('copies of raw (non-HTTP) connections carry the client’s bytes', async (t) => {
  const got: Buffer[] = [];
  const laptop = createServer((s) => s.on('data', (d: Buffer) => got.push(d)));
  const lp = await listen(laptop);
  t.teardown(() => laptop.close());
  const echo = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  const ep = await listen(echo);
  t.teardown(() => echo.close());
  const m = new Mirror(dial(lp));
  const front = createServer({ allowHalfOpen: true }, (s) => {
    m.copyStream(s);
    dial(ep)().then((up) => {
      s.pipe(up);
      up.pipe(s);
    });
  });
  const fp = await listen(front);
  t.teardown(() => front.close());
  const c = connect({ host: '127.0.0.1', port: fp });
  c.end('\x00\x01binary');
  let echoed = '';
  for await (const d of c) echoed += d;
  t.is(echoed, '\x00\x01binary');
  await until(() => Buffer.concat(got).toString() === '\x00\x01binary');
  t.is(Buffer.concat(got).toString(), '\x00\x01binary');
  await until(() => m.stats.copied === 1);
  t.is(m.stats.copied, 1);
});

test('personal fallback: when the laptop cannot be opened the request goes to the pods', async (t) => {
  const r = await routerWith(undefined, refused);
  t.teardown(() => r.close());
  t.is(await get(r.port, '/p'), 'pods GET /p');
  t.is(await get(r.port, '/q'), 'pods GET /q');
});

test('mirror-only ports: the connection goes straight to the pods and is parsed aside, one copy per request', async (t) => {
  const seen: string[] = [];
  const laptop = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    res.end('discarded');
  });
  const lp = await listen(laptop);
  t.teardown(() => laptop.close());
  const pods = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(`pods ${req.url}`));
  });
  const pp = await listen(pods);
  t.teardown(() => pods.close());
  const m = new Mirror(dial(lp));
  t.teardown(() => m.close());
  const front = createServer({ allowHalfOpen: true }, (s) => {
    m.copyConnection(s);
    dial(pp)().then((up) => {
      s.pipe(up);
      up.pipe(s);
    });
  });
  const fp = await listen(front);
  t.teardown(() => front.close());
  // Two requests on one keep-alive connection, then a server-speaks-first style silent client.
  const c = connect({ host: '127.0.0.1', port: fp });
  c.write('GET /one HTTP/1.1\r\nhost: x\r\n\r\nPOST /two HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc');
  let got = '';
  c.on('data', (d) => {
    got += d;
  });
  await until(() => (got.match(/pods \//g) ?? []).length === 2);
  t.regex(got, /pods \/one[\s\S]*pods \/two/);
  c.end();
  await until(() => seen.length === 2);
  t.deepEqual(seen, ['GET /one', 'POST /two']);
  await until(() => m.stats.copied === 2);
  t.like(m.stats, { copied: 2, dropped: 0 });
});
