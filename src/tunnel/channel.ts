// Channels: one flow inside a session. A StreamChannel carries a TCP byte
// stream (half-close, reset); a DatagramChannel carries UDP payloads or ICMP
// echo messages with their boundaries kept. Flow control is explicit: the
// peer grants credit (WINDOW frames), `writable` says how much may be written
// now, and received bytes count against our window until `release(n)` says
// the consumer has made room for them again (ARCHITECTURE decision 7).
import { EventEmitter } from 'node:events';
import type { ChannelProtocolName, OpenRequest, ResetCode } from './control.ts';

/** ChannelEnd says how a channel ended (docs/protocol.md, "How a channel ends"). */
export type ChannelEnd =
  | { kind: 'closed' } // both sides sent CLOSE and all data was delivered
  | { kind: 'reset'; by: 'local' | 'peer'; code: ResetCode; message: string }
  | { kind: 'session'; message: string }; // the session ended first

/** ChannelState is where a channel is in its life. */
export type ChannelState = 'opening' | 'pending' | 'open' | 'closed';

/** ChannelEvents are the events a channel emits. */
export interface ChannelEvents {
  /** data: received bytes (stream) or one datagram; stream bytes count against the window until released. */
  data: [chunk: Buffer];
  /** end: the peer half-closed (stream) — no more data will arrive. */
  end: [];
  /** drain: everything written has been framed and handed to the carrier. */
  drain: [];
  /** credit: the peer granted more credit (writable grew). */
  credit: [];
  /** close: the channel is gone; emitted exactly once. */
  close: [end: ChannelEnd];
}

/** ChannelHost is what a channel needs from its session (internal). */
export interface ChannelHost {
  schedule(ch: StreamChannel): void;
  sendDatagram(ch: DatagramChannel, payload: Uint8Array): boolean;
  sendClose(ch: Channel): void;
  sendReset(ch: Channel, code: ResetCode, message: string): void;
  releaseChannel(ch: Channel, n: number): void;
  returnToSession(ch: Channel, n: number): void;
  accept(ch: Channel): void;
  reject(ch: Channel, reason: string, message: string): void;
  forget(ch: Channel): void;
}

/** Channel is what stream and datagram channels share. */
export abstract class Channel extends EventEmitter<ChannelEvents> {
  /** id is the channel id (odd: opened by the client, even: opened by the gateway). */
  readonly id: number;
  /** request is the OPEN that created this channel. */
  readonly request: OpenRequest;
  /** protocol is the channel's protocol. */
  readonly protocol: ChannelProtocolName;
  /** state is the channel's life stage. */
  state: ChannelState;
  /** bytesSent counts DATA payload bytes framed for the peer. */
  bytesSent = 0;
  /** bytesReceived counts DATA payload bytes received from the peer. */
  bytesReceived = 0;
  /** end says how the channel ended, once it has. */
  endedWith: ChannelEnd | undefined;
  protected readonly host: ChannelHost;
  /** sendCredit is what the peer still accepts (internal: maintained by the session). */
  sendCredit = 0;
  /** recvAvail is the credit we granted and the peer has not used yet (internal). */
  recvAvail = 0;
  /** recvWindow is our current receive window for this channel (internal; grows by auto-tuning). */
  recvWindow = 0;
  /** recvUnacked counts released bytes not yet granted back (internal). */
  recvUnacked = 0;
  /** unreleased counts bytes delivered to the consumer and not yet released (internal). */
  unreleased = 0;
  /** lastGrantAt is when we last sent this channel a WINDOW (internal, for auto-tuning). */
  lastGrantAt = 0;
  /** localEnded: we sent CLOSE (or will, once queued data is out). */
  localEnded = false;
  /** remoteEnded: the peer sent CLOSE. */
  remoteEnded = false;

  #held: [keyof ChannelEvents, unknown[]][] | undefined;

  constructor(host: ChannelHost, id: number, request: OpenRequest, state: ChannelState) {
    super();
    this.host = host;
    this.id = id;
    this.request = request;
    this.protocol = request.protocol;
    this.state = state;
  }

  /** hold queues the channel's events until releaseHeld (internal: see the session's OPEN_OK handling). */
  hold(): void {
    this.#held ??= [];
  }

  /** releaseHeld emits the held events in order and stops holding. */
  releaseHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    if (!held) return;
    for (const [event, args] of held) (super.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  }

