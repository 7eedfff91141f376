import test from 'ava';
import { channelGrant, ReceiveWindow } from './credit.ts';

test('the session window grants released bytes back once a quarter of it is released', (t) => {
  const w = new ReceiveWindow(1000);
  t.true(w.take(600));
  t.is(w.release(200), 0);
  t.deepEqual(w.view(), { window: 1000, available: 400, released: 200 });
  t.is(w.release(100), 300);
  t.deepEqual(w.view(), { window: 1000, available: 700, released: 0 });
});

test('DATA beyond the session window is an overrun', (t) => {
  const w = new ReceiveWindow(1000);
  t.true(w.take(1000));
  t.false(w.take(1));
});

function channel(window: number, lastGrantAt: number) {
  return { recvUnacked: 0, recvWindow: window, recvAvail: 0, lastGrantAt } as Parameters<typeof channelGrant>[0];
}

test('a channel grant goes out at a quarter of the window', (t) => {
  const ch = channel(1000, 0);
  t.is(channelGrant(ch, 200, 1000, 0, { maxChannelWindow: 4000 }), 0);
  t.is(channelGrant(ch, 50, 1000, 0, { maxChannelWindow: 4000 }), 250);
  t.is(ch.recvAvail, 250);
  t.is(ch.recvWindow, 1000); // no RTT measured yet: no tuning
});

test('auto-tuning doubles a window consumed within two RTTs, up to the maximum', (t) => {
  const ch = channel(1000, 1000);
  t.is(channelGrant(ch, 250, 1005, 10, { maxChannelWindow: 1500 }), 250 + 500);
  t.is(ch.recvWindow, 1500);
  t.is(channelGrant(ch, 400, 1006, 10, { maxChannelWindow: 1500 }), 400); // at the maximum
  t.is(ch.recvWindow, 1500);
  const slow = channel(1000, 0);
  t.is(channelGrant(slow, 250, 1000, 10, { maxChannelWindow: 4000 }), 250); // consumed slowly: no growth
});
