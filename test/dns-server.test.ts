// devnet's DNS server on loopback, queried with dig (BIND's client) and raw
// sockets, against real peers: a ClusterZone server standing in for the
// gateway + cluster DNS, and a dns2 server standing in for the internet.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import test from 'ava';
import { pino } from 'pino';
import { type ClusterResolver, DnsForwarder } from '../src/dns/forwarder.ts';
import { encodeQuery } from '../src/dns/message.ts';
import { Responder } from '../src/dns/responder.ts';
import { DnsServer } from '../src/dns/server.ts';
import { ClusterZone, serveZone, type ZoneServer } from '../src/dns/zone.ts';
import { demoSnapshot, HELLO_IP, INTERNET, OTHER_HELLO_IP } from './dns-support/fixture.ts';
import { type FakeUpstream, serveUpstream } from './dns-support/upstream.ts';

const execFileP = promisify(execFile);
const log = pino({ level: 'silent' });

let zone: ZoneServer;
let upstream: FakeUpstream;
let server: DnsServer;
let responder: Responder;
let port = 0;
let clusterQueries = 0;
let clusterDown = false;

/** A ClusterResolver over the real zone server that counts queries and can be cut (tunnel down). */
const cluster: ClusterResolver = {
  query(m, signal) {
    clusterQueries++;
    if (clusterDown) return Promise.reject(new Error('tunnel down'));
    return new DnsForwarder({ servers: [zone.endpoint], timeoutMs: 1000 }).query(m, signal);
  },
};

test.before(async () => {
  zone = await serveZone(new ClusterZone(demoSnapshot()), { address: '127.0.0.1', port: 0 });
  upstream = await serveUpstream(INTERNET, { address: '127.0.0.1', port: 0 });
  responder = new Responder({
    logger: log,
    snapshot: demoSnapshot(),
    cluster,
    upstream: new DnsForwarder({ servers: [upstream.endpoint], timeoutMs: 1000 }),
  });
  server = new DnsServer(responder, log);
  port = (await server.listen([{ address: '127.0.0.1', port: 0 }]))[0]?.port ?? 0;
});

test.after.always(async () => {
  await server?.close();
  await zone?.close();
  await upstream?.close();
});

async function dig(...args: string[]): Promise<string> {
  // Generous: the suite runs files in parallel on 2 cores, and a dig that gives up fails the test. A retry
  // of a question still in flight is coalesced too, and a later one is answered from the cache.
  const { stdout } = await execFileP('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=3', ...args]);
  return stdout.trim();
}

test.serial('every name form of the acceptance list resolves as from a pod in demo', async (t) => {
  t.is(await dig('+short', 'hello.demo.svc.cluster.local'), HELLO_IP);
  t.is(await dig('+short', 'hello.demo'), `hello.demo.svc.cluster.local.\n${HELLO_IP}`);
  t.is(await dig('+short', 'hello'), `hello.demo.svc.cluster.local.\n${HELLO_IP}`);
  t.is(await dig('+short', 'hello.demo.svc'), `hello.demo.svc.cluster.local.\n${HELLO_IP}`);
  t.is(await dig('+short', 'hello.other'), `hello.other.svc.cluster.local.\n${OTHER_HELLO_IP}`);
  t.is(await dig('+short', 'db-0.db.demo.svc.cluster.local'), '10.244.1.10');
  t.is(await dig('+short', 'db-1.db.demo'), 'db-1.db.demo.svc.cluster.local.\n10.244.1.11');
  t.is(await dig('+short', 'SRV', '_http._tcp.hello.demo.svc.cluster.local'), '0 100 80 hello.demo.svc.cluster.local.');
  t.is(
    await dig('+short', 'SRV', '_http._tcp.hello'),
    '_http._tcp.hello.demo.svc.cluster.local.\n0 100 80 hello.demo.svc.cluster.local.',
  );
  t.is(await dig('+short', '-x', HELLO_IP), 'hello.demo.svc.cluster.local.');
  t.is(await dig('+short', 'ext.demo.svc.cluster.local'), `hello.other.svc.cluster.local.\n${OTHER_HELLO_IP}`);
});

test.serial('a namespace named like a TLD does not capture it: example.dev goes to the upstream', async (t) => {
  t.is(await dig('+short', 'example.dev'), INTERNET['example.dev']);
  t.true(upstream.asked.includes('example.dev'));
  t.is(await dig('+short', 'api.dev'), 'api.dev.svc.cluster.local.\n10.96.0.30');
  t.regex(await dig('nosuchname.example.dev'), /status: NXDOMAIN/);
});

test.serial('non-cluster names are forwarded unchanged, over UDP and TCP', async (t) => {
  t.is(await dig('+short', 'www.example.com'), INTERNET['www.example.com']);
  t.is(await dig('+short', '+tcp', 'www.example.com'), INTERNET['www.example.com']);
  t.is(await dig('+short', 'hello.demo.corp.example'), INTERNET['hello.demo.corp.example']);
});

