// One TCP connection of the catch-all stack, seen from the routed
// destination's side: the app (the local kernel) is always the active
// opener. Read RFC 9293 §3.10 (event processing) first, then RFC 7323
// (window scale), RFC 6298 (RTO), RFC 5681/6582 (fast retransmit, NewReno
// recovery), RFC 5961 §3-4 (challenge ACKs) and RFC 6528 (ISNs).
//
// The connection is clock-free: the stack passes `now` (ms) to onSegment and
// poll, and asks `deadline` when it next needs polling. Upstream calls
// (accept, grant, write, end, reset) only record what happened and ask the
// stack to poll the connection at its next dispatch.
//
// Timestamps (RFC 7323) are answered when the app's SYN offers them: TSopt on
// every segment, PAWS on input, RTT samples from the echo. They let the app's
// kernel reuse its TIME-WAIT tuples (tcp_tw_reuse) and tell an old duplicate
// SYN from a new one here (RFC 6191).
//
// Deliberate narrowings (ARCHITECTURE.md decision 6): no SACK is
// negotiated, no urgent data, and the receive window is exactly the
// credit the upstream granted, so nothing the app sends is buffered beyond
// what the upstream agreed to take (decision 7). In-order data goes upstream
// at once; out-of-order data is held only inside that window.
import type { TcpRepr } from '../wire/tcp.ts';
import { TcpFlags } from '../wire/tcp.ts';
import { MAX_PACKET_PARTS } from './packet.ts';
import { SendBuffer } from './send-buffer.ts';
import { seqAdd, seqDiff, seqGt, seqLe, seqLt, seqMax } from './seq.ts';
import type { Flow, FlowAddresses, RejectReason, StackStream, StreamChannel } from './upstream.ts';

const { FIN, SYN, RST, PSH, ACK } = TcpFlags;

/** TcpState is the RFC 9293 state, plus `opening`: SYN received, upstream still dialing, nothing sent yet. */
export type TcpState =
  | 'opening'
  | 'syn-received'
  | 'established'
  | 'fin-wait-1'
  | 'fin-wait-2'
  | 'closing'
  | 'time-wait'
  | 'close-wait'
  | 'last-ack'
  | 'closed';

/** TcpConfig tunes every connection of a stack. */
export interface TcpConfig {
  /** mss is the largest segment payload this side accepts and sends (MTU minus headers). */
  mss: number;
  /** sendBuffer bounds the bytes held for the app (written by the upstream, not yet acknowledged). */
  sendBuffer: number;
  /** maxWindow bounds the advertised receive window (and so picks the window-scale shift). */
  maxWindow: number;
  /** openTimeout bounds how long the upstream may take to accept or reject (ms). */
  openTimeout: number;
  /** timeWait is how long TIME-WAIT lasts (ms); short, since a new SYN may reuse the tuple anyway. */
  timeWait: number;
  /** initialRto, minRto, maxRto in ms (RFC 6298 §2; min lowered to 200 ms as Linux does). */
  initialRto: number;
  minRto: number;
  maxRto: number;
  /** maxRetries is how many RTO expiries in a row abort the connection. */
  maxRetries: number;
  /** initialCwnd is the initial congestion window in segments (RFC 6928 uses 10). */
  initialCwnd: number;
  /**
   * keepaliveIdle is how long (ms) an ESTABLISHED or CLOSE-WAIT connection
   * with nothing in flight may go without a segment from the app before it is
   * probed (RFC 1122 §4.2.3.6); keepaliveInterval spaces unanswered probes,
   * and after keepaliveProbes of them the connection is reset both ways. The
   * app's kernel answers every probe while its socket exists, so only a
   * vanished socket is collected, never a quiet one.
   */
  keepaliveIdle: number;
  keepaliveInterval: number;
  keepaliveProbes: number;
  /** finWait2Timeout is how long (ms) FIN-WAIT-2 lasts without a segment from the app (Linux's tcp_fin_timeout). */
  finWait2Timeout: number;
  /**
   * clockEpoch is added to `now` for TCP timestamps: with a monotonic clock
   * starting at 0, the Unix time (ms) of its start, so that timestamps keep
   * growing across daemon restarts (the app's kernel applies PAWS to a tuple
   * it reuses from TIME-WAIT). Only the local kernel ever sees them.
   */
  clockEpoch: number;
}

/** TIMESTAMP_OPTION_LEN is what TSopt adds to every segment once negotiated (10 bytes, padded to 12). */
export const TIMESTAMP_OPTION_LEN = 12;
/** PAWS_IDLE_LIMIT is how long TS.Recent stays valid without being refreshed (RFC 7323 §5.5: 24 days). */
const PAWS_IDLE_LIMIT = 24 * 24 * 3600 * 1000;

/** TcpHost is what a connection needs from its stack. */
export interface TcpHost {
  /** send emits one segment of this connection with payload parts after the header. */
  send(c: TcpConnection, r: TcpRepr, payload: readonly Uint8Array[]): void;
  /** sendReject emits the app-visible failure of an open (RST or ICMP unreachable). */
  sendReject(c: TcpConnection, reason: RejectReason): void;
  /** wake asks for c to be polled at the next dispatch. */
  wake(c: TcpConnection): void;
  /** closed tells the stack to forget c. */
  closed(c: TcpConnection): void;
}

/** TcpCounters are per-stack TCP event counters. */
export interface TcpCounters {
  retransmits: number;
  fastRetransmits: number;
  rtoExpiries: number;
  challengeAcks: number;
  outOfOrder: number;
  creditViolations: number;
}

