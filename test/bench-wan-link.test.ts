// The WAN bench's emulated link (bench/support/wan-link.ts), driven by a fake
// clock: the delay and the rate are applied to every packet, and the queue
// is bounded (a burst beyond it is dropped, and what the link holds never
// exceeds the queue plus the bytes in propagation).
import test from 'ava';
import { profileName, shapeOf, WanLink } from '../bench/support/wan-link.ts';

const packet = (n: number) => new Uint8Array(n);

test('a lone packet arrives after its serialisation time plus the one-way delay, not before', (t) => {
  // 1,000 bytes at 8 Mbit/s take 1 ms to send; 10 ms to cross.
  const link = new WanLink({ delayMs: 10, rateBps: 8e6, queueBytes: 10_000 });
  t.is(link.offer(packet(1000), 100), 111);
  t.deepEqual(link.arrived(110.999), []);
  t.is(link.nextArrival(), 111);
  t.is(link.arrived(111).length, 1);
  t.is(link.nextArrival(), undefined);
});

test('back-to-back packets leave at the link rate: arrivals are spaced by each packet’s serialisation time', (t) => {
  const link = new WanLink({ delayMs: 5, rateBps: 8e6, queueBytes: 100_000 });
  const at = [0, 1, 2, 3].map(() => link.offer(packet(1000), 0));
  t.deepEqual(at, [6, 7, 8, 9]);
  // A packet offered after the link went idle is not sent earlier than its offer.
  t.is(link.offer(packet(500), 50), 50.5 + 5);
  // Over any span, what arrives is at most the rate times the span (plus one packet).
  const fast = new WanLink({ delayMs: 0, rateBps: 1e6, queueBytes: 1e9 });
  for (let i = 0; i < 1000; i++) fast.offer(packet(1250), 0); // 10 ms each at 1 Mbit/s
  t.is(fast.arrived(1000).length, 100);
  t.is(fast.arrived(2000).length, 100);
});

test('the queue is bounded: a burst beyond it is dropped and the link holds at most queue + bytes in flight', (t) => {
  const shape = { delayMs: 20, rateBps: 8e6, queueBytes: 4000 };
  const link = new WanLink(shape);
  const fates = Array.from({ length: 10 }, () => link.offer(packet(1000), 0));
  // Four fit in the 4,000-byte queue; the rest are dropped.
  t.is(fates.filter((x) => x !== undefined).length, 4);
  t.is(link.dropped, 6);
  t.is(link.backlog(0), 4000);
  // As the bottleneck drains, room comes back at the link rate.
  t.is(link.backlog(2), 2000);
  t.not(link.offer(packet(1000), 2), undefined);
  // Offered far faster than the rate for a long time, the link never holds more than its bound.
  const bound = shape.queueBytes + (shape.rateBps / 8000) * shape.delayMs + 1000;
  let most = 0;
  for (let now = 3; now < 3000; now += 0.1) {
    link.offer(packet(1000), now);
    link.arrived(now);
    most = Math.max(most, link.held());
  }
  t.true(most <= bound, `held ${most} > ${bound}`);
  t.true(link.dropped > 20_000);
});

test('profiles: half the RTT each way, a one-BDP buffer, named as the tables name them', (t) => {
  t.deepEqual(shapeOf({ rttMs: 20, rateMbps: 100 }), { delayMs: 10, rateBps: 1e8, queueBytes: 250_000 });
  t.deepEqual(shapeOf({ rttMs: 50, rateMbps: 1000 }), { delayMs: 25, rateBps: 1e9, queueBytes: 6_250_000 });
  t.is(profileName({ rttMs: 20, rateMbps: 100 }), '20ms-100M');
  t.is(profileName({ rttMs: 50, rateMbps: 1000 }), '50ms-1G');
  t.throws(() => new WanLink({ delayMs: 1, rateBps: 0, queueBytes: 1 }), { instanceOf: RangeError });
});
