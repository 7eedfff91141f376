import test from 'ava';
import { Heartbeat } from './heartbeat.ts';

test('a PONG yields the RTT sample and smooths the RTT (RFC 6298 weights)', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000, maxUnansweredPings: 4 });
  const a = h.ping(100) as number;
  t.is(h.pong(a, 110), 10);
  t.is(h.srtt, 10);
  const b = h.ping(200) as number;
  t.is(h.pong(b, 218), 18);
  t.is(h.srtt, 10 * 0.875 + 18 * 0.125);
  t.deepEqual(h.unanswered(), []);
});

test('a PONG for an id not awaited is ignored', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000, maxUnansweredPings: 4 });
  h.ping(0);
  t.is(h.pong(999, 5), undefined);
  t.is(h.unanswered().length, 1);
});

test('dead only when the oldest PING is past the deadline and nothing arrived for as long', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000, maxUnansweredPings: 4 });
  h.ping(0);
  t.is(h.deadline(3000, 0), undefined); // not past yet
  t.is(h.deadline(3500, 1000), undefined); // the peer still talks
  t.regex(h.deadline(3500, 400) ?? '', /no PONG for 3500 ms and nothing received for 3100 ms/);
});

test('the table of unanswered PINGs is bounded: no new PING while it is full', (t) => {
  const h = new Heartbeat({ pingTimeoutMs: 3000, maxUnansweredPings: 4 });
  const ids = [0, 1, 2, 3, 4, 5].map((i) => h.ping(i * 1000));
  t.deepEqual(ids, [1, 2, 3, 4, undefined, undefined]);
  t.is(h.pong(1, 6000), 6000);
  t.is(h.ping(6000), 5);
  t.deepEqual(h.unanswered(), [2, 3, 4, 5]);
});
