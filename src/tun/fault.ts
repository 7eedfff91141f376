// FaultTun wraps any TunDevice and injects faults (drop, duplicate, reorder,
// corrupt) with a seeded generator, so a failing run can be replayed.
// Userspace stand-in for netem, which this kernel does not have.
import { flattenPacket, type Packet, type TunDevice, type TunHandlers } from './device.ts';
import { TunWrapper } from './wrapper.ts';

/** FaultRates are probabilities in [0, 1] applied to each packet. */
export interface FaultRates {
  drop?: number;
  duplicate?: number;
  /** reorder swaps a packet with the next one in its batch. */
  reorder?: number;
  /** corrupt flips one random bit (checksums should then reject the packet). */
  corrupt?: number;
}

/** FaultOptions choose the seed and which directions are faulted. */
export interface FaultOptions extends FaultRates {
  seed?: number;
  /** inbound: OS → devnet; outbound: devnet → OS (default both). */
  direction?: 'inbound' | 'outbound' | 'both';
}

/** mulberry32 returns a small, fast, seeded PRNG yielding floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FaultCounts say how many packets each fault touched. */
export interface FaultCounts {
  dropped: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
}

/** applyFaults returns a new batch with faults applied; it never mutates its input buffers. */
export function applyFaults(
  batch: readonly Uint8Array[],
  rates: FaultRates,
  rand: () => number,
  counts: FaultCounts,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of batch) {
    if (rates.drop && rand() < rates.drop) {
      counts.dropped++;
      continue;
    }
    let q = p;
    if (rates.corrupt && rand() < rates.corrupt && p.byteLength > 0) {
      q = p.slice();
      const bit = Math.floor(rand() * q.byteLength * 8);
      q[bit >> 3] = (q[bit >> 3] as number) ^ (1 << (bit & 7));
      counts.corrupted++;
    }
    out.push(q);
    if (rates.duplicate && rand() < rates.duplicate) {
      out.push(q);
      counts.duplicated++;
    }
  }
  if (rates.reorder) {
    for (let i = 0; i + 1 < out.length; i++) {
      if (rand() < rates.reorder) {
        const t = out[i] as Uint8Array;
        out[i] = out[i + 1] as Uint8Array;
        out[i + 1] = t;
        counts.reordered++;
        i++;
      }
    }
  }
  return out;
}

/** FaultTun applies FaultOptions to traffic through an inner device. */
export class FaultTun extends TunWrapper {
  readonly counts: FaultCounts = { dropped: 0, duplicated: 0, reordered: 0, corrupted: 0 };
  readonly #opts: FaultOptions;
  readonly #rand: () => number;

  constructor(inner: TunDevice, opts: FaultOptions) {
    super(inner);
    this.#opts = opts;
    this.#rand = mulberry32(opts.seed ?? 1);
  }

  override attach(handlers: TunHandlers): void {
    const faulted = this.#opts.direction !== 'outbound';
    this.inner.attach({
      ...handlers,
      packets: (batch) => {
        const out = faulted ? applyFaults(batch, this.#opts, this.#rand, this.counts) : batch;
        if (out.length > 0) handlers.packets(out);
      },
    });
  }

  override write(packets: readonly Packet[]): boolean {
    if (this.#opts.direction === 'inbound') return this.inner.write(packets);
    return this.inner.write(applyFaults(packets.map(flattenPacket), this.#opts, this.#rand, this.counts));
  }
}
