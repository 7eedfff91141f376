// Replacing the laptop's session after a gateway's GOAWAY SHUTTING_DOWN, on a
// FakeClock over in-memory carriers: open channels finish on the old
// session, new ones use the new session, and the old one closes when its
// channels are done or at the drain bound.
import { once } from 'node:events';
import test from 'ava';
import {
  acceptSession,
  connectSession,
  FakeClock,
  GoAwayCode,
  MemoryCarrier,
  type Session,
  type StreamChannel,
} from '../tunnel/index.ts';
import { TunnelSessions } from './tunnel-sessions.ts';

async function turns(n = 30): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** run advances the clock ms milliseconds a second at a time, letting the carriers move in between (heartbeats answered). */
async function run(clock: FakeClock, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    clock.advance(Math.min(1000, left));
    await turns();
  }
}

/** gatewayPair connects a client to a gateway that answers every channel with `n` bytes, written as credit allows. */
async function gatewayPair(clock: FakeClock, n: number): Promise<{ client: Session; gateway: Session }> {
  const [a, b] = MemoryCarrier.pair();
  const [gateway, client] = await Promise.all([
    acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined, clock }),
    connectSession(a, { token: 't', clientId: 'c', clock }),
  ]);
  gateway.on('open', (ch) => {
    ch.accept();
    const s = ch as StreamChannel;
    let left = n;
    const pump = (): void => {
      while (left > 0 && s.writable > 0) {
        const k = Math.min(left, s.writable, 64 * 1024);
        left -= k;
        s.write(Buffer.alloc(k, 7));
      }
      if (left === 0) s.end();
    };
    s.on('credit', pump);
    s.on('end', () => undefined);
    pump();
  });
  return { client, gateway };
}

/**
 * download opens a channel and reads it to the end; `done` resolves with the
 * byte count. A paused reader takes bytes without releasing them, so the
 * transfer stalls at the channel window until resume().
 */
async function download(s: Session, paused = false): Promise<{ done: Promise<number>; resume(): void }> {
  const r = await s.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
  if (!r.ok) throw new Error(r.message);
  const ch = r.channel as StreamChannel;
  let got = 0;
  let held = 0;
  ch.on('data', (d) => {
    got += d.length;
    if (paused) held += d.length;
    else ch.release(d.length);
  });
  const done = once(ch, 'end').then(() => {
    ch.end();
    return got;
  });
  return {
    done,
    resume: () => {
      paused = false;
      ch.release(held);
    },
  };
}

test('a replaced session drains: its download completes while new channels use the new session', async (t) => {
  const clock = new FakeClock();
  const old = await gatewayPair(clock, 8 * 1024 * 1024);
  const sessions = new TunnelSessions({ drainMs: 60_000 });
  sessions.replace(old.client, 'connected');
  const first = await download(old.client, true);
  await turns();
  // The gateway rolls out: GOAWAY SHUTTING_DOWN, then the daemon connects anew.
  const goaway = once(old.client, 'goaway');
  const gatewayDrained = old.gateway.drain(20_000, 'rollout');
  t.is((await goaway)[0], GoAwayCode.SHUTTING_DOWN);
  const fresh = await gatewayPair(clock, 1024);
  sessions.replace(fresh.client, 'reconnected');
  t.is(sessions.current, fresh.client);
  t.deepEqual(
    sessions.view().draining.map((d) => d.channels),
    [1],
  );
  t.false(old.client.closed, JSON.stringify(old.client.endedWith));
  const second = await download(sessions.current as Session);
  t.is(await second.done, 1024);
  first.resume();
  t.is(await first.done, 8 * 1024 * 1024); // not cut off by the reconnect
  await turns();
  await gatewayDrained;
  await turns();
  t.true(old.client.closed);
  t.deepEqual(sessions.view().draining, []);
  sessions.close('done');
});

test('a draining session is closed at the drain bound when a channel never ends', async (t) => {
  const clock = new FakeClock();
  const old = await gatewayPair(clock, 1024);
  const sessions = new TunnelSessions({ drainMs: 30_000 });
  sessions.replace(old.client, 'connected');
  const r = await old.client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
  t.true(r.ok); // a channel nobody ends
  const fresh = await gatewayPair(clock, 1024);
  sessions.replace(fresh.client, 'reconnected');
  await run(clock, 29_999);
  t.false(old.client.closed, JSON.stringify(old.client.endedWith));
  t.is(sessions.draining.length, 1);
  clock.advance(1);
  await turns();
  t.true(old.client.closed);
  t.is(sessions.draining.length, 0);
  t.false(fresh.client.closed);
  sessions.close('done');
  old.gateway.destroy();
  fresh.gateway.destroy();
});

test('a session replaced without channels closes at once', async (t) => {
  const clock = new FakeClock();
  const old = await gatewayPair(clock, 1);
  const sessions = new TunnelSessions();
  sessions.replace(old.client, 'connected');
  sessions.replace(undefined, 'reconnecting');
  await turns();
  t.true(old.client.closed);
  t.is(sessions.current, undefined);
  old.gateway.destroy();
});
