// The tunnel session over an in-memory carrier pair: every frame type and
// every way a channel and a session end (docs/protocol.md).
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import test from 'ava';
import {
  type AnyChannel,
  acceptSession,
  type ChannelEnd,
  channelDuplex,
  connectSession,
  DatagramChannel,
  GoAwayCode,
  HandshakeError,
  MemoryCarrier,
  type Session,
  StreamChannel,
} from '../src/tunnel/index.ts';
import { pair, TOKEN } from './support/tunnel-pair.ts';

/** echo makes the gateway accept every channel and echo it (streams: bytes; datagrams: each datagram). */
function echo(gateway: Session): void {
  gateway.on('open', (ch) => {
    ch.accept();
    if (ch instanceof StreamChannel) {
      ch.on('data', (d) => {
        ch.write(Buffer.from(d));
        ch.release(d.length);
      });
      ch.on('end', () => ch.end());
    } else {
      ch.on('data', (d) => ch.send(Buffer.from(d)));
      ch.on('end', () => ch.end());
    }
  });
}

async function collect(ch: StreamChannel): Promise<Buffer> {
  const parts: Buffer[] = [];
  ch.on('data', (d) => {
    parts.push(Buffer.from(d));
    ch.release(d.length);
  });
  await once(ch, 'end');
  return Buffer.concat(parts);
}

