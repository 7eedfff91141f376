// Reassembly of IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200 §4.5)
// fragments with bounded memory: at most maxDatagrams partial datagrams and
// maxBytes buffered in all, each given up after timeout. Overlapping
// fragments drop the whole datagram (RFC 5722). Fragments are copied, so no
// reference to the TUN's read slabs is kept.

/** FragmentLimits bound reassembly memory and time. */
export interface FragmentLimits {
  maxBytes: number;
  maxDatagrams: number;
  /** timeout in ms (RFC 8200 §4.5: 60 s; we use less by default). */
  timeout: number;
}

/** FragmentCounters count what reassembly discarded. */
export interface FragmentCounters {
  reassembled: number;
  overlaps: number;
  overLimit: number;
  expired: number;
}

interface Partial {
  frags: Array<{ off: number; data: Uint8Array }>;
  total: number; // payload length once the last fragment arrived, else -1
  bytes: number;
  deadline: number;
}

/** MAX_REASSEMBLED is the largest payload a reassembled datagram may have. */
export const MAX_REASSEMBLED = 65535;

/** Reassembler collects fragments per datagram key and returns whole payloads. */
export class Reassembler {
  readonly counters: FragmentCounters = { reassembled: 0, overlaps: 0, overLimit: 0, expired: 0 };
  readonly #limits: FragmentLimits;
  readonly #partials = new Map<string, Partial>();
  #bytes = 0;

  constructor(limits: FragmentLimits) {
    this.#limits = limits;
  }

  /** add takes one fragment (offset in bytes, more-fragments flag) and returns the whole payload once complete. */
  add(now: number, key: string, off: number, more: boolean, data: Uint8Array): Uint8Array | undefined {
    const end = off + data.length;
    if (end > MAX_REASSEMBLED || (more && data.length % 8 !== 0) || data.length === 0) {
      this.counters.overLimit++;
      this.#drop(key);
      return undefined;
    }
    let p = this.#partials.get(key);
    if (!p) {
      if (this.#partials.size >= this.#limits.maxDatagrams) {
        this.counters.overLimit++;
        return undefined;
      }
      p = { frags: [], total: -1, bytes: 0, deadline: now + this.#limits.timeout };
      this.#partials.set(key, p);
    }
    if (this.#bytes + data.length > this.#limits.maxBytes) {
      this.counters.overLimit++;
      this.#drop(key);
      return undefined;
    }
    for (const f of p.frags) {
      if (off < f.off + f.data.length && f.off < end) {
        this.counters.overlaps++;
        this.#drop(key);
        return undefined;
      }
    }
    if (!more) {
      if (p.total !== -1 || p.frags.some((f) => f.off + f.data.length > end)) {
        this.counters.overlaps++;
        this.#drop(key);
        return undefined;
      }
      p.total = end;
    } else if (p.total !== -1 && end > p.total) {
      this.counters.overlaps++;
      this.#drop(key);
      return undefined;
    }
    p.frags.push({ off, data: data.slice() });
    p.bytes += data.length;
    this.#bytes += data.length;
    if (p.total === -1 || p.bytes !== p.total) return undefined;
    const out = new Uint8Array(p.total);
    for (const f of p.frags) out.set(f.data, f.off);
    this.#drop(key);
    this.counters.reassembled++;
    return out;
  }

  /** expire discards partial datagrams whose time is up. */
  expire(now: number): void {
    for (const [key, p] of this.#partials) {
      if (p.deadline <= now) {
        this.counters.expired++;
        this.#drop(key);
      }
    }
  }

  /** nextDeadline is the earliest expiry, or Infinity. */
  nextDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const p of this.#partials.values()) d = Math.min(d, p.deadline);
    return d;
  }

  /** bytes is the memory held by partial datagrams. */
  get bytes(): number {
    return this.#bytes;
  }

  #drop(key: string): void {
    const p = this.#partials.get(key);
    if (!p) return;
    this.#bytes -= p.bytes;
    this.#partials.delete(key);
  }
}
