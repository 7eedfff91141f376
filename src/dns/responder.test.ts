// The Responder without sockets: the ClusterResolver is the cluster DNS
// stand-in's own answer function (or a resolver that misbehaves on purpose),
// and the clock is passed in.

import test from 'ava';
import { Packet } from 'dns2';
import { pino } from 'pino';
import { demoSnapshot } from '../../test/dns-support/fixture.ts';
import type { ClusterResolver } from './forwarder.ts';
import { encodeQuery, RCODE } from './message.ts';
import { Responder } from './responder.ts';
import { ClusterZone } from './zone.ts';

const logger = pino({ level: 'silent' });
const zone = new ClusterZone(demoSnapshot());

/** zoneResolver answers from the ClusterZone in process, counting queries. */
function zoneResolver(): ClusterResolver & { count: number } {
  const r = {
    count: 0,
    async query(m: Uint8Array) {
      r.count++;
      const out = zone.answer(Packet.parse(Buffer.from(m))).toBuffer();
      return new Uint8Array(out);
    },
  };
  return r;
}

async function ask(r: Responder, name: string, qtype = 1, id = 0x4242): Promise<InstanceType<typeof Packet>> {
  const out = await r.respond(encodeQuery(id, name, qtype, 1), false);
  if (!out) throw new Error('dropped');
  return Packet.parse(Buffer.from(out));
}

test('a short form gets a CNAME to the full name, then the cluster’s answer, under the client’s ID and spelling', async (t) => {
  const r = new Responder({ logger, snapshot: demoSnapshot(), cluster: zoneResolver() });
  const p = await ask(r, 'Hello.Demo', 1, 7);
  t.is(p.header.id, 7);
  t.is(p.questions[0]?.name, 'Hello.Demo');
  t.deepEqual(
    p.answers.map((a) => [a.type, a.domain ?? a.address]),
    [
      [5, 'hello.demo.svc.cluster.local'],
      [1, '10.96.0.20'],
    ],
  );
});

test('TTLs age with the clock and the entry expires after the smallest TTL', async (t) => {
  let now = 1_000_000;
  const cluster = zoneResolver();
  const r = new Responder({ logger, snapshot: demoSnapshot(), cluster, now: () => now });
  t.is((await ask(r, 'hello.demo.svc.cluster.local')).answers[0]?.ttl, 5);
  now += 3_000;
  t.is((await ask(r, 'hello.demo.svc.cluster.local')).answers[0]?.ttl, 2);
  t.is(cluster.count, 1);
  now += 2_000;
  await ask(r, 'hello.demo.svc.cluster.local');
  t.is(cluster.count, 2);
});

test('a cluster answer to another question is refused (SERVFAIL), never cached', async (t) => {
  const liar: ClusterResolver = {
    async query(m) {
      const p = Packet.parse(Buffer.from(m));
      p.questions = [new Packet.Question('evil.example', 1, 1)];
      p.header.qr = 1;
      return new Uint8Array(p.toBuffer());
    },
  };
  const r = new Responder({ logger, snapshot: demoSnapshot(), cluster: liar });
  t.is((await ask(r, 'hello.demo.svc.cluster.local')).header.rcode, RCODE.SERVFAIL);
});

test('past maxPending cluster queries, new names get SERVFAIL at once; coalesced ones still wait', async (t) => {
  const hanging: ClusterResolver = {
    query: (_m, signal) =>
      new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new Error('timeout')))),
  };
  const r = new Responder({ logger, snapshot: demoSnapshot(), cluster: hanging, maxPending: 2, clusterTimeoutMs: 200 });
  // AbortSignal.timeout's timer does not keep the process alive; a server's sockets would.
  const keepAlive = setTimeout(() => undefined, 5000);
  t.teardown(() => clearTimeout(keepAlive));
  const a = ask(r, 'a.demo.svc.cluster.local');
  const b = ask(r, 'b.demo.svc.cluster.local');
  const a2 = ask(r, 'a.demo.svc.cluster.local');
  // At once: c is answered before a, which waits for the 200 ms cluster timeout.
  const c = ask(r, 'c.demo.svc.cluster.local');
  t.is(await Promise.race([c.then(() => 'c'), a.then(() => 'a')]), 'c');
  t.is((await c).header.rcode, RCODE.SERVFAIL);
  for (const p of await Promise.all([a, b, a2])) t.is(p.header.rcode, RCODE.SERVFAIL);
  t.is(r.stats.coalesced, 1);
});

test('system names are REFUSED without an upstream, and forwarded unchanged with one', async (t) => {
  const r = new Responder({ logger, snapshot: demoSnapshot(), cluster: zoneResolver() });
  t.is((await ask(r, 'www.example.com')).header.rcode, RCODE.REFUSED);
  const seen: Uint8Array[] = [];
  r.setUpstream({
    async query(m) {
      seen.push(m);
      const p = Packet.parse(Buffer.from(m));
      p.header.qr = 1;
      p.header.rcode = RCODE.NXDOMAIN;
      return new Uint8Array(p.toBuffer());
    },
  });
  const q = encodeQuery(9, 'www.example.com', 1, 1);
  const out = await r.respond(q, false);
  t.deepEqual(seen[0], q);
  t.is(Packet.parse(Buffer.from(out as Uint8Array)).header.rcode, RCODE.NXDOMAIN);
});
