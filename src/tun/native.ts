// NativeTun: the kernel's TUN device through the native addon.
import type { TunPoller } from '../../native/devnet_tun.d.ts';
import { loadAddon } from './addon.ts';
import { emptyStats, type Packet, packetLength, type TunDevice, type TunHandlers, type TunStats } from './device.ts';

/** NativeTunOptions tune batching and the bounded write queue. */
export interface NativeTunOptions {
  /** mtu of the device, used to size read buffers (default 65520). */
  mtu?: number;
  /** maxBatch is the most packets handed to JS per wakeup (default 64). */
  maxBatch?: number;
  /** queueLimit is the most packets held while the kernel refuses writes; more are dropped (default 1024). */
  queueLimit?: number;
}

/** MAX_TUN_MTU is the largest MTU Linux accepts for a TUN device. */
export const MAX_TUN_MTU = 65535;
export const DEFAULT_TUN_MTU = 65520;

/**
 * NativeTun wraps an open TUN fd. Create one with NativeTun.open (name or
 * kernel-chosen name) or NativeTun.fromFd (a descriptor the root helper
 * passed over a unix socket).
 */
export class NativeTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly #poller: TunPoller;
  readonly #queue: Packet[] = [];
  readonly #queueLimit: number;
  readonly #highWater: number;
  #handlers: TunHandlers | undefined;
  #pending: Uint8Array[][] = [];
  #needDrain = false;
  #closed = false;
  #drops = 0;

  private constructor(fd: number, name: string, opts: NativeTunOptions) {
    this.name = name;
    this.mtu = opts.mtu ?? DEFAULT_TUN_MTU;
    this.#queueLimit = opts.queueLimit ?? 1024;
    this.#highWater = Math.max(1, this.#queueLimit >> 1);
    const addon = loadAddon();
    // Slabs hold at least 8 full-size packets so a batch rarely spans slabs.
    const slabSize = Math.max(this.mtu * 8, 1 << 19);
    this.#poller = new addon.TunPoller(
      fd,
      { mtu: this.mtu, maxBatch: opts.maxBatch ?? 64, slabSize },
      (batch) => this.#onPackets(batch),
      () => this.#flush(),
      (err) => this.#handlers?.error?.(Object.assign(err, { device: this.name })),
    );
    // Reading starts at once in the addon; hold batches until attach().
    this.#poller.pause();
  }

  /** open creates (or attaches to) the TUN device `name` ('' lets the kernel choose tunN). */
  static open(name: string, opts: NativeTunOptions = {}): NativeTun {
    const { fd, name: actual } = loadAddon().openTun(name);
    return new NativeTun(fd, actual, opts);
  }

  /** fromFd adopts an already open, non-blocking TUN descriptor. */
  static fromFd(fd: number, name: string, opts: NativeTunOptions = {}): NativeTun {
    return new NativeTun(fd, name, opts);
  }

  attach(handlers: TunHandlers): void {
    if (this.#closed) throw new Error(`TUN device ${this.name} is closed`);
    this.#handlers = handlers;
    for (const batch of this.#pending) handlers.packets(batch);
    this.#pending = [];
    this.#poller.resume();
  }

  write(packets: readonly Packet[]): boolean {
    if (this.#closed) {
      this.#drops += packets.length;
      return false;
    }
    let rest: readonly Packet[] = packets;
    if (this.#queue.length === 0) {
      const n = this.#poller.write(packets);
      if (n === packets.length) return true;
      rest = packets.slice(n);
    }
    for (const p of rest) {
      if (this.#queue.length >= this.#queueLimit) this.#drops++;
      else this.#queue.push(p);
    }
    if (this.#queue.length > this.#highWater) this.#needDrain = true;
    return !this.#needDrain;
  }

  pause(): void {
    if (!this.#closed) this.#poller.pause();
  }

  resume(): void {
    if (!this.#closed && this.#handlers) this.#poller.resume();
  }

  stats(): TunStats {
    if (this.#closed) return { ...emptyStats(), drops: this.#drops };
    const s = this.#poller.stats();
    return {
      packetsIn: s.packetsRead,
      bytesIn: s.bytesRead,
      packetsOut: s.packetsWritten,
      bytesOut: s.bytesWritten,
      drops: this.#drops,
      writeErrors: s.writeErrors,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drops += this.#queue.length;
    this.#queue.length = 0;
    this.#poller.close();
    this.#handlers = undefined;
  }

  /** queued is how many packets wait for the kernel to accept them. */
  get queued(): number {
    return this.#queue.length;
  }

  #onPackets(batch: Uint8Array[]): void {
    if (this.#handlers) this.#handlers.packets(batch);
    else this.#pending.push(batch);
  }

  #flush(): void {
    if (this.#closed || this.#queue.length === 0) return;
    const n = this.#poller.write(this.#queue);
    this.#queue.splice(0, n);
    if (this.#queue.length === 0 && this.#needDrain) {
      this.#needDrain = false;
      this.#handlers?.drain?.();
    }
  }
}

/** packetBytes sums the lengths of packets (for counters). */
export function packetBytes(packets: readonly Packet[]): number {
  let n = 0;
  for (const p of packets) n += packetLength(p);
  return n;
}
