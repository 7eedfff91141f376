import test from 'ava';
import { FakeClock } from './fake-clock.ts';

test('timers fire in time order, at their time, and only when time is advanced past them', (t) => {
  const c = new FakeClock(0);
  const fired: string[] = [];
  c.setTimeout(() => fired.push(`b@${c.now()}`), 20);
  c.setTimeout(() => fired.push(`a@${c.now()}`), 10);
  c.advance(9);
  t.deepEqual(fired, []);
  c.advance(20);
  t.deepEqual(fired, ['a@10', 'b@20']);
  t.is(c.now(), 29);
});

test('a cleared timer never fires; a timer armed by a firing timer fires within the same advance', (t) => {
  const c = new FakeClock(0);
  const fired: number[] = [];
  const h = c.setTimeout(() => fired.push(1), 5);
  c.clearTimeout(h);
  c.setTimeout(() => c.setTimeout(() => fired.push(c.now()), 5), 5);
  c.advance(10);
  t.deepEqual(fired, [10]);
  t.is(c.pending, 0);
});