  override emit<K extends keyof ChannelEvents>(event: K, ...args: ChannelEvents[K]): boolean {
    if (this.#held) {
      this.#held.push([event, args]);
      return true;
    }
    return (super.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  }

  /** accept answers a peer's OPEN with OPEN_OK; DATA may flow afterwards. */
  accept(): void {
    if (this.state !== 'pending') return;
    this.host.accept(this);
  }

  /** reject answers a peer's OPEN with OPEN_REJECT; the channel is gone. */
  reject(reason: 'refused' | 'unreachable' | 'timeout' | 'forbidden' | 'limit' | 'invalid', message = ''): void {
    if (this.state !== 'pending') return;
    this.host.reject(this, reason, message);
  }

  /** reset aborts the channel in both directions (RESET frame). */
  reset(code: ResetCode = 'cancel', message = ''): void {
    if (this.state === 'closed') return;
    this.host.sendReset(this, code, message);
    this.finish({ kind: 'reset', by: 'local', code, message });
  }

  /** end half-closes: a CLOSE frame follows the data already written. */
  abstract end(): void;

  /**
   * finish moves the channel to closed and emits close once (internal). A
   * channel that ends by reset or with its session drops what it received, so
   * bytes delivered and not yet released go back to the session window now;
   * after a graceful close the consumer still holds them and releases them as
   * usual (docs/protocol.md, "Credit accounting").
   */
  finish(end: ChannelEnd): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.endedWith = end;
    if (end.kind !== 'closed' && this.unreleased > 0) {
      const n = this.unreleased;
      this.unreleased = 0;
      this.host.returnToSession(this, n);
    }
    this.onFinish();
    this.host.forget(this);
    this.emit('close', end);
  }

  protected onFinish(): void {}
}

/** StreamChannel carries a byte stream (TCP) with credit, half-close and reset. */
export class StreamChannel extends Channel {
  /** queue holds written bytes not yet framed (internal; bounded by the writer honouring `writable`). */
  queue: Buffer[] = [];
  /** queuedBytes is the total length of `queue` (internal). */
  queuedBytes = 0;
  /** needDrain: a write returned false, so 'drain' is owed (internal). */
  needDrain = false;
  /** scheduled: the channel sits in the session's send rotation (internal). */
  scheduled = false;
  /** closeQueued: end() was called; CLOSE goes out after the queue (internal). */
  closeQueued = false;

  /** writable is how many more bytes may be written now without exceeding the peer's credit. */
  get writable(): number {
    return this.state === 'open' && !this.localEnded ? Math.max(0, this.sendCredit - this.queuedBytes) : 0;
  }

  /**
   * write queues bytes for the peer (the buffer is passed by reference: do not
   * reuse it). Returns false when bytes wait for credit or carrier room;
   * 'drain' follows once they are out. Writes after end() or close are dropped.
   */
  write(chunk: Uint8Array): boolean {
    if (this.state !== 'open' || this.localEnded) return false;
    if (chunk.byteLength === 0) return this.queuedBytes === 0;
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.queue.push(b);
    this.queuedBytes += b.length;
    this.host.schedule(this);
    if (this.queuedBytes === 0) return true;
    this.needDrain = true;
    return false;
  }

  /**
   * release tells the session that `n` received bytes were consumed, so the
   * peer may send that many more. Every delivered byte counts once: releases
   * beyond what was delivered are ignored, and after a reset everything
   * delivered has already been returned. After a graceful close, releases
   * still return bytes to the session window.
   */
  release(n: number): void {
    const m = Math.min(n, this.unreleased);
    if (!(m > 0)) return;
    this.unreleased -= m;
    this.host.releaseChannel(this, m);
  }

  end(): void {
    if (this.state !== 'open' || this.localEnded) return;
    this.localEnded = true;
    if (this.queuedBytes === 0) {
      this.host.sendClose(this); // nothing to send first: CLOSE goes out now, whatever other channels wait for
      return;
    }
    this.closeQueued = true;
    this.host.schedule(this);
  }

  protected override onFinish(): void {
    this.queue = [];
    this.queuedBytes = 0;
  }
}

/** DatagramChannel carries datagrams (UDP payloads, ICMP echo messages); each DATA frame is one datagram. */
export class DatagramChannel extends Channel {
  /** dropped counts datagrams not sent for lack of credit or because they were too large. */
  dropped = 0;

  /** writable is how many bytes of datagrams may be sent now. */
  get writable(): number {
    return this.state === 'open' && !this.localEnded ? this.sendCredit : 0;
  }

  /** send sends one datagram; false (and counted as dropped) when credit is short or it is too large. */
  send(datagram: Uint8Array): boolean {
    if (this.state !== 'open' || this.localEnded || datagram.byteLength > this.sendCredit) {
      this.dropped++;
      return false;
    }
    if (this.host.sendDatagram(this, datagram)) return true;
    this.dropped++;
    return false;
  }

  end(): void {
    if (this.state !== 'open' || this.localEnded) return;
    this.localEnded = true;
    this.host.sendClose(this);
  }
}

/** AnyChannel is a stream or a datagram channel. */
export type AnyChannel = StreamChannel | DatagramChannel;
