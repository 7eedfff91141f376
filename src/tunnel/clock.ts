// Time and timers for the tunnel, passed in rather than taken from globals,
// so credit, drain, heartbeat and timeout logic runs the same on a fake clock
// in tests (src/tunnel/fake-clock.ts) as on the real one (STYLE.md lesson 6).

/** TimerHandle is an armed timer, opaque to its holder. */
export type TimerHandle = { readonly __timer: unique symbol };

/** TimerOptions modify a timer. */
export interface TimerOptions {
  /** unref: the timer alone does not keep the process running (Node's timer.unref()). */
  unref?: boolean;
}

/** Clock is a millisecond clock with one-shot timers. */
export interface Clock {
  /** now returns the current time in milliseconds (monotonic). */
  now(): number;
  /** setTimeout calls fn once, ms milliseconds from now. */
  setTimeout(fn: () => void, ms: number, opts?: TimerOptions): TimerHandle;
  /** clearTimeout disarms a timer; undefined and fired timers are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** realClock is performance.now and Node's timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms, opts) {
    const t = setTimeout(fn, ms);
    if (opts?.unref) t.unref();
    return t as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout);
  },
};