/** until polls a condition every 5 ms for at most 5 s (then the assertion after it fails). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

async function openOk(s: Session, protocol: 'tcp' | 'udp' | 'icmp' = 'tcp'): Promise<AnyChannel> {
  const r = await s.open({ protocol, host: '10.0.0.1', port: 80 });
  if (!r.ok) throw new Error(`open failed: ${r.reason} ${r.message}`);
  return r.channel;
}

test('HELLO/WELCOME: both ends agree on the version, session id and identity', async (t) => {
  const { client, gateway } = await pair(t);
  t.is(client.version, 1);
  t.is(gateway.version, 1);
  t.is(client.id, gateway.id);
  t.is(gateway.peer.clientId, 'tester');
  t.is(client.peer.name, 'gw-test');
  client.close();
  const [end] = await once(gateway, 'close');
  t.is(end.reason, 'goaway');
  t.is(end.code, GoAwayCode.NO_ERROR);
});

test('a wrong token is refused with UNAUTHENTICATED on both ends', async (t) => {
  const [a, b] = MemoryCarrier.pair();
  const gw = acceptSession(b, { gatewayName: 'gw', authenticate: () => 'bad token' });
  const cl = connectSession(a, { token: 'nope', clientId: 'x' });
  const ce = await t.throwsAsync(cl, { instanceOf: HandshakeError });
  t.is(ce?.code, GoAwayCode.UNAUTHENTICATED);
  t.is(ce?.category, 'config');
  t.regex(ce?.hint ?? '', /gateway install/);
  const ge = await t.throwsAsync(gw, { instanceOf: HandshakeError });
  t.is(ge?.code, GoAwayCode.UNAUTHENTICATED);
});

test('a version mismatch is refused with a message naming both ranges', async (t) => {
  const [a, b] = MemoryCarrier.pair();
  const gw = acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined });
  const cl = connectSession(a, { token: TOKEN, clientId: 'x', versions: { min: 7, max: 9 } });
  const ce = await t.throwsAsync(cl, { instanceOf: HandshakeError });
  t.is(ce?.code, GoAwayCode.VERSION_MISMATCH);
  t.regex(ce?.message ?? '', /7\.\.9.*1\.\.1/);
  await t.throwsAsync(gw);
});

test('garbage instead of HELLO is refused at once with PROTOCOL_ERROR', async (t) => {
  const [a, b] = MemoryCarrier.pair();
  const gw = acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined });
  a.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const e = await t.throwsAsync(gw, { instanceOf: HandshakeError });
  t.is(e?.code, GoAwayCode.PROTOCOL_ERROR);
  t.regex(e?.message ?? '', /frame type 0x47/);
});

test('a client that says nothing is dropped after the handshake timeout', async (t) => {
  const [, b] = MemoryCarrier.pair();
  const gw = acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined, limits: { handshakeTimeoutMs: 50 } });
  const e = await t.throwsAsync(gw, { instanceOf: HandshakeError });
  t.is(e?.code, GoAwayCode.HANDSHAKE_TIMEOUT);
});

test('stream channel: data both ways, half-close each way, then closed', async (t) => {
  const { client, gateway } = await pair(t);
  echo(gateway);
  const ch = (await openOk(client)) as StreamChannel;
  t.true(ch instanceof StreamChannel);
  t.is(ch.state, 'open');
  const payload = randomBytes(3 * 1024 * 1024 + 17);
  const back = collect(ch);
  for (let off = 0; off < payload.length; off += 100_000) ch.write(payload.subarray(off, off + 100_000));
  ch.end();
  const closed = new Promise<ChannelEnd>((resolve) => ch.once('close', resolve));
  const got = await back;
  t.is(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(payload).digest('hex'));
  t.deepEqual(await closed, { kind: 'closed' });
  t.is(client.channelCount, 0);
  t.is(gateway.channelCount, 0);
  t.true(client.stats().bytesSent >= payload.length);
});

test('a server that speaks first: data and CLOSE right behind OPEN_OK reach the opener', async (t) => {
  const { client, gateway } = await pair(t);
  // The gateway accepts and writes at once, so OPEN_OK, DATA and CLOSE leave in one carrier chunk.
  gateway.on('open', (ch) => {
    ch.accept();
    (ch as StreamChannel).write(Buffer.from('db-0\n'));
    ch.end();
  });
  for (let i = 0; i < 20; i++) {
    const r = await client.open({ protocol: 'tcp', host: '10.244.0.5', port: 5432 });
    if (!r.ok) return t.fail(r.message);
    const ch = r.channel as StreamChannel;
    const got = await collect(ch);
    t.is(got.toString(), 'db-0\n');
    ch.end();
  }
});

test('OPEN_REJECT: the opener gets the typed reason and message', async (t) => {
  const { client, gateway } = await pair(t);
  gateway.on('open', (ch) => ch.reject('refused', 'connect ECONNREFUSED 10.0.0.1:80'));
  const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
  t.false(r.ok);
  if (!r.ok) {
    t.is(r.reason, 'refused');
    t.true(r.byPeer);
    t.regex(r.message, /ECONNREFUSED/);
  }
  t.is(client.channelCount, 0);
});

test('an end without an open listener rejects OPEN as forbidden', async (t) => {
  const { client } = await pair(t);
  const r = await client.open({ protocol: 'udp', host: '10.0.0.1', port: 53 });
  t.like(r, { ok: false, reason: 'forbidden' });
});

test('RESET from either side ends the channel on both with the code', async (t) => {
  const { client, gateway } = await pair(t);
  const gwChannels: AnyChannel[] = [];
  gateway.on('open', (ch) => {
    gwChannels.push(ch);
    ch.accept();
  });
  const c1 = await openOk(client);
  const peerEnd = once(gwChannels[0]!, 'close');
  c1.reset('cancel', 'user gave up');
  t.deepEqual(c1.endedWith, { kind: 'reset', by: 'local', code: 'cancel', message: 'user gave up' });
  t.deepEqual((await peerEnd)[0], { kind: 'reset', by: 'peer', code: 'cancel', message: 'user gave up' });
  const c2 = await openOk(client);
  const mine = once(c2, 'close');
  gwChannels[1]!.reset('connection-reset', 'ECONNRESET');
  t.deepEqual((await mine)[0], { kind: 'reset', by: 'peer', code: 'connection-reset', message: 'ECONNRESET' });
});

test('datagram channel keeps message boundaries, including datagrams larger than a carrier chunk', async (t) => {
  const { client, gateway } = await pair(t);
  echo(gateway);
  const ch = (await openOk(client, 'udp')) as DatagramChannel;
  t.true(ch instanceof DatagramChannel);
  const sizes = [0, 1, 512, 1400, 65_507, 9000];
  const sent = sizes.map((n) => randomBytes(n));
  const got: Buffer[] = [];
  const done = new Promise<void>((resolve) =>
    ch.on('data', (d) => {
      got.push(Buffer.from(d));
      if (got.length === sent.length) resolve();
    }),
  );
  for (const d of sent) t.true(ch.send(d));
  await done;
  t.deepEqual(
    got.map((g) => g.length),
    sizes,
  );
  for (let i = 0; i < sent.length; i++) t.true(got[i]!.equals(sent[i]!));
  const closed = once(ch, 'close');
  ch.end();
  t.deepEqual((await closed)[0], { kind: 'closed' });
});

test('datagrams beyond credit are dropped and counted, not queued', async (t) => {
  const { client, gateway } = await pair(t, {}, { initialChannelWindow: 1000 });
  gateway.on('open', (ch) => ch.accept()); // accepts, never reads
  const ch = (await openOk(client, 'udp')) as DatagramChannel;
  t.is(ch.writable, 1000);
  t.true(ch.send(Buffer.alloc(600)));
  t.false(ch.send(Buffer.alloc(600)));
  t.is(ch.dropped, 1);
});

test('ICMP channels are datagram channels', async (t) => {
  const { client, gateway } = await pair(t);
  echo(gateway);
  const ch = await openOk(client, 'icmp');
  t.true(ch instanceof DatagramChannel);
  t.is(ch.protocol, 'icmp');
});

test('PING/PONG measures the RTT; heartbeats keep it fresh', async (t) => {
  const { client } = await pair(t, { pingIntervalMs: 20 });
  const rtt = await client.ping();
  t.true(rtt > 0 && rtt < 1000);
  await once(client, 'rtt');
  t.true(client.rttMs > 0);
});

test('a black-holed carrier is declared dead by the heartbeat deadline', async (t) => {
  const { client, gateway, b } = await pair(t, { pingIntervalMs: 20, pingTimeoutMs: 100 });
  b.blackhole = true; // the gateway's answers vanish; the stream stays open
  const [end] = await once(client, 'close');
  t.is(end.reason, 'heartbeat');
  gateway.destroy();
});

test('one direction black-holed: the end that hears nothing declares it dead and closes, the other follows', async (t) => {
  const { client, gateway, a } = await pair(t, { pingIntervalMs: 20, pingTimeoutMs: 100 });
  const clientEnd = once(client, 'close');
  const gatewayEnd = once(gateway, 'close');
  a.blackhole = true; // the client's frames vanish; the gateway's still arrive
  t.is((await gatewayEnd)[0].reason, 'heartbeat');
  t.is((await clientEnd)[0].reason, 'carrier-closed');
});

test('GOAWAY SHUTTING_DOWN: no new channels, current ones finish, then the session closes', async (t) => {
  const { client, gateway } = await pair(t);
  echo(gateway);
  const ch = (await openOk(client)) as StreamChannel;
  const goaway = once(client, 'goaway');
  const drained = gateway.drain(5000, 'gateway shutting down');
  const [code] = await goaway;
  t.is(code, GoAwayCode.SHUTTING_DOWN);
  t.true(client.draining);
  const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
  t.like(r, { ok: false, reason: 'limit', byPeer: false });
  const back = collect(ch);
  ch.write(Buffer.from('last words'));
  ch.end();
  t.is((await back).toString(), 'last words');
  const clientEnd = once(client, 'close');
  await drained;
  const [end] = await clientEnd;
  t.is(end.reason, 'goaway');
  t.is(end.code, GoAwayCode.NO_ERROR);
});

test('closing the session ends every channel with kind session', async (t) => {
  const { client, gateway } = await pair(t);
  echo(gateway);
  const chs = await Promise.all([openOk(client), openOk(client, 'udp')]);
  const ends = chs.map((c) => once(c, 'close'));
  const sessionEnd = once(client, 'close');
  gateway.destroy('gone');
  for (const e of await Promise.all(ends)) t.is((e[0] as ChannelEnd).kind, 'session');
  const [end] = await sessionEnd;
  t.is(end.reason, 'carrier-closed');
});

test('the carrier failing ends the session with carrier-error', async (t) => {
  const { client, a } = await pair(t);
  const closed = once(client, 'close');
  a.destroy(new Error('boom'));
  const [end] = await closed;
  t.is(end.reason, 'carrier-error');
  t.regex(end.message, /boom/);
});

test('DNS_QUERY/DNS_ANSWER round trip through the gateway handler', async (t) => {
  const { client, gateway } = await pair(t);
  gateway.dnsHandler = async (q) => ({
    message: Buffer.concat([Buffer.from(q.message), Buffer.from([q.useSearch ? 1 : 0])]),
    error: 'ok',
    errorMessage: '',
    resolvedName: 'svc.ns.svc.cluster.local',
  });
  const a = await client.dnsQuery(Buffer.from([1, 2, 3]), { useSearch: true });
  t.is(a.error, 'ok');
  t.deepEqual([...a.message], [1, 2, 3, 1]);
  t.is(a.resolvedName, 'svc.ns.svc.cluster.local');
});

test('DNS queries without a gateway resolver get unavailable, not a hang', async (t) => {
  const { client } = await pair(t);
  const a = await client.dnsQuery(Buffer.from([1]));
  t.is(a.error, 'unavailable');
});

test('intercepts: register, then the gateway opens a channel toward the client', async (t) => {
  const { client, gateway } = await pair(t);
  const regs: string[] = [];
  gateway.interceptHandler = {
    register: (r) => {
      regs.push(`${r.interceptId}:${r.ports.join(',')}`);
      return { ok: true, message: '' };
    },
    unregister: (id) => ({ ok: regs.includes(`${id}:8080`), message: '' }),
  };
  t.deepEqual(await client.registerIntercept('web', [8080]), { ok: true, message: '' });
  t.deepEqual(regs, ['web:8080']);
  client.on('open', (ch) => {
    t.is(ch.request.interceptId, 'web');
    t.is(ch.request.sourceHost, '10.244.0.9');
    ch.accept();
    const s = channelDuplex(ch as StreamChannel);
    s.pipe(s); // the laptop's "local service": echo
  });
  const r = await gateway.open({
    protocol: 'tcp',
    host: '127.0.0.1',
    port: 8080,
    interceptId: 'web',
    sourceHost: '10.244.0.9',
    sourcePort: 41000,
  });
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.channel.id % 2, 0); // gateway-initiated channels are even
  const back = collect(r.channel as StreamChannel);
  (r.channel as StreamChannel).write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  (r.channel as StreamChannel).end();
  t.is((await back).toString(), 'GET / HTTP/1.1\r\n\r\n');
  t.true((await client.unregisterIntercept('web')).ok);
});

test('channel limit: OPEN beyond maxChannels is rejected with limit', async (t) => {
  const { client, gateway } = await pair(t, {}, { maxChannels: 2 });
  gateway.on('open', (ch) => ch.accept());
  await openOk(client);
  await openOk(client);
  const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 1 });
  t.like(r, { ok: false, reason: 'limit' });
});

test('an unanswered OPEN times out locally and the id is reset', async (t) => {
  const { client, gateway } = await pair(t, { openGraceMs: 10 });
  const seen: AnyChannel[] = [];
  gateway.on('open', (ch) => seen.push(ch)); // never answers
  const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 1, timeoutMs: 30 });
  t.like(r, { ok: false, reason: 'timeout', byPeer: false });
  const [end] = await once(seen[0]!, 'close');
  t.like(end, { kind: 'reset', by: 'peer', code: 'timeout' });
});

test('many channels with one stalled reader: the others still complete', async (t) => {
  const { client, gateway } = await pair(t, { initialChannelWindow: 64 * 1024 });
  let stalled: StreamChannel | undefined;
  gateway.on('open', (ch) => {
    ch.accept();
    const s = ch as StreamChannel;
    if (!stalled) {
      stalled = s; // reads nothing and never releases credit
      return;
    }
    let n = 0;
    s.on('data', (d) => {
      n += d.length;
      s.release(d.length);
    });
    s.on('end', () => {
      s.write(Buffer.from(String(n)));
      s.end();
    });
  });
  const stuck = (await openOk(client)) as StreamChannel;
  const big = Buffer.alloc(1024 * 1024, 7);
  stuck.write(big); // more than its window: most of it waits for credit that never comes
  t.true(stuck.queuedBytes > 0);
  const others = await Promise.all(Array.from({ length: 50 }, () => openOk(client) as Promise<StreamChannel>));
  const results = others.map((ch) => {
    const r = collect(ch);
    ch.write(Buffer.alloc(300 * 1024, 1));
    ch.end();
    return r;
  });
  for (const r of await Promise.all(results)) t.is(r.toString(), String(300 * 1024));
  t.is(stuck.state, 'open');
  t.true(stuck.queuedBytes > 0);
});

test('the session budget bounds the receiver: stalled channels exhaust it, released bytes refill it', async (t) => {
  const { client, gateway } = await pair(t, {}, { sessionWindow: 256 * 1024, initialChannelWindow: 128 * 1024 });
  const gw: StreamChannel[] = [];
  gateway.on('open', (ch) => {
    ch.accept();
    gw.push(ch as StreamChannel);
  });
  const chs = await Promise.all([openOk(client), openOk(client), openOk(client)]);
  for (const ch of chs) (ch as StreamChannel).write(Buffer.alloc(128 * 1024));
  const received = () => gw.reduce((s, c) => s + c.bytesReceived, 0);
  await until(() => received() === 256 * 1024);
  await new Promise((r) => setTimeout(r, 50));
  t.is(received(), 256 * 1024); // the third channel waits for session credit
  t.true((chs[2] as StreamChannel).queuedBytes > 0);
  gw[0]!.release(128 * 1024);
  await until(() => received() === 3 * 128 * 1024);
  t.is((chs[2] as StreamChannel).queuedBytes, 0);
});

test('channel windows grow with RTT × rate, up to the maximum', async (t) => {
  const { client, gateway } = await pair(t, { maxChannelWindow: 4 * 1024 * 1024 });
  await client.ping();
  await gateway.ping();
  echo(gateway);
  const ch = (await openOk(client)) as StreamChannel;
  const back = collect(ch);
  const payload = Buffer.alloc(32 * 1024 * 1024);
  for (let off = 0; off < payload.length; off += 256 * 1024) {
    if (!ch.write(payload.subarray(off, off + 256 * 1024))) await once(ch, 'drain');
  }
  ch.end();
  t.is((await back).length, payload.length);
  t.true(ch.recvWindow > 256 * 1024, `window ${ch.recvWindow}`);
  t.true(ch.recvWindow <= 4 * 1024 * 1024);
});

test('channelDuplex pipes a stream both ways with backpressure', async (t) => {
  const { client, gateway } = await pair(t, { initialChannelWindow: 16 * 1024 });
  echo(gateway);
  const ch = (await openOk(client)) as StreamChannel;
  const d = channelDuplex(ch);
  const data = randomBytes(1024 * 1024);
  const chunks: Buffer[] = [];
  d.on('data', (c: Buffer) => chunks.push(c));
  d.end(data);
  await once(d, 'end');
  t.true(Buffer.concat(chunks).equals(data));
});
