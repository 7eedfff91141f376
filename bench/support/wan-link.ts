// The WAN bench's emulated link, one direction: a bottleneck of `rateBps`
// bits per second with a drop-tail queue of `queueBytes`, then a fixed
// one-way propagation delay, as netem + tbf would make it (this kernel has
// no netem). Pure and clock-free: the caller passes the time (ms) of each
// event, so tests drive it with a fake clock; bench/wan-forwarder.ts runs it
// between two TUN devices.
//
// Memory is bounded: at most `queueBytes` wait for the bottleneck (a packet
// that would exceed it is dropped, as a router's full buffer drops it) and
// at most rateBps/8 × delay bytes (plus one packet) are in propagation.

/** LinkShape is one direction of an emulated link. */
export interface LinkShape {
  /** delayMs is the one-way propagation delay (half the RTT the link adds). */
  delayMs: number;
  /** rateBps is the bottleneck's rate in bits per second. */
  rateBps: number;
  /** queueBytes is the bottleneck's buffer: bytes that may wait to be sent. */
  queueBytes: number;
}

/** WanLink schedules packets across one direction of an emulated link. */
export class WanLink<T extends { byteLength: number }> {
  readonly shape: LinkShape;
  /** #busyUntil is when the bottleneck finishes sending the last accepted packet (ms). */
  #busyUntil = 0;
  /** #flight holds accepted packets in order, each with its arrival time at the far end (non-decreasing). */
  readonly #flight: { packet: T; at: number }[] = [];
  #head = 0;
  #dropped = 0;

  constructor(shape: LinkShape) {
    if (!(shape.delayMs >= 0 && shape.rateBps > 0 && shape.queueBytes > 0))
      throw new RangeError('WanLink: need delayMs >= 0, rateBps > 0, queueBytes > 0');
    this.shape = shape;
  }

  /** backlog is how many bytes wait for the bottleneck at `now`. */
  backlog(now: number): number {
    return (Math.max(0, this.#busyUntil - now) * this.shape.rateBps) / 8000;
  }

  /**
   * offer hands the link a packet at `now`; it returns the time the packet
   * arrives at the far end, or undefined when the queue is full and the
   * packet is dropped.
   */
  offer(packet: T, now: number): number | undefined {
    const size = packet.byteLength;
    if (this.backlog(now) + size > this.shape.queueBytes) {
      this.#dropped++;
      return undefined;
    }
    this.#busyUntil = Math.max(now, this.#busyUntil) + (size * 8000) / this.shape.rateBps;
    const at = this.#busyUntil + this.shape.delayMs;
    this.#flight.push({ packet, at });
    return at;
  }

  /** arrived removes and returns, in order, the packets whose arrival time is at or before `now`. */
  arrived(now: number): T[] {
    const out: T[] = [];
    while (this.#head < this.#flight.length) {
      const next = this.#flight[this.#head] as { packet: T; at: number };
      if (next.at > now) break;
      out.push(next.packet);
      this.#head++;
    }
    // Compact now and then, so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#flight.length) {
      this.#flight.splice(0, this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** nextArrival is the time the next packet arrives, or undefined when none is on the link. */
  nextArrival(): number | undefined {
    return this.#flight[this.#head]?.at;
  }

  /** held is how many bytes the link holds (queued and in propagation). */
  held(): number {
    let n = 0;
    for (let i = this.#head; i < this.#flight.length; i++) n += (this.#flight[i] as { packet: T }).packet.byteLength;
    return n;
  }

  /** dropped is how many packets the full queue dropped. */
  get dropped(): number {
    return this.#dropped;
  }
}

/** WanProfile is one emulated WAN: round-trip time added and the rate each way. */
export interface WanProfile {
  rttMs: number;
  rateMbps: number;
}

/** profileName writes a profile as the tables name it ("20ms-100M", "50ms-1G"). */
export function profileName(p: WanProfile): string {
  return `${p.rttMs}ms-${p.rateMbps >= 1000 ? `${p.rateMbps / 1000}G` : `${p.rateMbps}M`}`;
}

/** shapeOf turns a profile into one direction's shape: half the RTT each way, a buffer of one bandwidth-delay product (at least 64 KiB). */
export function shapeOf(p: WanProfile): LinkShape {
  const rateBps = p.rateMbps * 1e6;
  return {
    delayMs: p.rttMs / 2,
    rateBps,
    queueBytes: Math.max(65536, Math.round((rateBps / 8) * (p.rttMs / 1000))),
  };
}
