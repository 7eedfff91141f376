// FakeClock: a Clock for tests whose time moves only when the test says
// (advance), running due timers in order. With it and MemoryCarrier, credit,
// drain, heartbeat and timeout behaviour is tested without waiting.
import type { Clock, TimerHandle } from './clock.ts';

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** FakeClock is a Clock driven by advance(). */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  /** constructor starts the clock at `start` milliseconds. */
  constructor(start = 1000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#timers.push(t);
    return t as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    (handle as unknown as FakeTimer).live = false;
  }

  /** pending is the number of armed timers. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }

  /** advance moves time forward by ms, running every timer that falls due, in time order, at its time. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => t.live);
      let next: FakeTimer | undefined;
      for (const t of this.#timers)
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      next.live = false;
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = end;
  }
}