test.serial('answers too large for UDP are truncated and dig falls back to TCP', async (t) => {
  const udp = await dig('+ignore', '+noedns', 'many.demo.svc.cluster.local');
  t.regex(udp, /flags: qr (tc )?rd ra|flags: qr rd ra tc|tc/);
  t.regex(udp, /ANSWER: 0/);
  const full = await dig('+short', '+noedns', 'many.demo.svc.cluster.local');
  t.is(full.split('\n').length, 60);
  const edns = await dig('+short', '+bufsize=4096', 'many.demo.svc.cluster.local');
  t.is(edns.split('\n').length, 60);
});

test.serial('EDNS queries get an OPT record back; NXDOMAIN carries the SOA', async (t) => {
  const out = await dig('+edns=0', 'nosuch.demo.svc.cluster.local');
  t.regex(out, /status: NXDOMAIN/);
  t.regex(out, /OPT PSEUDOSECTION/);
  t.regex(out, /SOA/);
});

test.serial('answers are cached by TTL, negative ones too, and concurrent queries are coalesced', async (t) => {
  const name = 'hello.other.svc.cluster.local';
  const before = clusterQueries;
  await Promise.all(Array.from({ length: 20 }, () => dig('+short', name)));
  t.is(clusterQueries - before, 1);
  const neg = 'gone.other.svc.cluster.local';
  const beforeNeg = clusterQueries;
  for (let i = 0; i < 3; i++) t.regex(await dig(neg), /status: NXDOMAIN/);
  t.is(clusterQueries - beforeNeg, 1);
  // TTLs count down from the zone's 5 s and never go up.
  const ttl = Number((await dig('+noall', '+answer', name)).split(/\s+/)[1]);
  t.true(ttl <= 5 && ttl >= 0);
});

test.serial('when the tunnel is down cluster names fail fast with SERVFAIL, other names still resolve', async (t) => {
  clusterDown = true;
  try {
    // Answered SERVFAIL (dig would report a timeout had the server waited for the tunnel instead).
    t.regex(await dig('+tries=1', 'uncached.demo.svc.cluster.local'), /status: SERVFAIL/);
    t.is(await dig('+short', 'www.example.com'), INTERNET['www.example.com']);
  } finally {
    clusterDown = false;
  }
});

function udpExchange(msg: Uint8Array, wait = 300): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, wait);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

test.serial('malformed queries get FORMERR or are dropped, and the server keeps answering', async (t) => {
  const good = encodeQuery(7, 'hello.demo.svc.cluster.local', 1, 1);
  // Random bytes, header-only garbage, truncated question, absurd counts, a response, compression in the question.
  const absurd = Uint8Array.from(good);
  absurd[6] = 0xff;
  absurd[7] = 0xff;
  absurd[10] = 0xff;
  absurd[11] = 0xff;
  const response = Uint8Array.from(good);
  response[2] = (response[2] as number) | 0x80;
  const looped = Uint8Array.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  const cases: [string, Uint8Array, 'formerr' | 'drop'][] = [
    ['3 bytes', Uint8Array.from([1, 2, 3]), 'drop'],
    ['a response', response, 'drop'],
    ['truncated question', good.subarray(0, good.length - 3), 'formerr'],
    ['absurd counts', absurd, 'formerr'],
    ['compression loop in question', looped, 'formerr'],
    ['zero questions', Uint8Array.from([0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'formerr'],
  ];
  for (const [what, msg, expect] of cases) {
    const r = await udpExchange(msg);
    if (expect === 'drop') t.is(r, undefined, what);
    else t.is(r ? (r[3] as number) & 0xf : -1, 1, what);
  }
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 300; i++) {
    const junk = Uint8Array.from({ length: next() % 100 }, () => next() & 0xff);
    junk[2] = (junk[2] as number) & 0x7f; // a query, so it gets parsed rather than dropped at once
    await udpExchange(junk, 5);
  }
  // TCP: a length prefix announcing more than is sent, then a close.
  await new Promise<void>((resolve) => {
    const c = connect(port, '127.0.0.1', () => c.end(Buffer.from([0xff, 0xff, 1, 2, 3])));
    c.on('close', () => resolve());
    c.on('error', () => resolve());
  });
  t.is(await dig('+short', 'hello.demo.svc.cluster.local'), HELLO_IP);
  t.true(responder.stats.malformed >= 4);
});

test.serial('TCP: pipelined queries on one connection are all answered (RFC 7766)', async (t) => {
  const names = ['hello.demo.svc.cluster.local', 'hello.other', 'www.example.com'];
  const frames = names.map((n, i) => {
    const q = encodeQuery(100 + i, n, 1, 1);
    return Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
  });
  const ids = await new Promise<number[]>((resolve, reject) => {
    const got: number[] = [];
    let buf = Buffer.alloc(0);
    const c = connect(port, '127.0.0.1', () => c.write(Buffer.concat(frames)));
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        got.push(msg.readUInt16BE(0));
        t.is((msg[3] as number) & 0xf, 0);
        buf = buf.subarray(2 + msg.length);
      }
      if (got.length === names.length) {
        c.end();
        resolve(got);
      }
    });
    c.on('error', reject);
    setTimeout(() => reject(new Error(`only ${got.length} answers`)), 3000).unref();
  });
  t.deepEqual([...ids].sort(), [100, 101, 102]);
});
