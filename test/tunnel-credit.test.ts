// Credit accounting across every way a channel ends (issue 14, "credit leak
// on channel end"): every byte delivered to a receiver returns to the
// session window exactly once, so aborted transfers never starve the
// session; and a channel stuck on session credit never holds back another
// channel's CLOSE.
import test from 'ava';
import { channelDuplex, type Session, type StreamChannel } from '../src/tunnel/index.ts';
import { pair, quiesce } from './support/tunnel-pair.ts';

const KIB = 1024;

/**
 * open opens a TCP channel and attaches `onData` at once: a channel's events
 * are held for two microtasks after open() resolves, no longer, so a listener
 * attached after a further await could miss bytes.
 */
async function open(s: Session, onData: (ch: StreamChannel, d: Buffer) => void): Promise<StreamChannel> {
  const r = await s.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
  if (!r.ok) throw new Error(`open failed: ${r.reason} ${r.message}`);
  const ch = r.channel as StreamChannel;
  ch.on('data', (d) => onData(ch, d));
  return ch;
}
// The client (the receiver of downloads) announces a small session window, so
// four leaked channel windows would exhaust it.
const RECEIVER = { sessionWindow: 1024 * KIB, initialChannelWindow: 256 * KIB, maxChannelWindow: 256 * KIB };

type Ending = 'reset-here' | 'reset-by-peer' | 'closed-then-released';

/** serveDownloads makes the gateway answer each channel with `n` bytes (and CLOSE when `close`). */
function serveDownloads(gateway: Session, n: number, close: boolean) {
  const served: StreamChannel[] = [];
  gateway.on('open', (ch) => {
    ch.accept();
    const s = ch as StreamChannel;
    served.push(s);
    s.write(Buffer.alloc(n, 1));
    if (close) {
      s.on('end', () => undefined);
      s.end();
    }
  });
  return served;
}

for (const ending of ['reset-here', 'reset-by-peer', 'closed-then-released'] as Ending[]) {
  test(`credit: bytes delivered but not released come back to the session when the channel ends (${ending})`, async (t) => {
    const { client, gateway, a, b } = await pair(t, RECEIVER, {});
    const served = serveDownloads(gateway, 256 * KIB, ending === 'closed-then-released');
    // Twelve aborted downloads: each leaves a full channel window delivered and
    // unreleased at the moment its channel ends (three times the session window).
    for (let i = 0; i < 12; i++) {
      let held = 0;
      const ch = await open(client, (_, d) => {
        held += d.length;
      });
      await quiesce(a, b);
      t.is(held, 256 * KIB, `download ${i} got its window before it ended`);
      if (ending === 'reset-here') ch.reset('cancel', 'the app aborted');
      else if (ending === 'reset-by-peer') served[i]!.reset('connection-reset', 'the server aborted');
      else {
        ch.end();
        await quiesce(a, b);
        t.is(ch.state, 'closed');
        ch.release(held); // the app read the bytes after the channel had closed
      }
      await quiesce(a, b);
    }
    // A fresh download must still get its bytes.
    let got = 0;
    await open(client, (ch, d) => {
      got += d.length;
      ch.release(d.length);
    });
    await quiesce(a, b);
    t.is(got, 256 * KIB);
  });
}

test('credit: a release larger than what was delivered returns only what was delivered', async (t) => {
  const { client, gateway, a, b } = await pair(t, RECEIVER, {});
  serveDownloads(gateway, 256 * KIB, false);
  let got = 0;
  const first = await open(client, (ch, d) => {
    got += d.length;
    ch.release(d.length);
    ch.release(d.length); // a consumer bug must not mint credit
  });
  await quiesce(a, b);
  t.is(got, 256 * KIB);
  first.reset('cancel', 'done');
  await quiesce(a, b);
  // Five downloads nobody reads: the session window (1 MiB) holds four. Had
  // the double release been counted, the gateway would send the fifth too,
  // beyond the window, and the client would end the session (FLOW_CONTROL).
  const held: number[] = [];
  for (let i = 0; i < 5; i++) {
    held.push(0);
    await open(client, (_, d) => {
      held[i]! += d.length;
    });
  }
  await quiesce(a, b);
  t.false(client.closed, client.endedWith?.message);
  t.is(
    held.reduce((x, y) => x + y, 0),
    1024 * KIB,
  );
});

