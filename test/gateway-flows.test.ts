// The gateway's stream bridge (src/gateway/flows.ts) returns every byte it
// received from the laptop to the session window exactly once, however the
// destination socket ends: flushed after both sides closed, destroyed with
// bytes still queued, or reset from the laptop (issue 14, "credit leak on
// channel end"). The destination is an in-process Duplex that takes bytes
// only when the test says, so "still queued" is exact, not a race.
import { Duplex } from 'node:stream';
import test from 'ava';
import { bridgeStream } from '../src/gateway/flows.ts';
import type { StreamChannel } from '../src/tunnel/index.ts';
import { pair, quiesce } from './support/tunnel-pair.ts';

const KIB = 1024;
// The gateway receives uploads into a 512 KiB session window: four flows
// leaking 128 KiB each would exhaust it.
const GATEWAY = { sessionWindow: 512 * KIB, initialChannelWindow: 128 * KIB, maxChannelWindow: 128 * KIB };

/** SlowDestination is a destination socket whose writes complete only on flush(). */
class SlowDestination extends Duplex {
  received = 0;
  #pending: (() => void)[] = [];

  constructor() {
    super({ allowHalfOpen: true, writableHighWaterMark: 1 });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.received += chunk.length;
    this.#pending.push(cb);
  }

  /** flush completes every pending write (the destination read them). */
  flush(): void {
    while (this.#pending.length > 0) this.#pending.shift()?.();
  }
}

type Ending = 'closed-then-flushed' | 'closed-then-destroyed' | 'reset-by-laptop';

for (const ending of ['closed-then-flushed', 'closed-then-destroyed', 'reset-by-laptop'] as Ending[]) {
  test(`gateway flows: uploaded bytes still queued at the destination return to the session (${ending})`, async (t) => {
    const { client, gateway, a, b } = await pair(t, {}, GATEWAY);
    const dests: SlowDestination[] = [];
    gateway.on('open', (ch) => {
      ch.accept();
      const d = new SlowDestination();
      dests.push(d);
      bridgeStream(ch as StreamChannel, d as never);
    });
    for (let i = 0; i < 8; i++) {
      const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 80 });
      if (!r.ok) return t.fail(r.message);
      const ch = r.channel as StreamChannel;
      ch.write(Buffer.alloc(128 * KIB, 2));
      await quiesce(a, b);
      const dest = dests[i]!;
      t.is(dest.writableLength, 128 * KIB, `upload ${i} reached the destination's queue`);
      if (ending === 'reset-by-laptop') {
        ch.reset('cancel', 'the app aborted');
      } else {
        ch.end();
        dest.push(null); // the destination half-closes too: the channel closes gracefully
        await quiesce(a, b);
        t.is(ch.state, 'closed');
        if (ending === 'closed-then-flushed') dest.flush();
        else dest.destroy();
      }
      await quiesce(a, b);
    }
  });
}
