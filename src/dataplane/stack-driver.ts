// StackDriver runs a NetStack over a TunDevice: it owns the real clock, the
// one timer armed from the stack's pollAt, batched writes, and backpressure
// towards the TUN (reads pause while the device's write queue is above its
// high-water mark, so the app's kernel queues instead of us).
//
// The driver is the boundary between the device's callbacks and everything
// above them: nothing thrown above may cross it, since a throw inside the
// TUN's read or writable callback would end the daemon and every flow of the
// session. The stack aborts a flow whose processing throws (onFault); what
// the driver still catches is reported through onError and dropped.
import { performance } from 'node:perf_hooks';
import { NetStack, type OutPacket, type StackOptions } from '../netstack/stack.ts';
import { loadAddon } from '../tun/addon.ts';
import type { TunDevice } from '../tun/device.ts';
import type { ChecksumFn } from '../wire/checksum.ts';

/** StackDriverOptions are the stack's options plus the driver's own. */
export interface StackDriverOptions extends Omit<StackOptions, 'wake'> {
  /** clock returns milliseconds (default performance.now). */
  clock?: () => number;
  /** onError receives device failures and anything thrown that no single flow could be blamed for. */
  onError?: (err: Error) => void;
}

/** StackDriver connects one TUN device to one NetStack. */
export class StackDriver {
  readonly stack: NetStack;
  readonly #tun: TunDevice;
  readonly #clock: () => number;
  readonly #onError: (err: Error) => void;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #scheduled = false;
  #immediate: NodeJS.Immediate | undefined;
  #out: OutPacket[] = [];
  #paused = false;
  #closed = false;
  readonly #emit = (p: OutPacket) => {
    this.#out.push(p);
  };

  constructor(tun: TunDevice, opts: StackDriverOptions) {
    this.#tun = tun;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#onError = opts.onError ?? (() => undefined);
    // The TUN's peer is the local kernel, over memory: received checksums are
    // not verified unless asked (bench:netstack measured the cost on 64 KiB segments).
    // The addon's C checksum is used when it is built (payload sums are most of the per-byte work).
    this.stack = new NetStack({
      verifyChecksums: false,
      ...opts,
      // performance.now counts from the process start: timestamps then follow the wall clock (see TcpConfig.clockEpoch).
      tcp: { clockEpoch: opts.clock ? 0 : performance.timeOrigin, ...opts.tcp },
      checksum: opts.checksum ?? nativeChecksum(),
      wake: () => this.#schedule(),
    });
    tun.attach({
      packets: (batch) => this.#onPackets(batch),
      drain: () => {
        if (this.#paused && !this.#closed) {
          this.#paused = false;
          this.#tun.resume();
        }
        this.#flush();
      },
      error: (err) => this.#report(err),
    });
  }

  /** close resets every flow, sends what that produced, stops the timer and detaches from the device (it does not close it). */
  close(): void {
    if (this.#closed) return;
    this.stack.close();
    // Nothing runs after close: send every RST now, burst after burst.
    for (let i = 0; i < 10_000; i++) {
      this.#flush();
      if (this.stack.pollAt(this.#clock()) > this.#clock()) break;
    }
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#tun.pause();
  }

  #onPackets(batch: Uint8Array[]): void {
    if (this.#closed) return;
    const now = this.#clock();
    for (const p of batch) {
      try {
        this.stack.process(now, p);
      } catch (err) {
        this.#report(err);
      }
    }
    this.#flush();
  }

  /** #report hands a caught error to onError; a throwing handler is ignored, never rethrown into the device. */
  #report(err: unknown): void {
    try {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // nothing may cross the driver
    }
  }

  #scheduleImmediate(): void {
    if (this.#immediate || this.#closed) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      this.#flush();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    // A microtask runs when the current I/O callback returns: upstream events
    // made in one callback leave in one batch, without waiting a loop turn.
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#flush();
    };
    queueMicrotask(run);
  }

  #flush(): void {
    if (this.#closed) return;
    const now = this.#clock();
    try {
      this.stack.dispatch(now, this.#emit);
    } catch (err) {
      this.#report(err);
    }
    if (this.#out.length > 0) {
      const out = this.#out;
      this.#out = [];
      let full = false;
      try {
        full = !this.#tun.write(out);
      } catch (err) {
        this.#report(err); // the packets are lost; TCP retransmits them
      }
      if (full && !this.#paused) {
        this.#paused = true;
        this.#tun.pause();
      }
    }
    this.#arm(now);
  }

  #arm(now: number): void {
    const at = this.stack.pollAt(now);
    if (at <= now) {
      // A paced burst left work due now: run it after the I/O already waiting (TUN reads first), not at once.
      this.#scheduleImmediate();
      return;
    }
    // A timer already armed for an earlier time stays: it fires, finds nothing
    // due, and re-arms. This avoids re-arming on every ACK that moves an RTO.
    if (at >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#flush();
      },
      Math.max(0, Math.ceil(at - now)),
    );
  }
}

/** nativeChecksum returns the addon's checksum when it is built, else undefined (the stack then uses pure JS). */
export function nativeChecksum(): ChecksumFn | undefined {
  try {
    return loadAddon().checksum;
  } catch {
    return undefined;
  }
}
