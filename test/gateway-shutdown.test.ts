// The gateway's shutdown over a carrier that writes slowly (a loaded node, a
// busy port-forward): every frame a drained session wrote reaches the laptop
// before the carrier is torn down. Seen on the real cluster: a rollout under
// load reset every flow, because shutdown destroyed the carriers with their
// last DATA, CLOSE and GOAWAY frames still in the write buffer.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { denyList } from '../src/gateway/config.ts';
import { GatewayMetrics } from '../src/gateway/metrics.ts';
import { GatewayServer } from '../src/gateway/server.ts';
import {
  type ChannelEnd,
  channelDuplex,
  connectSession,
  MemoryCarrier,
  type StreamChannel,
} from '../src/tunnel/index.ts';

const TOKEN = 'shutdown-test-token-0123';

/** SlowCarrier is the gateway's end of a MemoryCarrier pair whose every write takes `delayMs` to go out, like a socket whose peer reads slowly. */
class SlowCarrier extends Duplex {
  readonly #inner: MemoryCarrier;
  readonly #delayMs: number;

  constructor(inner: MemoryCarrier, delayMs: number) {
    super();
    this.#inner = inner;
    this.#delayMs = delayMs;
    inner.on('data', (c: Buffer) => this.push(c));
    inner.on('end', () => this.push(null));
    inner.on('close', () => this.destroy());
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    setTimeout(() => {
      this.#inner.write(chunk);
      cb();
    }, this.#delayMs);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#inner.destroy();
    cb(err);
  }
}

test('shutdown lets a drained session write out its last frames: the laptop gets every byte, CLOSE and GOAWAY', async (t) => {
  const body = randomBytes(1 << 20);
  const server = net.createServer((s) => s.end(body));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const gw = new GatewayServer({
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    metrics: new GatewayMetrics(),
    resolver: undefined,
    icmp: { ok: false, reason: 'test' },
    deny: denyList([]),
    maxSessions: 10,
  });
  const [a, b] = MemoryCarrier.pair();
  gw.serve(new SlowCarrier(b, 5), 'slow');
  const session = await connectSession(a, { token: TOKEN, clientId: 'laptop' });
  const sessionEnd = once(session, 'close');
  const r = await session.open({
    protocol: 'tcp',
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
  });
  if (!r.ok) return t.fail(r.message);
  const ch = r.channel as StreamChannel;
  const channelEnd = once(ch, 'close') as Promise<[ChannelEnd]>;
  const d = channelDuplex(ch);
  d.end(); // the laptop's app sends nothing: CLOSE at once, as after a request
  let error = '';
  d.on('error', (err: Error) => {
    error = err.message;
  });
  const hash = createHash('sha256');
  let got = 0;
  d.on('data', (c: Buffer) => {
    hash.update(c);
    got += c.length;
  });
  // Shut down while the transfer runs: the drain waits for the channel, then the session ends.
  await new Promise((res) => setTimeout(res, 50));
  await gw.shutdown(10_000);
  const [chEnd] = await channelEnd;
  const [end] = (await sessionEnd) as [{ reason: string }];
  t.is(error, '');
  t.is(chEnd.kind, 'closed');
  t.is(got, body.length);
  t.is(hash.digest('hex'), createHash('sha256').update(body).digest('hex'));
  t.not(end.reason, 'carrier-closed', 'the GOAWAY that ends the session arrived before the stream ended');
});
