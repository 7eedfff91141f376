// Bounds on what a peer can make one end hold (issue 14, "bound all of
// them"): the PING table when the peer never answers, intercept registry
// listeners when a session registers again and again, connections still in
// their handshake on the gateway's and the intercept relay's listeners, and
// DNS over TCP on the laptop when the app sends queries and never reads.
import { type AddressInfo, connect, type Socket } from 'node:net';
import test from 'ava';
import { pino } from 'pino';
import { serveDnsStream } from '../src/dataplane/dns-stream.ts';
import { denyList } from '../src/gateway/config.ts';
import { InterceptRelay } from '../src/gateway/intercept-relay.ts';
import { InterceptRegistry } from '../src/gateway/intercepts.ts';
import { GatewayMetrics } from '../src/gateway/metrics.ts';
import { GatewayServer } from '../src/gateway/server.ts';
import type { StreamChannel as StackSide, StackStream } from '../src/netstack/upstream.ts';
import { encodeMessage } from '../src/tunnel/control.ts';
import { encodeControl, FrameReader, FrameType } from '../src/tunnel/frame.ts';
import {
  acceptSession,
  connectSession,
  FakeClock,
  keyId,
  MemoryCarrier,
  SessionIdentity,
} from '../src/tunnel/index.ts';
import { TOKEN } from './support/tunnel-pair.ts';

const log = pino({ level: 'silent' });

test.serial('ping table: a peer that never answers PING cannot grow the table of unanswered PINGs', async (t) => {
  const clock = new FakeClock();
  const [a, b] = MemoryCarrier.pair();
  const accepted = acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined, clock });
  // A raw client: HELLO, then its own PINGs every second (so it is not silent), never a PONG.
  const hello = {
    minVersion: 1,
    maxVersion: 1,
    token: 't',
    clientId: 'x',
    initialChannelWindow: 65536,
    initialSessionWindow: 1 << 20,
  };
  a.write(encodeControl(FrameType.HELLO, 0, encodeMessage(FrameType.HELLO, hello)));
  a.on('data', () => undefined);
  const gw = await accepted;
  t.teardown(() => gw.destroy());
  for (let i = 0; i < 120; i++) {
    a.write(encodeControl(FrameType.PING, 0, encodeMessage(FrameType.PING, { id: i + 1 })));
    clock.advance(1000);
    for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
  }
  t.false(gw.closed); // the peer still talks: alive, by the heartbeat rule
  t.true(gw.tables().pings.length <= gw.limits.maxUnansweredPings, `${gw.tables().pings.length} PINGs in the table`);
});

test.serial('intercept registry: registering again and again keeps one close listener per session', async (t) => {
  const [a, b] = MemoryCarrier.pair();
  const owner = SessionIdentity.generate();
  const [gateway, client] = await Promise.all([
    acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined }),
    connectSession(a, { token: TOKEN, clientId: 'laptop', identity: owner }),
  ]);
  t.teardown(() => {
    client.destroy();
    gateway.destroy();
  });
  const registry = new InterceptRegistry();
  gateway.interceptHandler = {
    register: (r) => registry.register(gateway, r),
    unregister: (id) => registry.unregister(gateway, id),
  };
  const before = gateway.listenerCount('close');
  for (let i = 0; i < 200; i++) {
    t.true((await client.registerIntercept(`web-${i % 3}`, [8080])).ok);
    t.true((await client.unregisterIntercept(`web-${i % 3}`)).ok);
  }
  t.true(gateway.listenerCount('close') <= before + 1, `${gateway.listenerCount('close') - before} listeners added`);
  t.true((await client.registerIntercept('web-0', [8080])).ok);
  t.truthy(registry.lookup('web-0', keyId(owner.publicKey)));
  gateway.destroy();
  await new Promise((r) => setImmediate(r));
  t.is(registry.lookup('web-0', keyId(owner.publicKey)), undefined); // registrations end with their session
});

/** silentConnections opens n TCP connections that never send a byte; resolves with them once connected. */
async function silentConnections(t: import('ava').ExecutionContext, port: number, n: number): Promise<Socket[]> {
  const socks = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port });
          s.on('error', () => undefined);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  t.teardown(() => {
    for (const s of socks) s.destroy();
  });
  return socks;
}

