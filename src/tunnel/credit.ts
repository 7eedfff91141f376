// The receive side of flow control (docs/protocol.md, "DATA and flow
// control"): the session window this end granted, and the WINDOW grants that
// give released bytes back — per channel with RTT × rate auto-tuning, and for
// the session. Clock-free: the time and the smoothed RTT are passed in.
import type { Channel } from './channel.ts';
import type { SessionLimits } from './limits.ts';

/** MIN_TUNING_RTT_MS is the smallest RTT window auto-tuning assumes (milliseconds). */
export const MIN_TUNING_RTT_MS = 2;

/** ReceiveWindowView is a read-only snapshot of a session's receive window. */
export interface ReceiveWindowView {
  /** window is the session window announced in the handshake. */
  window: number;
  /** available is what the peer may still send before it needs a session WINDOW. */
  available: number;
  /** released is what was released and not yet granted back (a WINDOW goes out at a quarter of the window). */
  released: number;
}

/** ReceiveWindow is the session-wide budget of bytes this end holds for the peer. */
export class ReceiveWindow {
  readonly #window: number;
  #available: number;
  #released = 0;

  constructor(window: number) {
    this.#window = window;
    this.#available = window;
  }

  /** view is a read-only snapshot. */
  view(): ReceiveWindowView {
    return { window: this.#window, available: this.#available, released: this.#released };
  }

  /** take charges n received DATA bytes; false when the peer sent beyond the window (FLOW_CONTROL). */
  take(n: number): boolean {
    this.#available -= n;
    return this.#available >= 0;
  }

  /** release returns n bytes; the result is the session WINDOW increment to send now (0 = none yet). */
  release(n: number): number {
    this.#released += n;
    if (this.#released < this.#window >>> 2) return 0;
    const inc = this.#released;
    this.#released = 0;
    this.#available += inc;
    return inc;
  }
}

/**
 * channelGrant returns n released bytes to a channel's window; the result is
 * the channel WINDOW increment to send now (0 = none yet). A grant goes out
 * when the released bytes reach a quarter of the window.
 */
export function channelGrant(
  ch: Channel,
  n: number,
  now: number,
  srtt: number,
  limits: Pick<SessionLimits, 'maxChannelWindow'>,
): number {
  ch.recvUnacked += n;
  if (ch.recvUnacked < ch.recvWindow >>> 2) return 0;
  let grow = 0;
  // Auto-tuning (RTT × rate): a quarter of the window was consumed in less
  // than two RTTs, so the window is below ~8× the bandwidth-delay product,
  // too little to keep the sender busy while grants travel and queue:
  // double it, up to maxChannelWindow. The RTT used is at least
  // MIN_TUNING_RTT_MS: a heartbeat taken while idle understates the delay a
  // grant meets under load (queues in the carrier and socket buffers).
  const rtt = Math.max(srtt, MIN_TUNING_RTT_MS);
  if (srtt > 0 && now - ch.lastGrantAt < 2 * rtt && ch.recvWindow < limits.maxChannelWindow) {
    grow = Math.min(ch.recvWindow, limits.maxChannelWindow - ch.recvWindow);
    ch.recvWindow += grow;
  }
  const inc = ch.recvUnacked + grow;
  ch.recvUnacked = 0;
  ch.recvAvail += inc;
  ch.lastGrantAt = now;
  return inc;
}