/** windowShift is the window-scale shift needed to advertise maxWindow (RFC 7323 §2.3, at most 14). */
export function windowShift(maxWindow: number): number {
  let s = 0;
  while (s < 14 && 0xffff * 2 ** s < maxWindow) s++;
  return s;
}

const MAX_OOO_SEGMENTS = 32;

/** TcpConnection is one connection's state machine; it is also the StackStream its upstream calls. */
export class TcpConnection implements StackStream {
  readonly flow: Flow;
  readonly addrs: FlowAddresses;
  readonly key: string;
  /** localPort is the destination port the app dialed; remotePort the app's port. */
  readonly localPort: number;
  readonly remotePort: number;
  state: TcpState = 'opening';
  /** queuedAt is the stack timer queue's bookkeeping. */
  queuedAt = Number.POSITIVE_INFINITY;
  /** synHead keeps the head of the app's SYN for an ICMP error quoting it. */
  synHead: Uint8Array | undefined;

  readonly #host: TcpHost;
  readonly #cfg: TcpConfig;
  readonly #counters: TcpCounters;
  #channel: StreamChannel | undefined;
  #reject: RejectReason | undefined;
  #resetPending = false;

  // Send side (towards the app).
  readonly #iss: number;
  #sndUna: number;
  #sndNxt: number;
  #sndMax: number;
  #sndWnd = 0;
  #sndWl1 = 0;
  #sndWl2 = 0;
  #sndShift = 0;
  #wscaleOk = false; // the app's SYN offered window scaling (RFC 7323 §2.2), so our SYN-ACK answers it
  #sndMss: number;
  #segMax: number; // payload of a full segment: the MSS less the options every segment carries
  #buf = new SendBuffer();
  #bufSeq: number; // sequence number of the first byte in #buf
  #finSeq = -1; // sequence number of our FIN once the upstream ended, else -1
  #granted = 0; // credit granted to the upstream and not yet used
  #cwnd: number;
  #ssthresh = Number.MAX_SAFE_INTEGER;
  #dupAcks = 0;
  #recover = -1; // NewReno recovery point while recovering, else -1

  // Receive side (from the app).
  readonly #irs: number;
  #rcvNxt: number;
  #rcvShift = 0;
  #credit = 0; // bytes the upstream lets us deliver: the receive window
  #advRight: number; // right edge of the window last advertised
  #ooo: Array<{ seq: number; data: Uint8Array }> | undefined;
  #oooFin = -1; // sequence number of an out-of-order FIN, else -1
  #ackPending = false;
  #ended = false; // channel.end() called

  // Timestamps (RFC 7323), when the app's SYN offered them.
  #tsOk = false;
  #tsRecent = 0; // TS.Recent: the app's timestamp we echo
  #tsRecentAt = 0; // when TS.Recent was last set
  #lastAckSent: number; // Last.ACK.sent: the acknowledgment we last sent
  #now = 0; // the time of the event being handled (for timestamps on what it sends)

  // Timers (absolute ms, Infinity when off).
  #rtoAt = Number.POSITIVE_INFINITY;
  #persistAt = Number.POSITIVE_INFINITY;
  #closeAt: number; // open timeout, then TIME-WAIT expiry
  #idleAt = Number.POSITIVE_INFINITY; // keepalive or FIN-WAIT-2 check (moved lazily: the check re-arms it)
  #heardAt: number; // when the app last sent a segment
  #keepaliveProbes = 0; // unanswered keepalive probes
  #rand: number; // xorshift32 state for timer jitter, seeded per connection
  #rto: number;
  #srtt = 0;
  #rttvar = 0;
  #retries = 0;
  #rttSeq = -1;
  #rttAt = 0;

  constructor(
    host: TcpHost,
    cfg: TcpConfig,
    counters: TcpCounters,
    flow: Flow,
    addrs: FlowAddresses,
    key: string,
    now: number,
    iss: number,
    syn: TcpRepr,
  ) {
    this.#host = host;
    this.#cfg = cfg;
    this.#counters = counters;
    this.flow = flow;
    this.addrs = addrs;
    this.key = key;
    this.localPort = syn.dstPort;
    this.remotePort = syn.srcPort;
    this.#iss = iss;
    this.#sndUna = iss;
    this.#sndNxt = iss;
    this.#sndMax = iss;
    this.#bufSeq = seqAdd(iss, 1);
    this.#irs = syn.seq;
    this.#rcvNxt = seqAdd(syn.seq, 1);
    this.#advRight = this.#rcvNxt;
    // RFC 9293 §3.7.1: without the option the peer takes 536 (IPv4) / 1220 (IPv6).
    this.#sndMss = Math.max(64, Math.min(syn.mss ?? (flow.version === 4 ? 536 : 1220), cfg.mss));
    if (syn.wscale !== undefined) {
      this.#wscaleOk = true;
      this.#sndShift = syn.wscale;
      this.#rcvShift = windowShift(cfg.maxWindow);
    }
    this.#segMax = this.#sndMss;
    if (syn.timestamp) {
      this.#tsOk = true;
      this.#tsRecent = syn.timestamp.value;
      this.#tsRecentAt = now;
      this.#segMax = Math.max(64, this.#sndMss - TIMESTAMP_OPTION_LEN);
    }
    this.#lastAckSent = this.#rcvNxt;
    this.#sndWnd = syn.window; // RFC 7323 §2.2: the window in a SYN is never scaled
    this.#sndWl1 = syn.seq;
    this.#cwnd = cfg.initialCwnd * this.#sndMss;
    this.#rto = cfg.initialRto;
    this.#closeAt = now + cfg.openTimeout;
    this.#heardAt = now;
    this.#rand = iss | 1;
  }

