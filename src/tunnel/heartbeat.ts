// The heartbeat (docs/protocol.md, "Heartbeat: PING, PONG"): the table of
// PINGs awaiting their PONG, the smoothed RTT, and the deadline that declares
// a carrier dead. Clock-free: the session passes the time in and arms the
// timer.
import type { SessionLimits } from './limits.ts';

/** Heartbeat tracks one session's PINGs. */
export class Heartbeat {
  readonly #limits: Pick<SessionLimits, 'pingTimeoutMs' | 'maxUnansweredPings'>;
  readonly #sent = new Map<number, number>(); // id → sent at; in send order
  #next = 1;
  #srtt = 0;

  constructor(limits: Pick<SessionLimits, 'pingTimeoutMs' | 'maxUnansweredPings'>) {
    this.#limits = limits;
  }

  /** srtt is the smoothed round-trip time in milliseconds (0 before the first PONG). */
  get srtt(): number {
    return this.#srtt;
  }

  /** unanswered lists the ids of PINGs awaiting a PONG, oldest first. */
  unanswered(): number[] {
    return [...this.#sent.keys()];
  }

  /** ping records a PING sent now and returns its id, or undefined when maxUnansweredPings already wait (send none). */
  ping(now: number): number | undefined {
    if (this.#sent.size >= this.#limits.maxUnansweredPings) return undefined;
    const id = this.#next;
    this.#next = (this.#next % 0xfffffffe) + 1;
    this.#sent.set(id, now);
    return id;
  }

  /** pong records a PONG; the result is the RTT sample, or undefined for an id not awaited. */
  pong(id: number, now: number): number | undefined {
    const sentAt = this.#sent.get(id);
    if (sentAt === undefined) return undefined;
    this.#sent.delete(id);
    const sample = Math.max(0.001, now - sentAt);
    this.#srtt = this.#srtt === 0 ? sample : this.#srtt * 0.875 + sample * 0.125; // RFC 6298 §2 smoothing
    return sample;
  }

  /**
   * deadline returns why the carrier is dead, or undefined while it lives.
   * Dead = our oldest PING is unanswered past the deadline AND nothing at all
   * arrived for that long. A PONG held up behind our own queued DATA on a slow
   * link does not count while the peer's frames (its PINGs, WINDOWs) still
   * arrive; if only our direction is black-holed, the peer hears nothing from
   * us and ends the session from its side.
   */
  deadline(now: number, lastRx: number): string | undefined {
    const silentFor = now - lastRx;
    for (const sentAt of this.#sent.values()) {
      if (now - sentAt > this.#limits.pingTimeoutMs && silentFor > this.#limits.pingTimeoutMs)
        return `no PONG for ${Math.round(now - sentAt)} ms and nothing received for ${Math.round(silentFor)} ms (deadline ${this.#limits.pingTimeoutMs} ms): the tunnel stream is dead`;
      break; // the map is in send order: the oldest decides
    }
    return undefined;
  }
}
