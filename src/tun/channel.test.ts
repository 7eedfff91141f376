import test from 'ava';
import { ChannelTun } from './channel.ts';

test('ChannelTun drops and counts writes beyond its queue bound, then drains', async (t) => {
  const dev = new ChannelTun({ queueLimit: 4 });
  let drained = false;
  dev.attach({ packets: () => undefined, drain: () => (drained = true) });
  const p = new Uint8Array([0x45, 0, 0, 20]);
  const ok = dev.write([p, p, p, p, p, p]);
  t.false(ok);
  t.is(dev.stats().drops, 2);
  t.is(dev.take().length, 4);
  t.true(drained);
});