test('rotation: a channel waiting for session credit does not hold back another channel’s CLOSE', async (t) => {
  // The gateway receives and its consumer of channel A never releases.
  const { client, gateway, a, b } = await pair(t, {}, { sessionWindow: 256 * KIB, initialChannelWindow: 256 * KIB });
  const gw: StreamChannel[] = [];
  gateway.on('open', (ch) => {
    ch.accept();
    gw.push(ch as StreamChannel);
  });
  const chA = await open(client, () => undefined);
  const chB = await open(client, () => undefined);
  let bGot = 0;
  let bEnded = false;
  gw[1]!.on('data', (d) => {
    bGot += d.length;
    gw[1]!.release(d.length);
  });
  gw[1]!.on('end', () => {
    bEnded = true;
  });
  chB.write(Buffer.from('request'));
  await quiesce(a, b);
  t.is(bGot, 7);
  chA.write(Buffer.alloc(512 * KIB)); // half of it exhausts the session window and waits
  await quiesce(a, b);
  t.true(chA.queuedBytes > 0);
  chB.end(); // nothing queued on B: its CLOSE must go out now
  await quiesce(a, b);
  t.true(bEnded, 'the gateway saw CLOSE on channel B');
});

test('credit: after any mix of endings, nothing is held and both ends agree on the session window', async (t) => {
  const { mulberry32 } = await import('../src/tun/fault.ts');
  const rnd = mulberry32(Number(process.env.FUZZ_SEED ?? 1414));
  const { client, gateway, a, b } = await pair(t, RECEIVER, {});
  const served: StreamChannel[] = [];
  gateway.on('open', (ch) => {
    ch.accept();
    served.push(ch as StreamChannel);
  });
  const consumers: { ch: StreamChannel; delivered: Buffer[] }[] = [];
  for (let i = 0; i < 60; i++) {
    const delivered: Buffer[] = [];
    const ch = await open(client, (_, d) => delivered.push(d));
    consumers.push({ ch, delivered });
    const gw = served[i]!;
    gw.write(Buffer.alloc(1 + Math.floor(rnd() * 300 * KIB), 4));
    if (rnd() < 0.5) gw.end();
    await quiesce(a, b);
    const releaseSome = (): void => {
      const n = delivered.splice(0, Math.floor(rnd() * (delivered.length + 1))).reduce((s, d) => s + d.length, 0);
      ch.release(n);
    };
    releaseSome();
    switch (Math.floor(rnd() * 4)) {
      case 0:
        ch.reset('cancel', 'abort');
        break;
      case 1:
        gw.reset('connection-reset', 'abort');
        break;
      case 2:
        ch.end();
        gw.end();
        break;
      default:
        break; // left open
    }
    await quiesce(a, b);
    releaseSome();
    if (rnd() < 0.3) ch.release(1 << 20); // a consumer bug: more than it has
  }
  // Every consumer now releases what it still holds, and the open channels end.
  await quiesce(a, b);
  for (const c of consumers) c.ch.release(c.delivered.splice(0).reduce((s, d) => s + d.length, 0));
  for (const ch of served) ch.reset('cancel', 'done');
  await quiesce(a, b);
  const rx = client.tables().receive;
  t.deepEqual(client.tables().channels, []);
  t.is(rx.window - rx.available - rx.released, 0, 'bytes still counted as held by the client');
  t.is(gateway.tables().sendCredit, rx.available, 'the gateway may send exactly what the client still accepts');
});

test('credit: a channelDuplex destroyed unread after a graceful close gives back what it held', async (t) => {
  const { client, gateway, a, b } = await pair(t, RECEIVER, {});
  serveDownloads(gateway, 256 * KIB, true);
  for (let i = 0; i < 8; i++) {
    const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
    if (!r.ok) return t.fail(r.message);
    const d = channelDuplex(r.channel as StreamChannel);
    d.on('error', () => undefined);
    await quiesce(a, b);
    t.is(r.channel.bytesReceived, 256 * KIB, `download ${i} arrived; nobody reads it`);
    d.end(); // half-close: the channel closes gracefully with bytes unread
    await quiesce(a, b);
    t.is(r.channel.state, 'closed');
    d.destroy();
    await quiesce(a, b);
  }
});
