// CarrierWriter: how a session writes to its carrier. Frames written in one
// event-loop turn are corked into one writev; DATA payloads go by reference
// behind their header. It says when the write buffer is above the
// high-water mark (DATA then waits, see scheduler.ts) and pauses reading
// while a peer that provokes answers faster than it reads has more than the
// hard limit unsent (docs/protocol.md, "Sending order").
import type { Duplex } from 'node:stream';
import { encodeHeader, FrameType, HEADER_LENGTH } from './frame.ts';
import type { SessionLimits } from './limits.ts';

/** WriterStats count what a CarrierWriter wrote. */
export interface WriterStats {
  bytesSent: number;
  carrierBytesSent: number;
  framesSent: number;
}

/** CarrierWriter writes frames to one carrier. */
export class CarrierWriter {
  /** stats are the writer's counters. */
  readonly stats: WriterStats = { bytesSent: 0, carrierBytesSent: 0, framesSent: 0 };
  readonly #carrier: Duplex;
  readonly #limits: Pick<SessionLimits, 'carrierHighWater' | 'carrierHardLimit'>;
  #corked = false;
  #readPaused = false;

  constructor(carrier: Duplex, limits: Pick<SessionLimits, 'carrierHighWater' | 'carrierHardLimit'>) {
    this.#carrier = carrier;
    this.#limits = limits;
  }

  /** queued is how many bytes wait in the carrier's write buffer. */
  get queued(): number {
    return this.#carrier.writableLength;
  }

  /** writable says whether frames can still be written (the carrier is neither ended nor destroyed). */
  get writable(): boolean {
    return !this.#carrier.destroyed && !this.#carrier.writableEnded;
  }

  /** full says whether the write buffer is above the high-water mark: DATA waits for 'drain'. */
  full(): boolean {
    return this.#carrier.writableLength >= Math.max(this.#limits.carrierHighWater, this.#carrier.writableHighWaterMark);
  }

  /** frame writes one whole encoded frame. */
  frame(buf: Buffer | Uint8Array): void {
    if (!this.writable) return;
    this.#cork();
    this.stats.carrierBytesSent += buf.byteLength;
    this.stats.framesSent++;
    this.#carrier.write(buf);
  }

  /** data writes a DATA frame: its header, then the payload by reference. */
  data(channel: number, payload: Uint8Array): void {
    if (!this.writable) return;
    this.#cork();
    this.#carrier.write(encodeHeader(FrameType.DATA, 0, channel, payload.byteLength));
    this.#carrier.write(payload);
    this.stats.framesSent++;
    this.stats.carrierBytesSent += payload.byteLength + HEADER_LENGTH;
    this.stats.bytesSent += payload.byteLength;
  }

  /** afterRead pauses reading when more than the hard limit waits unsent (the peer reads slower than it asks). */
  afterRead(): void {
    if (!this.#readPaused && this.#carrier.writableLength >= this.#limits.carrierHardLimit) {
      this.#readPaused = true;
      this.#carrier.pause();
    }
  }

  /** drained resumes reading paused by afterRead once the backlog is below the hard limit. */
  drained(): void {
    if (this.#readPaused && this.#carrier.writableLength < this.#limits.carrierHardLimit) {
      this.#readPaused = false;
      this.#carrier.resume();
    }
  }

  #uncork = (): void => {
    this.#corked = false;
    this.#carrier.uncork();
  };

  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#carrier.cork();
    process.nextTick(this.#uncork);
  }
}
