// The stack's timer queue: due items come out in deadline order, cancelled
// and re-armed entries never fire, and stale entries do not pile up.
import test from 'ava';
import fc from 'fast-check';
import { DeadlineQueue, type Timed } from '../src/netstack/deadline-queue.ts';

class Item implements Timed {
  deadline = Number.POSITIVE_INFINITY;
  queuedAt = Number.POSITIVE_INFINITY;
  readonly id: number;
  constructor(id: number) {
    this.id = id;
  }
}

test('timers: due returns exactly the live items whose deadline passed, earliest first', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(19), fc.integer({ min: 0, max: 1000 }), fc.boolean()), { maxLength: 200 }),
      fc.integer({ min: 0, max: 1000 }),
      (ops, now) => {
        const q = new DeadlineQueue<Item>();
        const items = Array.from({ length: 20 }, (_, i) => new Item(i));
        const cancelled = new Set<Item>();
        for (const [i, d, cancel] of ops) {
          const it = items[i] as Item;
          if (cancel) {
            q.cancel(it);
            it.deadline = Number.POSITIVE_INFINITY;
            cancelled.add(it);
          } else {
            it.deadline = Math.min(it.deadline, d); // the stack only ever re-arms earlier or later; earlier must take effect
            q.schedule(it);
            cancelled.delete(it);
          }
        }
        const due = q.due(now);
        const expected = items.filter((it) => !cancelled.has(it) && it.deadline <= now);
        const ordered = due.every((it, k) => k === 0 || (due[k - 1] as Item).deadline <= it.deadline);
        return ordered && due.length === expected.length && expected.every((it) => due.includes(it));
      },
    ),
  );
  t.pass();
});

test('timers: re-arming and cancelling many times keeps the heap small', (t) => {
  const q = new DeadlineQueue<Item>();
  const items = Array.from({ length: 100 }, (_, i) => new Item(i));
  for (let round = 0; round < 1000; round++) {
    for (const it of items) {
      it.deadline = 1_000_000 - round; // ever earlier: each schedule pushes a new entry
      q.schedule(it);
    }
    if (round % 10 === 0) for (const it of items.slice(0, 50)) q.cancel(it);
  }
  t.true(q.size <= 2 * 100 + 1024 + 100, `heap has ${q.size} entries`);
  t.is(q.due(Number.POSITIVE_INFINITY).length, 100);
  t.is(q.next(), Number.POSITIVE_INFINITY);
});