  // ---- upstream → stack (StackStream) ----

  accept(channel: StreamChannel): void {
    if (this.state !== 'opening' || this.#channel || this.#reject) {
      channel.reset(); // too late (timed out, app gave up) or a second answer
      return;
    }
    this.#channel = channel;
    this.#host.wake(this);
  }

  reject(reason: RejectReason): void {
    if (this.state !== 'opening' || this.#channel || this.#reject) return;
    this.#reject = reason;
    this.#host.wake(this);
  }

  grant(n: number): void {
    if (!this.#channel || this.state === 'closed' || !(n > 0)) return;
    this.#credit += n;
    this.#host.wake(this);
  }

  write(data: Uint8Array): void {
    if (!this.#channel || this.state === 'closed' || this.#finSeq !== -1 || data.length === 0) return;
    if (data.length > this.#granted) {
      // The upstream broke the credit contract: abort rather than buffer without bound.
      this.#counters.creditViolations++;
      this.reset();
      return;
    }
    this.#granted -= data.length;
    this.#buf.push(data);
    this.#host.wake(this);
  }

  end(): void {
    if (!this.#channel || this.state === 'closed' || this.#finSeq !== -1) return;
    this.#finSeq = seqAdd(this.#bufSeq, this.#buf.length);
    this.#host.wake(this);
  }

  reset(): void {
    if (this.state === 'closed') return;
    this.#resetPending = true;
    this.#host.wake(this);
  }

  // ---- stack → connection ----

  /** shutdown aborts the connection from the stack's side: RST to the app (at the next poll) and reset to the upstream. */
  shutdown(): void {
    if (this.state === 'closed' || this.#resetPending) return;
    this.#resetPending = true;
    this.#channel?.reset();
    this.#host.wake(this);
  }

  /**
   * fail aborts the connection after a fault in its processing (a throw from
   * the upstream, or a bug): RST (or refusal) to the app, reset to the
   * upstream, forgotten at once. It never throws.
   */
  fail(): void {
    if (this.state === 'closed') return;
    if (this.state === 'opening') this.#host.sendReject(this, 'refused');
    else this.#host.send(this, { ...BLANK, seq: this.#sndNxt, ack: this.#rcvNxt, flags: RST | ACK }, NO_PAYLOAD);
    const channel = this.#resetPending ? undefined : this.#channel;
    this.#close();
    try {
      channel?.reset();
    } catch {
      // The upstream failing again changes nothing: the flow is gone.
    }
  }

  /** deadline is the next time (ms) the connection needs polling, or Infinity. */
  get deadline(): number {
    return Math.min(this.#rtoAt, this.#persistAt, this.#closeAt, this.#idleAt);
  }

  /** sendWindow is the app's advertised window in bytes (for tests and stats). */
  get sendWindow(): number {
    return this.#sndWnd;
  }

  /** receiveWindow is the window the connection can advertise now: the upstream's unused credit. */
  get receiveWindow(): number {
    return this.#recvWindow();
  }

  /** buffered is how many bytes wait for the app's acknowledgment. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** onSegment processes one segment from the app (RFC 9293 §3.10.7.4, for states after LISTEN). */
  onSegment(now: number, r: TcpRepr, payload: Uint8Array): void {
    const flags = r.flags;
    if (this.state === 'closed') return;
    this.#now = now;
    this.#heardAt = now; // any segment shows the app's socket exists (the peer is the local kernel)
    this.#keepaliveProbes = 0;
    if (this.state === 'opening') {
      // Nothing sent yet. A RST from the app abandons the open; duplicate SYNs wait.
      if (flags & RST && r.seq === this.#rcvNxt) this.#abort(false);
      return;
    }
    if (this.state === 'syn-received' && flags & SYN && !(flags & ACK)) {
      if (r.seq === this.#irs) {
        this.#sndNxt = this.#iss; // our SYN-ACK was lost: send it again
        this.#host.wake(this);
      }
      return;
    }
    const ts = this.#tsOk ? r.timestamp : undefined;
    if (ts && !(flags & RST) && this.#pawsRejects(now, ts.value)) {
      // RFC 7323 §5.3: an old duplicate (its timestamp predates TS.Recent): acknowledge and drop.
      this.#ackNow();
      return;
    }
    let data = payload;
    let fin = (flags & FIN) !== 0;
    const segLen = data.length + (fin ? 1 : 0);
    const wnd = this.#recvWindow();
    // 1. Sequence acceptability (RFC 9293 §3.10.7.4 table).
    let acceptable: boolean;
    if (segLen === 0) acceptable = wnd === 0 ? r.seq === this.#rcvNxt : this.#inWindow(r.seq, wnd);
    else acceptable = wnd > 0 && (this.#inWindow(r.seq, wnd) || this.#inWindow(seqAdd(r.seq, segLen - 1), wnd));
    if (!acceptable && wnd === 0 && r.seq === this.#rcvNxt) {
      // Zero window: still take the ACK and window fields; the data waits for retransmission. A bare
      // FIN costs no buffer and is taken (as Linux does), so a close is never held up by credit.
      acceptable = true;
      if (data.length > 0) fin = false;
      data = EMPTY;
      this.#ackNow();
    }
    if (!acceptable && this.state === 'time-wait' && fin) {
      this.#closeAt = now + this.#cfg.timeWait; // retransmitted FIN: ACK it again, restart TIME-WAIT
    }
    if (!acceptable) {
      if (!(flags & RST)) this.#ackNow();
      return;
    }
    // RFC 7323 §4.3: take the timestamp to echo from a segment at or left of what we acknowledged.
    if (ts && seqLe(r.seq, this.#lastAckSent) && !seqLt(ts.value, this.#tsRecent)) {
      this.#tsRecent = ts.value;
      this.#tsRecentAt = now;
    }
    // 2. RST (RFC 5961 §3: only an exact match aborts; others get a challenge ACK).
    if (flags & RST) {
      if (r.seq === this.#rcvNxt) this.#abort(true);
      else this.#challengeAck();
      return;
    }
    // 3. SYN in a synchronized state (RFC 5961 §4).
    if (flags & SYN) {
      this.#challengeAck();
      return;
    }
    // 4. ACK.
    if (!(flags & ACK)) return;
    if (this.state === 'syn-received') {
      if (seqLt(this.#sndUna, r.ack) && seqLe(r.ack, this.#sndMax)) {
        this.state = 'established';
        this.#sndUna = r.ack;
        if (seqLt(this.#sndNxt, r.ack)) this.#sndNxt = r.ack;
        this.#sndWnd = r.window << this.#sndShift;
        this.#sndWl1 = r.seq;
        this.#sndWl2 = r.ack;
        this.#rtoAt = Number.POSITIVE_INFINITY;
        this.#retries = 0;
        this.#idleAt = now + this.#cfg.keepaliveIdle + this.#jitter(this.#cfg.keepaliveInterval);
        this.#sample(now, r.ack);
        this.#maybeGrant();
        this.#host.wake(this);
      } else {
        this.#host.send(this, { ...BLANK, seq: r.ack, flags: RST }, NO_PAYLOAD);
        return;
      }
    } else if (!this.#onAck(now, r, data.length, fin)) {
      return;
    }
    // 5. Data and FIN.
    switch (this.state) {
      case 'established':
      case 'fin-wait-1':
      case 'fin-wait-2':
        this.#receive(now, r.seq, data, fin);
        break;
      case 'time-wait':
        if (fin) {
          this.#closeAt = now + this.#cfg.timeWait;
          this.#ackNow();
        }
        break;
      default:
        // CLOSE-WAIT, CLOSING, LAST-ACK: the app's FIN came already; anything more is a duplicate.
        if (segLen > 0) this.#ackNow();
    }
  }

  /** poll sends what is due: SYN-ACK or rejection, data, FIN, ACKs, window updates, timer actions. */
  poll(now: number): void {
    if (this.state === 'closed') return;
    this.#now = now;
    if (this.state === 'opening') {
      if (this.#reject || this.#resetPending || now >= this.#closeAt) {
        // A stack shutdown while dialing refuses the SYN; a late accept is then reset.
        this.#host.sendReject(this, this.#reject ?? (this.#resetPending ? 'refused' : 'timeout'));
        this.#close();
        return;
      }
      if (!this.#channel) return;
      this.state = 'syn-received';
      this.#closeAt = Number.POSITIVE_INFINITY;
      this.synHead = undefined;
      this.#maybeGrant(); // the upstream may write before the handshake completes (server speaks first)
    }
    if (this.#resetPending) {
      this.#host.send(this, { ...BLANK, seq: this.#sndNxt, ack: this.#rcvNxt, flags: RST | ACK }, NO_PAYLOAD);
      this.#abort(false);
      return;
    }
    if (now >= this.#closeAt) {
      this.#close(); // TIME-WAIT over
      return;
    }
    if (now >= this.#rtoAt) this.#onRto(now);
    if ((this.state as TcpState) === 'closed') return;
    if (now >= this.#persistAt) this.#onPersist(now);
    if (now >= this.#idleAt) this.#onIdle(now);
    if ((this.state as TcpState) === 'closed') return;
    this.#transmit(now);
    if (this.#ackPending || this.#windowUpdateDue()) this.#sendAck();
  }

  // ---- receive path ----

  #recvWindow(): number {
    return Math.min(this.#credit, this.#cfg.maxWindow);
  }

  #inWindow(seq: number, wnd: number): boolean {
    const d = seqDiff(seq, this.#rcvNxt);
    return d >= 0 && d < wnd;
  }

  /** #onAck handles the ACK field in synchronized states; false means stop processing the segment. */
  #onAck(now: number, r: TcpRepr, dataLen: number, fin: boolean): boolean {
    const ack = r.ack;
    if (seqGt(ack, this.#sndMax)) {
      this.#ackNow(); // acknowledges something never sent (RFC 9293 §3.10.7.4, fifth step)
      return false;
    }
    const wnd = r.window << this.#sndShift;
    // An app that answers with a closed window is alive: its probes are not
    // failures (Linux resets its probe count on every ACK).
    if (wnd === 0) this.#retries = 0;
    if (seqGt(ack, this.#sndUna)) {
      const acked = seqDiff(ack, this.#sndUna);
      this.#sndUna = ack;
      if (seqLt(this.#sndNxt, ack)) this.#sndNxt = ack;
      const dataAcked = seqGt(ack, this.#bufSeq) ? Math.min(seqDiff(ack, this.#bufSeq), this.#buf.length) : 0;
      if (dataAcked > 0) {
        this.#buf.drop(dataAcked);
        this.#bufSeq = seqAdd(this.#bufSeq, dataAcked);
      }
      const echo = this.#tsOk ? r.timestamp?.echo : undefined;
      if (echo) this.#sampleEcho(now, echo, acked);
      else this.#sample(now, ack);
      this.#retries = 0;
      this.#dupAcks = 0;
      this.#rtoAt = ack === this.#sndMax ? Number.POSITIVE_INFINITY : this.#rtoDeadline(now);
      if (this.#recover !== -1) {
        if (seqLt(ack, this.#recover)) {
          this.#retransmitHead(now); // RFC 6582: a partial ACK retransmits the next hole at once
        } else {
          this.#recover = -1;
          this.#cwnd = this.#ssthresh;
        }
      } else if (this.#cwnd < this.#ssthresh) {
        this.#cwnd += Math.min(acked, this.#sndMss); // slow start (RFC 5681 §3.1)
      } else {
        this.#cwnd += Math.max(1, Math.floor((this.#sndMss * this.#sndMss) / this.#cwnd));
      }
      this.#maybeGrant();
      this.#host.wake(this);
    } else if (ack === this.#sndUna && dataLen === 0 && !fin && wnd === this.#sndWnd && this.#sndMax !== this.#sndUna) {
      // Duplicate ACK (RFC 5681 §2).
      this.#dupAcks++;
      if (this.#dupAcks === 3 && this.#recover === -1) {
        const flight = seqDiff(this.#sndMax, this.#sndUna);
        this.#ssthresh = Math.max(flight >> 1, 2 * this.#sndMss);
        this.#cwnd = this.#ssthresh + 3 * this.#sndMss;
        this.#recover = this.#sndMax;
        this.#counters.fastRetransmits++;
        this.#retransmitHead(now);
      } else if (this.#dupAcks > 3) {
        this.#cwnd += this.#sndMss;
        this.#host.wake(this);
      }
    }
    // Window update (RFC 9293 §3.10.7.4: SND.WL1/WL2 guard against old segments).
    if (seqLt(this.#sndWl1, r.seq) || (this.#sndWl1 === r.seq && seqLe(this.#sndWl2, ack))) {
      if (wnd !== this.#sndWnd) {
        // Bytes sent into a zero window (RTO probes) lay beyond it and were dropped: send them again now.
        if (this.#sndWnd === 0 && seqGt(this.#sndNxt, this.#sndUna)) this.#sndNxt = this.#sndUna;
        this.#sndWnd = wnd;
        if (wnd > 0) this.#persistAt = Number.POSITIVE_INFINITY;
        this.#host.wake(this);
      }
      this.#sndWl1 = r.seq;
      this.#sndWl2 = ack;
    }
    // Our FIN acknowledged?
    if (this.#finSeq !== -1 && seqGt(ack, this.#finSeq)) {
      if (this.state === 'fin-wait-1') {
        this.state = 'fin-wait-2';
        this.#idleAt = Math.min(this.#idleAt, now + this.#cfg.finWait2Timeout);
      } else if (this.state === 'closing') this.#enterTimeWait(now);
      else if (this.state === 'last-ack') {
        this.#close();
        return false;
      }
    }
    return true;
  }

  #receive(now: number, seq: number, data: Uint8Array, fin: boolean): void {
    let finSeq = fin ? seqAdd(seq, data.length) : -1;
    if (data.length > 0) {
      // Trim what was received already, then what lies beyond the window.
      const skip = seqDiff(this.#rcvNxt, seq);
      if (skip > 0) {
        data = skip >= data.length ? EMPTY : data.subarray(skip);
        seq = this.#rcvNxt;
      }
      const room = this.#recvWindow() - seqDiff(seq, this.#rcvNxt);
      if (data.length > room) {
        data = room > 0 ? data.subarray(0, room) : EMPTY;
        finSeq = -1;
      }
      if (data.length > 0) {
        if (seq === this.#rcvNxt) {
          this.#deliver(data);
          this.#drainOoo();
        } else {
          this.#holdOoo(seq, data);
        }
        // One ACK per input batch, sent at the next dispatch; for out-of-order data it is the
        // duplicate ACK that tells the app about the hole (RFC 5681 §4.2).
        this.#ackNow();
      } else {
        this.#ackNow(); // duplicate data: the app's ACK was lost
      }
    }
    if (finSeq !== -1) {
      if (finSeq === this.#rcvNxt) this.#acceptFin(now);
      else if (seqGt(finSeq, this.#rcvNxt)) this.#oooFin = finSeq;
      this.#ackNow();
    } else if (this.#oooFin !== -1 && this.#oooFin === this.#rcvNxt) {
      this.#acceptFin(now);
      this.#ackNow();
    }
  }

  #deliver(data: Uint8Array): void {
    this.#rcvNxt = seqAdd(this.#rcvNxt, data.length);
    this.#credit -= data.length;
    this.#channel?.write(data);
  }

  #holdOoo(seq: number, data: Uint8Array): void {
    this.#counters.outOfOrder++;
    if (!this.#ooo) this.#ooo = [];
    const q = this.#ooo;
    let i = 0;
    while (i < q.length && seqLt((q[i] as { seq: number }).seq, seq)) i++;
    const at = q[i];
    if (at && at.seq === seq && at.data.length >= data.length) return; // duplicate
    if (q.length >= MAX_OOO_SEGMENTS) return; // bounded; the app retransmits
    q.splice(i, 0, { seq, data });
  }

  #drainOoo(): void {
    const q = this.#ooo;
    if (!q) return;
    while (q.length > 0) {
      const h = q[0] as { seq: number; data: Uint8Array };
      const end = seqAdd(h.seq, h.data.length);
      if (seqLe(end, this.#rcvNxt)) {
        q.shift();
        continue;
      }
      if (seqGt(h.seq, this.#rcvNxt)) break;
      q.shift();
      const part = h.data.subarray(seqDiff(this.#rcvNxt, h.seq));
      const room = this.#recvWindow();
      this.#deliver(part.length > room ? part.subarray(0, room) : part);
    }
    if (q.length === 0) this.#ooo = undefined;
  }

  #acceptFin(now: number): void {
    this.#rcvNxt = seqAdd(this.#rcvNxt, 1);
    this.#oooFin = -1;
    this.#ooo = undefined;
    if (!this.#ended) {
      this.#ended = true;
      this.#channel?.end();
    }
    if (this.state === 'established') this.state = 'close-wait';
    else if (this.state === 'fin-wait-1') {
      // Simultaneous close (RFC 9293 Figure 13) unless our FIN is already acknowledged.
      this.state = 'closing';
    } else if (this.state === 'fin-wait-2') this.#enterTimeWait(now);
  }

  #enterTimeWait(now: number): void {
    this.state = 'time-wait';
    this.#rtoAt = Number.POSITIVE_INFINITY;
    this.#persistAt = Number.POSITIVE_INFINITY;
    this.#idleAt = Number.POSITIVE_INFINITY;
    this.#closeAt = now + this.#cfg.timeWait;
    this.#buf = new SendBuffer();
  }

  // ---- send path ----

  /** #sample takes an RTT measurement (Karn: only segments never retransmitted) and updates the RTO (RFC 6298 §2). */
  #sample(now: number, ack: number): void {
    if (this.#rttSeq === -1 || seqLt(ack, this.#rttSeq)) return;
    this.#rttSeq = -1;
    this.#updateRto(Math.max(0, now - this.#rttAt), 1);
  }

  /**
   * #sampleEcho takes an RTT measurement from the timestamp an ACK echoes
   * (RFC 7323 §4): it names the transmission the app answered, retransmission
   * or not, so every ACK of new data is a sample, weighted down by how many a
   * flight yields (§4.2: ExpectedSamples = ⌈FlightSize / (2 · SMSS)⌉).
   */
  #sampleEcho(now: number, echo: number, acked: number): void {
    const rtt = seqDiff(this.#tsNow(now), echo);
    if (rtt < 0) return; // not an echo of ours
    this.#rttSeq = -1;
    const flight = seqDiff(this.#sndMax, this.#sndUna) + acked;
    this.#updateRto(rtt, Math.max(1, Math.ceil(flight / (2 * this.#sndMss))));
  }

  /** #updateRto folds one RTT sample into SRTT and RTTVAR and recomputes the RTO (RFC 6298 §2, backoff dropped). */
  #updateRto(r: number, expectedSamples: number): void {
    if (this.#srtt === 0) {
      this.#srtt = r || 0.001;
      this.#rttvar = r / 2;
    } else {
      const beta = 0.25 / expectedSamples;
      const alpha = 0.125 / expectedSamples;
      this.#rttvar = (1 - beta) * this.#rttvar + beta * Math.abs(this.#srtt - r);
      this.#srtt = (1 - alpha) * this.#srtt + alpha * r;
    }
    this.#rto = Math.min(this.#cfg.maxRto, Math.max(this.#cfg.minRto, this.#srtt + Math.max(1, 4 * this.#rttvar)));
  }

  /** #tsNow is this side's timestamp clock: ms since the Unix epoch, modulo 2^32 (RFC 7323 §5.4 asks only that it grow). */
  #tsNow(now: number): number {
    return Math.floor(now + this.#cfg.clockEpoch) >>> 0;
  }

  /** #pawsRejects says whether a segment's timestamp predates TS.Recent while that is still valid (RFC 7323 §5.3). */
  #pawsRejects(now: number, tsval: number): boolean {
    return seqLt(tsval, this.#tsRecent) && now - this.#tsRecentAt < PAWS_IDLE_LIMIT;
  }

  /**
   * acceptsNewSyn says whether a SYN for this connection's tuple, in
   * TIME-WAIT, may open a new connection (RFC 6191, as Linux decides): not
   * if its timestamp is older than TS.Recent; yes if its timestamp is newer
   * or its sequence number lies beyond what this connection received.
   */
  acceptsNewSyn(r: TcpRepr): boolean {
    const ts = this.#tsOk ? r.timestamp : undefined;
    if (ts && seqLt(ts.value, this.#tsRecent)) return false;
    return seqGt(r.seq, this.#rcvNxt) || (ts !== undefined && seqGt(ts.value, this.#tsRecent));
  }

  /** #send emits a segment, adding TSopt once negotiated (RFC 7323 §3.2: on every segment but RST). */
  #send(r: TcpRepr, payload: readonly Uint8Array[]): void {
    if (this.#tsOk && !(r.flags & RST)) r.timestamp = { value: this.#tsNow(this.#now), echo: this.#tsRecent };
    if (r.flags & ACK) this.#lastAckSent = r.ack;
    this.#host.send(this, r, payload);
  }

  #maybeGrant(): void {
    if (!this.#channel || this.#finSeq !== -1) return;
    const free = this.#cfg.sendBuffer - this.#buf.length - this.#granted;
    if (free <= 0) return;
    // Grant in large steps so the upstream is not flooded with tiny WINDOW frames.
    if (this.#granted === 0 || free >= Math.min(this.#cfg.sendBuffer >> 2, 65536)) {
      this.#granted += free;
      this.#channel.grant(free);
    }
  }

  #windowFields(): number {
    const w = Math.min(this.#recvWindow() >>> this.#rcvShift, 0xffff);
    this.#advRight = seqAdd(this.#rcvNxt, w << this.#rcvShift);
    return w;
  }

  #windowUpdateDue(): boolean {
    if (this.state !== 'established' && this.state !== 'fin-wait-1' && this.state !== 'fin-wait-2') return false;
    const right = seqAdd(this.#rcvNxt, Math.min(this.#recvWindow(), 0xffff << this.#rcvShift));
    const grow = seqDiff(right, this.#advRight);
    // A standalone update only when the app may be blocked (less than a segment
    // advertised) and the window opened by a useful amount: receiver-side silly
    // window avoidance (RFC 9293 §3.8.6.2.2). Otherwise the next ACK carries it.
    const advertised = seqDiff(this.#advRight, this.#rcvNxt);
    // A closed window reopens on any credit, so an upstream granting little at a time cannot stall the app.
    if (advertised <= 0) return grow > 0;
    return advertised < this.#cfg.mss && grow >= Math.min(this.#cfg.mss, this.#cfg.maxWindow >> 1);
  }

  #ackNow(): void {
    this.#ackPending = true;
    this.#host.wake(this);
  }

  #challengeAck(): void {
    this.#counters.challengeAcks++;
    this.#ackNow();
  }

  #sendAck(): void {
    this.#ackPending = false;
    this.#send(
      { ...BLANK, seq: this.#sndNxt, ack: this.#rcvNxt, flags: ACK, window: this.#windowFields() },
      NO_PAYLOAD,
    );
  }

  #transmit(now: number): void {
    if (this.state === 'syn-received') {
      if (this.#sndNxt === this.#iss) this.#sendSynAck(now);
      return;
    }
    const s = this.state;
    if (s !== 'established' && s !== 'close-wait' && s !== 'fin-wait-1' && s !== 'closing' && s !== 'last-ack') return;
    for (;;) {
      const off = seqDiff(this.#sndNxt, this.#bufSeq);
      const avail = this.#buf.length - off;
      const limit = Math.min(this.#sndWnd, this.#cwnd) - seqDiff(this.#sndNxt, this.#sndUna);
      const n = Math.max(0, Math.min(avail, this.#segMax, limit));
      const finNow = this.#finSeq !== -1 && seqAdd(this.#sndNxt, n) === this.#finSeq && n === avail;
      if (n === 0 && !finNow) {
        if (
          avail > 0 &&
          this.#sndWnd === 0 &&
          this.#sndMax === this.#sndUna &&
          this.#persistAt === Number.POSITIVE_INFINITY
        ) {
          this.#persistAt = this.#rtoDeadline(now); // zero window: probe until it opens (RFC 9293 §3.8.6.1)
        }
        return;
      }
      this.#sendData(now, this.#sndNxt, n, finNow);
    }
  }

  /** #sendData sends n buffered bytes from seq (and FIN if fin), advancing SND.NXT. */
  #sendData(now: number, seq: number, n: number, fin: boolean): void {
    const off = seqDiff(seq, this.#bufSeq);
    const parts = n > 0 ? this.#buf.slice(off, n, MAX_PACKET_PARTS - 1) : NO_PAYLOAD; // one part is the header
    let flags = ACK;
    if (n > 0 && off + n === this.#buf.length) flags |= PSH;
    if (fin) flags |= FIN;
    this.#ackPending = false;
    this.#send({ ...BLANK, seq, ack: this.#rcvNxt, flags, window: this.#windowFields() }, parts);
    const end = seqAdd(seq, n + (fin ? 1 : 0));
    if (seqLt(seq, this.#sndMax)) this.#counters.retransmits++;
    if (this.#rttSeq === -1 && seq === this.#sndMax) {
      this.#rttSeq = end;
      this.#rttAt = now;
    }
    if (seqGt(end, this.#sndNxt)) this.#sndNxt = end;
    this.#sndMax = seqMax(this.#sndMax, end);
    if (this.#rtoAt === Number.POSITIVE_INFINITY) this.#rtoAt = this.#rtoDeadline(now);
    if (fin) {
      if (this.state === 'established') this.state = 'fin-wait-1';
      else if (this.state === 'close-wait') this.state = 'last-ack';
    }
  }

  #sendSynAck(now: number): void {
    const r: TcpRepr = {
      ...BLANK,
      seq: this.#iss,
      ack: this.#rcvNxt,
      flags: SYN | ACK,
      window: Math.min(this.#recvWindow(), 0xffff),
      mss: this.#cfg.mss,
    };
    if (this.#wscaleOk) r.wscale = this.#rcvShift;
    this.#advRight = seqAdd(this.#rcvNxt, r.window);
    this.#ackPending = false;
    this.#send(r, NO_PAYLOAD);
    if (this.#rttSeq === -1 && this.#sndMax === this.#iss) {
      this.#rttSeq = seqAdd(this.#iss, 1);
      this.#rttAt = now;
    }
    this.#sndNxt = seqAdd(this.#iss, 1);
    this.#sndMax = seqMax(this.#sndMax, this.#sndNxt);
    if (this.#rtoAt === Number.POSITIVE_INFINITY) this.#rtoAt = this.#rtoDeadline(now);
  }

  #retransmitHead(now: number): void {
    const avail = this.#buf.length - seqDiff(this.#sndUna, this.#bufSeq);
    const n = Math.max(0, Math.min(avail, this.#segMax));
    const fin = this.#finSeq !== -1 && seqAdd(this.#sndUna, n) === this.#finSeq;
    if (n === 0 && !fin) return;
    this.#rttSeq = -1;
    this.#sendData(now, this.#sndUna, n, fin);
  }

  #onRto(now: number): void {
    this.#rtoAt = Number.POSITIVE_INFINITY;
    if (this.#sndMax === this.#sndUna) return;
    this.#counters.rtoExpiries++;
    if (++this.#retries > this.#cfg.maxRetries) {
      this.#giveUp();
      return;
    }
    // RFC 6298 §5.5-5.7: back off, go back to SND.UNA; RFC 5681 §3.1: collapse cwnd.
    this.#rto = Math.min(this.#rto * 2, this.#cfg.maxRto);
    const flight = seqDiff(this.#sndMax, this.#sndUna);
    this.#ssthresh = Math.max(flight >> 1, 2 * this.#sndMss);
    this.#cwnd = this.#sndMss;
    this.#recover = -1;
    this.#dupAcks = 0;
    this.#rttSeq = -1;
    this.#sndNxt = this.#sndUna;
    // A zero window with data in flight: the window stops #transmit, so the
    // head goes out regardless, as a probe (RFC 9293 §3.8.6.1, RFC 1122
    // §4.2.2.17; Linux's retransmission timer does the same). Without it a
    // lost window update would leave the flow waiting forever.
    if (this.#sndWnd === 0) this.#retransmitHead(now);
  }

  #onPersist(now: number): void {
    this.#persistAt = Number.POSITIVE_INFINITY;
    if (this.#sndWnd > 0 || this.#buf.length === 0) return;
    if (++this.#retries > this.#cfg.maxRetries) {
      this.#giveUp(); // no answer to any probe: the app's socket is gone
      return;
    }
    // Probe with SEG.SEQ = SND.UNA − 1 (as Linux does): the app must answer with its current window.
    this.#send(
      { ...BLANK, seq: seqAdd(this.#sndUna, -1), ack: this.#rcvNxt, flags: ACK, window: this.#windowFields() },
      NO_PAYLOAD,
    );
    this.#rto = Math.min(this.#rto * 2, this.#cfg.maxRto);
    this.#persistAt = this.#rtoDeadline(now);
  }

  /**
   * #onIdle runs the quiet-connection timer: FIN-WAIT-2 ends after
   * finWait2Timeout without a word from the app; ESTABLISHED and CLOSE-WAIT
   * with nothing in flight are probed once keepaliveIdle has passed, and
   * reset after keepaliveProbes go unanswered (RFC 1122 §4.2.3.6, with the
   * probe Linux sends: SEG.SEQ = SND.UNA − 1, no data, which the app's
   * kernel must answer with an ACK, or with a RST once its socket is gone).
   */
  #onIdle(now: number): void {
    this.#idleAt = Number.POSITIVE_INFINITY;
    const cfg = this.#cfg;
    if (this.state === 'fin-wait-2') {
      const end = this.#heardAt + cfg.finWait2Timeout;
      if (now >= end) this.#giveUp();
      else this.#idleAt = end;
      return;
    }
    if (this.state !== 'established' && this.state !== 'close-wait') return;
    const busy = this.#rtoAt !== Number.POSITIVE_INFINITY || this.#persistAt !== Number.POSITIVE_INFINITY;
    if (busy || now - this.#heardAt < cfg.keepaliveIdle) {
      // Data in flight or a zero window being probed: those timers watch the app. Otherwise not quiet long enough.
      this.#idleAt = Math.max(now, this.#heardAt + cfg.keepaliveIdle) + this.#jitter(cfg.keepaliveInterval);
      return;
    }
    if (this.#keepaliveProbes >= cfg.keepaliveProbes) {
      this.#giveUp();
      return;
    }
    this.#keepaliveProbes++;
    this.#send(
      { ...BLANK, seq: seqAdd(this.#sndUna, -1), ack: this.#rcvNxt, flags: ACK, window: this.#windowFields() },
      NO_PAYLOAD,
    );
    this.#idleAt = now + cfg.keepaliveInterval + this.#jitter(cfg.keepaliveInterval >> 2);
  }

  /**
   * #rtoDeadline is when the retransmission (or persist) timer armed now
   * fires: the RTO plus up to a quarter of it, drawn per connection, so that
   * segments lost together (thousands of FINs dropped by a full queue) are
   * not all retransmitted in the same instant again.
   */
  #rtoDeadline(now: number): number {
    return now + this.#rto + this.#jitter(this.#rto >> 2);
  }

  /** #jitter is a pseudo-random whole number of ms in [0, span) from the connection's own xorshift32. */
  #jitter(span: number): number {
    let x = this.#rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rand = x;
    return span > 0 ? (x >>> 0) % span : 0;
  }

  /** #giveUp aborts after unanswered retransmissions or probes: RST to the app, reset to the upstream. */
  #giveUp(): void {
    this.#host.send(this, { ...BLANK, seq: this.#sndNxt, ack: this.#rcvNxt, flags: RST | ACK }, NO_PAYLOAD);
    this.#abort(true);
  }

  /** #abort forgets the connection; notify tells the upstream (not when the upstream itself reset). */
  #abort(notify: boolean): void {
    if (notify && this.#channel && !this.#resetPending) this.#channel.reset();
    this.#close();
  }

  #close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#buf = new SendBuffer();
    this.#ooo = undefined;
    this.#rtoAt = this.#persistAt = this.#closeAt = this.#idleAt = Number.POSITIVE_INFINITY;
    this.#host.closed(this);
  }
}

const EMPTY = new Uint8Array(0);
const NO_PAYLOAD: readonly Uint8Array[] = [];
const BLANK: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0 };
