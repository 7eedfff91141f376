// Two tunnel session ends joined by an in-memory carrier, and helpers to run
// them until nothing moves: the rig for credit and drain tests that need no
// network and no timers.
import { once } from 'node:events';
import type { ExecutionContext } from 'ava';
import {
  acceptSession,
  connectSession,
  MemoryCarrier,
  type Session,
  type SessionLimits,
  type StreamChannel,
} from '../../src/tunnel/index.ts';

/** TOKEN is the session token the rig's gateway end accepts. */
export const TOKEN = 'test-token-0123456789';

/** SessionPair is a connected client and gateway end with their carriers. */
export interface SessionPair {
  client: Session;
  gateway: Session;
  /** a is the client's carrier end, b the gateway's. */
  a: MemoryCarrier;
  b: MemoryCarrier;
}

/** pair connects a client (limits) to a gateway (gwLimits) over a MemoryCarrier pair, destroyed at teardown. */
export async function pair(
  t: ExecutionContext,
  limits: Partial<SessionLimits> = {},
  gwLimits: Partial<SessionLimits> = limits,
): Promise<SessionPair> {
  const [a, b] = MemoryCarrier.pair();
  const [gateway, client] = await Promise.all([
    acceptSession(b, {
      gatewayName: 'gw-test',
      authenticate: (h) => (h.token === TOKEN ? undefined : 'bad token'),
      limits: gwLimits,
    }),
    connectSession(a, { token: TOKEN, clientId: 'tester', limits }),
  ]);
  t.teardown(() => {
    client.destroy();
    gateway.destroy();
  });
  return { client, gateway, a, b };
}

/**
 * quiesce lets the event loop run until neither carrier has carried a byte for
 * 20 turns in a row (at most 20,000 turns): whatever can move has moved. It
 * waits on the loop, never on a clock.
 */
export async function quiesce(...carriers: MemoryCarrier[]): Promise<void> {
  let last = -1;
  let still = 0;
  for (let i = 0; i < 20_000 && still < 20; i++) {
    await new Promise((r) => setImmediate(r));
    const now = carriers.reduce((s, c) => s + c.written, 0);
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

/** collect reads a stream channel to its end, releasing as it reads, and returns the bytes. */
export async function collect(ch: StreamChannel): Promise<Buffer> {
  const parts: Buffer[] = [];
  ch.on('data', (d) => {
    parts.push(Buffer.from(d));
    ch.release(d.length);
  });
  await once(ch, 'end');
  return Buffer.concat(parts);
}
