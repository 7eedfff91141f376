// The session's timers on a FakeClock over an in-memory carrier: handshake,
// heartbeat, open and DNS deadlines decided without waiting for real time.
import test from 'ava';
import { GoAwayCode } from './control.ts';
import { FakeClock } from './fake-clock.ts';
import { MemoryCarrier } from './memory-carrier.ts';
import { acceptSession, connectSession, HandshakeError, type Session } from './session.ts';

/** turns lets queued carrier deliveries (setImmediate) and promise reactions run. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

async function pairOn(
  clock: FakeClock,
): Promise<{ client: Session; gateway: Session; a: MemoryCarrier; b: MemoryCarrier }> {
  const [a, b] = MemoryCarrier.pair();
  const [gateway, client] = await Promise.all([
    acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined, clock }),
    connectSession(a, { token: 't', clientId: 'c', clock }),
  ]);
  return { client, gateway, a, b };
}

test('a gateway that hears no HELLO ends the handshake exactly at the timeout', async (t) => {
  const clock = new FakeClock();
  const [, b] = MemoryCarrier.pair();
  let settled = false;
  const gw = acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined, clock }).finally(() => {
    settled = true;
  });
  gw.catch(() => undefined);
  clock.advance(4999);
  await turns();
  t.false(settled);
  clock.advance(1);
  const e = await t.throwsAsync(gw, { instanceOf: HandshakeError });
  t.is(e?.code, GoAwayCode.HANDSHAKE_TIMEOUT);
});

test('a black hole is declared dead on the first heartbeat past the deadline', async (t) => {
  const clock = new FakeClock();
  const { client, gateway, b } = await pairOn(clock);
  b.blackhole = true; // the gateway's answers vanish
  for (let ms = 0; ms < 4000 && !client.closed; ms += 1000) {
    clock.advance(1000);
    await turns();
  }
  t.is(client.endedWith?.reason, 'heartbeat');
  t.regex(client.endedWith?.message ?? '', /no PONG for 4000 ms/);
  gateway.destroy();
});

test('a live peer keeps the session up however long the clock runs', async (t) => {
  const clock = new FakeClock();
  const { client, gateway, a, b } = await pairOn(clock);
  for (let i = 0; i < 30; i++) {
    clock.advance(1000);
    await turns();
  }
  t.false(client.closed);
  t.false(gateway.closed);
  t.true(a.written > 0 && b.written > 0);
  t.deepEqual(client.tables().pings, []); // every PING answered
  client.destroy();
  gateway.destroy();
});

test('an unanswered OPEN gives up at the dial timeout plus the grace', async (t) => {
  const clock = new FakeClock();
  const { client, gateway } = await pairOn(clock);
  gateway.on('open', () => undefined); // never answers
  const r = client.open({ protocol: 'tcp', host: '10.0.0.1', port: 1, timeoutMs: 1000 });
  await turns();
  t.deepEqual(client.tables().opening, [1]);
  clock.advance(1000 + client.limits.openGraceMs);
  t.like(await r, { ok: false, reason: 'timeout', byPeer: false });
  t.deepEqual(client.tables().opening, []);
  t.deepEqual(client.tables().channels, []);
  client.destroy();
  gateway.destroy();
});

test('an unanswered DNS query times out and leaves the table', async (t) => {
  const clock = new FakeClock();
  const { client, gateway } = await pairOn(clock);
  gateway.dnsHandler = () => new Promise(() => undefined); // never answers
  const a = client.dnsQuery(Buffer.from([1, 2]), { timeoutMs: 500 });
  await turns();
  t.is(client.tables().dnsQueries, 1);
  clock.advance(500 + client.limits.openGraceMs);
  t.like(await a, { error: 'timeout' });
  t.is(client.tables().dnsQueries, 0);
  client.destroy();
  gateway.destroy();
});
