// HandshakeGate bounds how many connections of one listener may be in their
// tunnel handshake at once. The handshake itself is bounded in time (the
// session's handshake timeout); this bounds the count, so a flood of silent
// connections on a routable listener (direct, intercepts) costs a fixed
// amount and cannot starve the sessions that do speak. Connections beyond
// the bound are closed at once.
import type { Duplex } from 'node:stream';

/** DEFAULT_MAX_HANDSHAKES is how many connections per listener may handshake at once unless configured. */
export const DEFAULT_MAX_HANDSHAKES = 64;

/** HandshakeGate admits connections into their handshake, at most `max` at once. */
export class HandshakeGate {
  readonly #max: number;
  readonly #inHandshake = new Set<Duplex>();

  constructor(max = DEFAULT_MAX_HANDSHAKES) {
    this.#max = max;
  }

  /** size is the number of connections in their handshake now. */
  get size(): number {
    return this.#inHandshake.size;
  }

  /** admit lets a connection start its handshake; false when `max` already are (the caller closes it). */
  admit(carrier: Duplex): boolean {
    if (this.#inHandshake.size >= this.#max) return false;
    this.#inHandshake.add(carrier);
    carrier.once('close', () => this.#inHandshake.delete(carrier));
    return true;
  }

  /** done says the connection's handshake is over, accepted or refused. */
  done(carrier: Duplex): void {
    this.#inHandshake.delete(carrier);
  }
}
