// ChannelTun: an in-memory TunDevice for tests, in the spirit of
// wireguard-go's tun/tuntest. The test plays the kernel: inject() delivers
// packets to the attached stack, and whatever the stack writes is handed to
// the outbound listener (or linked peer device).
import { emptyStats, flattenPacket, type Packet, type TunDevice, type TunHandlers, type TunStats } from './device.ts';

/** ChannelTunOptions bound the outbound queue so tests can exercise backpressure. */
export interface ChannelTunOptions {
  name?: string;
  mtu?: number;
  /** queueLimit is the most outbound packets held before writes are dropped (default 1024). */
  queueLimit?: number;
}

/** ChannelTun is a TunDevice backed by memory; delivery is asynchronous like a real device. */
export class ChannelTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly #queueLimit: number;
  readonly #highWater: number;
  #handlers: TunHandlers | undefined;
  #inbound: Uint8Array[] = [];
  #outbound: Uint8Array[] = [];
  #consumer: ((batch: Uint8Array[]) => void) | undefined;
  #paused = false;
  #scheduled = false;
  #needDrain = false;
  #closed = false;
  #stats: TunStats = emptyStats();

  constructor(opts: ChannelTunOptions = {}) {
    this.name = opts.name ?? 'chan0';
    this.mtu = opts.mtu ?? 65520;
    this.#queueLimit = opts.queueLimit ?? 1024;
    this.#highWater = Math.max(1, this.#queueLimit >> 1);
  }

  /** pair returns two devices where what one writes, the other reads (a virtual wire). */
  static pair(opts: ChannelTunOptions = {}): [ChannelTun, ChannelTun] {
    const a = new ChannelTun({ ...opts, name: `${opts.name ?? 'chan'}a` });
    const b = new ChannelTun({ ...opts, name: `${opts.name ?? 'chan'}b` });
    a.consume((batch) => b.inject(batch));
    b.consume((batch) => a.inject(batch));
    return [a, b];
  }

  attach(handlers: TunHandlers): void {
    if (this.#closed) throw new Error(`TUN device ${this.name} is closed`);
    this.#handlers = handlers;
    this.#schedule();
  }

  /** inject plays the OS sending packets into the device (they reach the attached handlers). */
  inject(packets: readonly Uint8Array[]): void {
    if (this.#closed) return;
    for (const p of packets) {
      if (p.byteLength > this.mtu) continue; // the kernel never hands over more than the MTU
      this.#inbound.push(p);
    }
    this.#schedule();
  }

  /** consume registers the OS side: it receives batches the device's user wrote, as they are written. */
  consume(fn: (batch: Uint8Array[]) => void): void {
    this.#consumer = fn;
    this.#schedule();
  }

  /** take removes and returns all packets written so far (for tests without a consumer). */
  take(): Uint8Array[] {
    const out = this.#outbound;
    this.#outbound = [];
    this.#afterOutboundShrink();
    return out;
  }

  write(packets: readonly Packet[]): boolean {
    if (this.#closed) {
      this.#stats.drops += packets.length;
      return false;
    }
    for (const p of packets) {
      const flat = flattenPacket(p);
      if (flat.byteLength > this.mtu) {
        this.#stats.writeErrors++;
        continue;
      }
      if (this.#outbound.length >= this.#queueLimit) {
        this.#stats.drops++;
        continue;
      }
      this.#outbound.push(flat);
      this.#stats.packetsOut++;
      this.#stats.bytesOut += flat.byteLength;
    }
    if (this.#outbound.length > this.#highWater) this.#needDrain = true;
    this.#schedule();
    return !this.#needDrain;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#schedule();
  }

  stats(): TunStats {
    return { ...this.#stats };
  }

  close(): void {
    this.#closed = true;
    this.#handlers = undefined;
    this.#inbound = [];
  }

  get closed(): boolean {
    return this.#closed;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#deliver();
    });
  }

  #deliver(): void {
    if (this.#closed) return;
    if (this.#handlers && !this.#paused && this.#inbound.length > 0) {
      const batch = this.#inbound.splice(0, 64);
      for (const p of batch) {
        this.#stats.packetsIn++;
        this.#stats.bytesIn += p.byteLength;
      }
      this.#handlers.packets(batch);
      if (this.#inbound.length > 0) this.#schedule();
    }
    if (this.#consumer && this.#outbound.length > 0) {
      const batch = this.#outbound;
      this.#outbound = [];
      this.#consumer(batch);
      this.#afterOutboundShrink();
    }
  }

  #afterOutboundShrink(): void {
    if (this.#needDrain && this.#outbound.length === 0) {
      this.#needDrain = false;
      this.#handlers?.drain?.();
    }
  }
}