/** closedSoon counts how many sockets the far end closes while the event loop turns (at most ~2 s). */
async function closedSoon(socks: Socket[], expected: number): Promise<number> {
  let closed = 0;
  for (const s of socks) s.once('close', () => closed++);
  for (let i = 0; i < 400 && closed < expected; i++) await new Promise((r) => setTimeout(r, 5));
  return closed;
}

test.serial(
  'gateway listener: connections beyond the handshake limit are closed at once; the others wait their turn',
  async (t) => {
    const gw = new GatewayServer({
      token: TOKEN,
      logger: log,
      metrics: new GatewayMetrics(),
      resolver: undefined,
      icmp: { ok: false, reason: 'test' },
      deny: denyList([]),
      maxSessions: 64,
      maxHandshakes: 16,
      sessionLimits: { handshakeTimeoutMs: 60_000 },
    });
    t.teardown(() => gw.shutdown(10));
    const addr = await gw.listen('127.0.0.1', 0);
    const socks = await silentConnections(t, addr.port, 48);
    t.is(await closedSoon(socks, 32), 32, 'the 32 connections over the limit of 16 were closed');
    t.is(gw.handshakes, 16);
  },
);

test.serial('intercept relay: connections beyond the handshake limit are closed at once', async (t) => {
  const relay = new InterceptRelay({ token: TOKEN, registry: new InterceptRegistry(), logger: log, maxHandshakes: 8 });
  const server = await relay.listen('127.0.0.1', 0);
  t.teardown(() => relay.close());
  const socks = await silentConnections(t, (server.address() as AddressInfo).port, 24);
  t.is(await closedSoon(socks, 16), 16);
});

test.serial('intercept relay: a connection that says nothing is closed at the handshake deadline', async (t) => {
  const relay = new InterceptRelay({
    token: TOKEN,
    registry: new InterceptRegistry(),
    logger: log,
    sessionLimits: { handshakeTimeoutMs: 100 },
  });
  const server = await relay.listen('127.0.0.1', 0);
  t.teardown(() => relay.close());
  const [s] = await silentConnections(t, (server.address() as AddressInfo).port, 1);
  const frames: number[] = [];
  const reader = new FrameReader(
    { maxDataPayload: 1 << 20, maxControlPayload: 1 << 20 },
    { data() {}, window() {}, control: (type) => frames.push(type), invalid() {} },
  );
  s!.on('data', (d: Buffer) => reader.push(d));
  t.is(await closedSoon([s!], 1), 1);
  t.deepEqual(frames, [FrameType.GOAWAY]);
});

/** DnsApp is an app on a TCP connection to devnet's DNS address: it sends within its credit and never reads. */
class DnsApp implements StackStream {
  side: StackSide | undefined;
  credit = 0;
  answerBytes = 0;
  accept(c: StackSide): void {
    this.side = c;
  }
  reject(): void {}
  grant(n: number): void {
    this.credit += n;
  }
  write(d: Uint8Array): void {
    this.answerBytes += d.byteLength;
  }
  end(): void {}
  reset(): void {}
}

test.serial(
  'DNS over TCP: an app that sends queries and never reads cannot make the daemon queue answers without bound',
  async (t) => {
    const app = new DnsApp();
    let answered = 0;
    serveDnsStream(app, (q) => {
      answered++;
      const a = Buffer.alloc(4096); // a big answer for a small query
      a.set(q.subarray(0, 2));
      return a;
    });
    const query = Buffer.alloc(2 + 30);
    query.writeUInt16BE(30, 0);
    let sent = 0;
    // The app sends while it has credit, giving the daemon room to answer after each burst.
    for (let round = 0; round < 200 && app.credit >= query.length; round++) {
      while (app.credit >= query.length && sent < 100_000) {
        app.credit -= query.length;
        app.side?.write(query);
        sent++;
      }
      await new Promise((r) => setImmediate(r));
    }
    // The app never granted the daemon any room for answers, so none could be written:
    // what the daemon let in must be bounded by what it would hold.
    t.is(app.answerBytes, 0);
    t.true(
      answered * 4096 <= 1 << 20,
      `${answered} answers (${(answered * 4096) >> 10} KiB) held for an app that reads nothing`,
    );
  },
);
