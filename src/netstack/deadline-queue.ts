// DeadlineQueue: a binary min-heap of (time, item) with lazy deletion, so
// re-arming a timer later costs nothing and earlier costs O(log n). Stale
// entries (re-armed or cancelled items) are compacted away once they
// outnumber live ones, so forgotten items are not kept reachable.

/** Timed is anything with a deadline the queue can track; queuedAt is the queue's bookkeeping. */
export interface Timed {
  readonly deadline: number;
  queuedAt: number;
}

/** DeadlineQueue yields items whose deadline has come. */
export class DeadlineQueue<T extends Timed> {
  #at: number[] = [];
  #items: T[] = [];
  #live = 0; // items with a finite queuedAt

  /** schedule makes sure item is reported no later than its current deadline. */
  schedule(item: T): void {
    const d = item.deadline;
    if (!(d < item.queuedAt)) return; // already queued at or before d (or no deadline)
    if (item.queuedAt === Number.POSITIVE_INFINITY) this.#live++;
    item.queuedAt = d;
    this.#push(d, item);
    if (this.#at.length > 2 * this.#live + 1024) this.#compact();
  }

  /** cancel forgets item (its entries become stale and are dropped). */
  cancel(item: T): void {
    if (item.queuedAt === Number.POSITIVE_INFINITY) return;
    item.queuedAt = Number.POSITIVE_INFINITY;
    this.#live--;
  }

  /** next is the earliest queued time (stale entries removed), or Infinity. */
  next(): number {
    while (this.#at.length > 0) {
      const item = this.#items[0] as T;
      if (item.queuedAt === this.#at[0]) return this.#at[0] as number;
      this.#pop();
    }
    return Number.POSITIVE_INFINITY;
  }

  /** due removes and returns the items queued at or before now. */
  due(now: number, out: T[] = []): T[] {
    while (this.#at.length > 0 && (this.#at[0] as number) <= now) {
      const at = this.#at[0] as number;
      const item = this.#pop();
      if (item.queuedAt !== at) continue;
      item.queuedAt = Number.POSITIVE_INFINITY;
      this.#live--;
      out.push(item);
    }
    return out;
  }

  /** size is the number of heap entries, stale ones included. */
  get size(): number {
    return this.#at.length;
  }

  #compact(): void {
    const at: number[] = [];
    const items: T[] = [];
    for (let i = 0; i < this.#at.length; i++) {
      const item = this.#items[i] as T;
      if (item.queuedAt === this.#at[i]) {
        at.push(this.#at[i] as number);
        items.push(item);
      }
    }
    this.#at = [];
    this.#items = [];
    for (let i = 0; i < at.length; i++) this.#push(at[i] as number, items[i] as T);
  }

  #push(at: number, item: T): void {
    const a = this.#at;
    const it = this.#items;
    let i = a.length;
    a.push(at);
    it.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as number) <= at) break;
      a[i] = a[p] as number;
      it[i] = it[p] as T;
      i = p;
    }
    a[i] = at;
    it[i] = item;
  }

  #pop(): T {
    const a = this.#at;
    const it = this.#items;
    const top = it[0] as T;
    const lastAt = a.pop() as number;
    const lastIt = it.pop() as T;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (a[c + 1] as number) < (a[c] as number)) c++;
        if ((a[c] as number) >= lastAt) break;
        a[i] = a[c] as number;
        it[i] = it[c] as T;
        i = c;
      }
      a[i] = lastAt;
      it[i] = lastIt;
    }
    return top;
  }
}
