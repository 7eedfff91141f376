// The laptop's bridge between a netstack stream and a tunnel channel
// (src/dataplane/tunnel-upstream.ts) returns every byte received from the
// gateway to the session window exactly once, also when the app resets
// while bytes wait for its window (issue 14, "credit leak on channel end").
import test from 'ava';
import { bridgeStream } from '../src/dataplane/tunnel-upstream.ts';
import type { StreamChannel as StackSide, StackStream } from '../src/netstack/upstream.ts';
import type { StreamChannel } from '../src/tunnel/index.ts';
import { pair, quiesce } from './support/tunnel-pair.ts';

const KIB = 1024;
const LAPTOP = { sessionWindow: 1024 * KIB, initialChannelWindow: 256 * KIB, maxChannelWindow: 256 * KIB };

/** FakeStack is the stack's end of one flow: an app that grants nothing until told, and records what it got. */
class FakeStack implements StackStream {
  side: StackSide | undefined;
  toApp = 0;
  ended = false;
  wasReset = false;
  accept(channel: StackSide): void {
    this.side = channel;
  }
  reject(): void {}
  grant(): void {}
  write(data: Uint8Array): void {
    this.toApp += data.byteLength;
  }
  end(): void {
    this.ended = true;
  }
  reset(): void {
    this.wasReset = true;
  }
}

test('bridge: bytes waiting for the app window return to the session when the app resets after the channel closed', async (t) => {
  const { client, gateway, a, b } = await pair(t, LAPTOP, {});
  gateway.on('open', (ch) => {
    ch.accept();
    (ch as StreamChannel).write(Buffer.alloc(256 * KIB, 3));
    ch.end();
  });
  for (let i = 0; i < 8; i++) {
    const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
    if (!r.ok) return t.fail(r.message);
    const ch = r.channel as StreamChannel;
    const app = new FakeStack();
    bridgeStream(ch, app);
    await quiesce(a, b);
    t.is(ch.bytesReceived, 256 * KIB, `download ${i} arrived (it waits for the app's window)`);
    t.is(app.toApp, 0);
    app.side?.end(); // the app half-closes: both sides sent CLOSE, the channel is closed
    await quiesce(a, b);
    t.is(ch.state, 'closed');
    app.side?.reset(); // then the app aborts without reading
    await quiesce(a, b);
  }
});

test('bridge: bytes the app read are returned once, also when it resets later', async (t) => {
  const { client, gateway, a, b } = await pair(t, LAPTOP, {});
  gateway.on('open', (ch) => {
    ch.accept();
    (ch as StreamChannel).write(Buffer.alloc(256 * KIB, 3));
  });
  for (let i = 0; i < 8; i++) {
    const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
    if (!r.ok) return t.fail(r.message);
    const ch = r.channel as StreamChannel;
    const app = new FakeStack();
    bridgeStream(ch, app);
    await quiesce(a, b);
    app.side?.grant(100 * KIB); // the app reads part
    await quiesce(a, b);
    t.is(app.toApp, 100 * KIB, `download ${i}: the app read what it granted`);
    app.side?.reset();
    await quiesce(a, b);
  }
  // Had anything been returned twice, the gateway could now overrun the window:
  // five downloads nobody reads fill exactly the 1 MiB session window.
  let held = 0;
  for (let i = 0; i < 5; i++) {
    const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
    if (!r.ok) return t.fail(r.message);
    (r.channel as StreamChannel).on('data', (d) => {
      held += d.length;
    });
  }
  await quiesce(a, b);
  t.false(client.closed);
  t.is(held, 1024 * KIB);
});
