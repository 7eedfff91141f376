// The send side of flow control (docs/protocol.md, "DATA and flow control"):
// the session-wide send credit the peer granted, and the round-robin rotation
// that frames queued stream bytes into DATA, one frame per channel per turn,
// while the channel's credit, the session credit and room in the carrier
// last. Clock-free and I/O-free: what to write goes out through a SendPort.
import type { Channel, DatagramChannel, StreamChannel } from './channel.ts';

/** SendPort is what the scheduler needs from its session. */
export interface SendPort {
  /** carrierFull says whether the carrier's write buffer is above its high-water mark. */
  carrierFull(): boolean;
  /** writeData frames one DATA payload for a channel. */
  writeData(ch: Channel, payload: Uint8Array): void;
  /** sendClose sends CLOSE for a channel whose queued bytes are all out. */
  sendClose(ch: StreamChannel): void;
}

/** Stalls count how often sending stopped for lack of channel credit, session credit or carrier room. */
export interface Stalls {
  channelCredit: number;
  sessionCredit: number;
  carrier: number;
}

/** SendScheduler frames queued channel bytes within credit. */
export class SendScheduler {
  /** stalls are the scheduler's stall counters. */
  readonly stalls: Stalls = { channelCredit: 0, sessionCredit: 0, carrier: 0 };
  /** enabled: the session is open (nothing is framed before the handshake or after the end). */
  enabled = false;
  readonly #port: SendPort;
  readonly #maxDataPayload: number;
  #sessionCredit = 0;
  #ready: StreamChannel[] = [];
  #readyHead = 0;
  #pumping = false;
  #blockedOnSession = false;
  #awaitingDrain = false;

  constructor(port: SendPort, maxDataPayload: number) {
    this.#port = port;
    this.#maxDataPayload = maxDataPayload;
  }

  /** sessionCredit is how many DATA bytes the peer still accepts on all channels together. */
  get sessionCredit(): number {
    return this.#sessionCredit;
  }

  /** waiting is the number of channels in the rotation (bytes or a CLOSE queued). */
  get waiting(): number {
    return this.#ready.length - this.#readyHead;
  }

  /** startCredit sets the session credit the peer announced in the handshake. */
  startCredit(n: number): void {
    this.#sessionCredit = n;
  }

  /** grantSession adds a session WINDOW increment; false when the credit overflows 2³²−1 (FLOW_CONTROL). */
  grantSession(inc: number): boolean {
    this.#sessionCredit += inc;
    if (this.#sessionCredit > 0xffffffff) return false;
    if (this.#blockedOnSession) {
      this.#blockedOnSession = false;
      this.pump();
    }
    return true;
  }

  /** takeDatagram spends credit for one datagram; false (nothing spent) when channel or session credit is short. */
  takeDatagram(ch: DatagramChannel, n: number): boolean {
    if (n > this.#maxDataPayload || n > this.#sessionCredit || n > ch.sendCredit) return false;
    ch.sendCredit -= n;
    this.#sessionCredit -= n;
    return true;
  }

  /** carrierDrained restarts sending after the carrier's write buffer emptied. */
  carrierDrained(): void {
    if (this.#awaitingDrain) {
      this.#awaitingDrain = false;
      this.pump();
    }
  }

  /** schedule puts a stream channel into the rotation and sends what credit allows. */
  schedule(ch: StreamChannel): void {
    if (!ch.scheduled) {
      ch.scheduled = true;
      this.#ready.push(ch);
    }
    if (!this.#pumping) this.pump();
  }

  /**
   * pump sends DATA round-robin, one frame per channel per turn, while credit
   * and carrier room last. The rotation holds only channels with bytes
   * queued: a channel's CLOSE goes out right behind its last DATA (or at once
   * when nothing is queued, see StreamChannel.end), so a channel waiting for
   * credit never holds back another channel's CLOSE.
   */
  pump(): void {
    if (!this.enabled || this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#readyHead < this.#ready.length) {
        const ch = this.#ready[this.#readyHead]!;
        if (ch.state !== 'open') {
          this.#unschedule(ch);
          continue;
        }
        if (ch.queuedBytes === 0) {
          this.#unschedule(ch);
          this.#queueEmptied(ch);
          continue;
        }
        if (ch.sendCredit === 0) {
          this.stalls.channelCredit++;
          this.#unschedule(ch); // a WINDOW for this channel schedules it again
          continue;
        }
        if (this.#sessionCredit === 0) {
          this.stalls.sessionCredit++;
          this.#blockedOnSession = true; // a session WINDOW restarts the pump
          break;
        }
        if (this.#port.carrierFull()) {
          this.stalls.carrier++;
          this.#awaitingDrain = true; // the carrier's 'drain' restarts the pump
          break;
        }
        const first = ch.queue[0]!;
        const n = Math.min(first.length, ch.sendCredit, this.#sessionCredit, this.#maxDataPayload);
        if (n === first.length) ch.queue.shift();
        else ch.queue[0] = first.subarray(n);
        ch.queuedBytes -= n;
        ch.sendCredit -= n;
        this.#sessionCredit -= n;
        this.#port.writeData(ch, n === first.length ? first : first.subarray(0, n));
        if (ch.queuedBytes === 0) {
          this.#unschedule(ch);
          this.#queueEmptied(ch);
        } else if (this.#ready.length - this.#readyHead > 1) {
          // Round robin: move on to the next channel if others wait.
          this.#readyHead++;
          this.#ready.push(ch);
        }
      }
    } finally {
      this.#pumping = false;
      this.#compactReady();
    }
  }

  /** #queueEmptied sends the CLOSE that waited behind a channel's bytes and owes the writer its 'drain'. */
  #queueEmptied(ch: StreamChannel) {
    if (ch.closeQueued) {
      ch.closeQueued = false;
      this.#port.sendClose(ch);
    }
    if (ch.needDrain && ch.state === 'open') {
      ch.needDrain = false;
      ch.emit('drain');
    }
  }

  #unschedule(ch: StreamChannel) {
    ch.scheduled = false;
    this.#readyHead++;
  }

  #compactReady() {
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    } else if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
  }
}
