import test from 'ava';
import { Heartbeat } from './heartbeat.ts';

test('a PONG yields the RTT sample and smooths the RTT (RFC 6298 weights)', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000 });
  const a = h.ping(100);
  t.is(h.pong(a, 110), 10);
  t.is(h.srtt, 10);
  const b = h.ping(200);
  t.is(h.pong(b, 218), 18);
  t.is(h.srtt, 10 * 0.875 + 18 * 0.125);
  t.deepEqual(h.unanswered(), []);
});

test('a PONG for an id not awaited is ignored', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000 });
  h.ping(0);
  t.is(h.pong(999, 5), undefined);
  t.is(h.unanswered().length, 1);
});

test('dead only when the oldest PING is past the deadline and nothing arrived for as long', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000 });
  h.ping(0);
  t.is(h.deadline(3000, 0), undefined); // not past yet
  t.is(h.deadline(3500, 1000), undefined); // the peer still talks
  t.regex(h.deadline(3500, 400) ?? '', /no PONG for 3500 ms and nothing received for 3100 ms/);
});
