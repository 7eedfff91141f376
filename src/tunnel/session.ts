// Session: the multiplexer at either end of the one tunnel byte stream
// (ARCHITECTURE decisions 7–9; docs/protocol.md is the reference). It runs
// over any Duplex (a TCP socket, a WebSocket stream, an in-memory pair).
//
// This file is the I/O shell: it reads frames from the carrier and
// dispatches them, writes frames through a CarrierWriter (carrier-writer.ts:
// one tick becomes one writev), and ends the session. The logic lives in clock-free parts: the handshake
// (handshake.ts), the channel table (channel-table.ts), the send scheduler
// and receive windows (scheduler.ts, credit.ts), the heartbeat
// (heartbeat.ts) and the DNS and intercept exchanges (rpc.ts). Time and
// timers come from a Clock passed in (clock.ts; FakeClock in tests).
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { CarrierWriter } from './carrier-writer.ts';
import {
  type AnyChannel,
  type Channel,
  type ChannelHost,
  DatagramChannel,
  type DatagramChannel as DatagramChannelT,
  StreamChannel,
} from './channel.ts';
import { ChannelTable } from './channel-table.ts';
import { type Clock, realClock, type TimerHandle } from './clock.ts';
import {
  type DnsAnswer,
  type DnsQuery,
  decodeMessage,
  dnsAnswerFields,
  encodeMessage,
  GoAwayCode,
  goAwayName,
  type Hello,
  numberField,
  type OpenRequest,
  openFields,
  type RejectReason,
  type ResetCode,
  rejectFields,
  resetFields,
  stringField,
  toDnsAnswer,
  toDnsQuery,
  toHello,
  toInterceptAck,
  toInterceptRegister,
  toOpen,
  toReject,
  toReset,
  toWelcome,
} from './control.ts';
import { channelGrant, ReceiveWindow } from './credit.ts';
import { encodeControl, encodeWindow, FrameReader, FrameType, frameTypeName } from './frame.ts';
import {
  CLIENT_HANDSHAKE,
  CLIENT_RECEIVES,
  GATEWAY_HANDSHAKE,
  GATEWAY_RECEIVES,
  handshakeError,
  helloFor,
  judgeHello,
  judgeWelcome,
  offeredVersions,
  type VersionRange,
  welcomeFor,
} from './handshake.ts';
import { Heartbeat } from './heartbeat.ts';
import { CHALLENGE_BYTES, type SessionIdentity } from './identity.ts';
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_LIMITS, type SessionLimits } from './limits.ts';
import {
  type DnsAnswerInit,
  DnsRequests,
  DnsService,
  dnsFailure,
  type InterceptDecision,
  type InterceptHandler,
  InterceptRequests,
  InterceptService,
} from './rpc.ts';
import { SendScheduler } from './scheduler.ts';
import {
  type ClientOptions,
  type CommonOptions,
  type GatewayOptions,
  type OpenOptions,
  type OpenResult,
  type SessionEnd,
  type SessionEvents,
  type SessionStats,
  type SessionTables,
  silentLogger,
  type TunnelLogger,
} from './session-types.ts';

export { MIN_TUNING_RTT_MS } from './credit.ts';
export { HandshakeError } from './handshake.ts';
export type { DnsAnswerInit, InterceptDecision } from './rpc.ts';
export type {
  ClientOptions,
  CommonOptions,
  GatewayOptions,
  OpenOptions,
  OpenResult,
  SessionEnd,
  SessionEvents,
  SessionStats,
  SessionTables,
  TunnelLogger,
} from './session-types.ts';

/** connectSession starts the laptop end over `carrier`: HELLO, then WELCOME or a HandshakeError. */
export function connectSession(carrier: Duplex, opts: ClientOptions): Promise<Session> {
  const s = new Session(carrier, 'client', opts);
  return s.handshake(opts);
}

/** acceptSession starts the gateway end over `carrier`: waits for a valid HELLO, answers WELCOME. */
export function acceptSession(carrier: Duplex, opts: GatewayOptions): Promise<Session> {
  const s = new Session(carrier, 'gateway', opts);
  return s.handshake(opts);
}

/** Session is one end of a tunnel; create it with connectSession or acceptSession. */
export class Session extends EventEmitter<SessionEvents> implements ChannelHost {
  /** role says which end this is. */
  readonly role: 'client' | 'gateway';
  /** limits are this end's limits. */
  readonly limits: Readonly<SessionLimits>;
  /** version is the negotiated protocol version (0 before the handshake). */
  version = 0;
  /** id is the session id the gateway chose. */
  id = '';
  /** peer describes the other end once the handshake is done. */
  peer: { name: string; clientId: string; identityKey: Uint8Array } = {
    name: '',
    clientId: '',
    identityKey: new Uint8Array(0),
  };
  /** challenge is this session's WELCOME challenge: registration proofs sign it (identity.ts). */
  challenge: Uint8Array = new Uint8Array(0);
  /** dnsHandler answers DNS_QUERY frames (gateway end). */
  dnsHandler: ((q: DnsQuery) => Promise<DnsAnswerInit>) | undefined;
  /** interceptHandler decides INTERCEPT_REGISTER / UNREGISTER frames (gateway end). */
  interceptHandler: InterceptHandler | undefined;

  readonly #carrier: Duplex;
  readonly #log: TunnelLogger;
  readonly #clock: Clock;
  readonly #reader: FrameReader;
  readonly #table: ChannelTable<AnyChannel, OpenResult>;
  readonly #send: SendScheduler;
  readonly #recv: ReceiveWindow;
  readonly #heartbeat: Heartbeat;
  readonly #dns: DnsRequests;
  readonly #dnsService: DnsService;
  readonly #intercepts = new InterceptRequests();
  readonly #interceptService: InterceptService;
  #state: 'handshake' | 'open' | 'closed' = 'handshake';
  #peerChannelWindow = 0;
  #goAwaySent = false;
  #peerDraining = false;
  #pingWaiters = new Map<number, { resolve(ms: number): void; reject(e: Error): void }>();
  #maxChannels: number;
  #heartbeatTimer: TimerHandle | undefined;
  #handshakeTimer: TimerHandle | undefined;
  #handshakeDone: ((err?: Error) => void) | undefined;
  #gatewayOpts: GatewayOptions | undefined;
  #offered: VersionRange = offeredVersions();
  #datagramParts = new Map<number, Buffer[]>();
  readonly #writer: CarrierWriter;
  #received = { bytesReceived: 0, carrierBytesReceived: 0 };
  #framesReceived = 0;
  #lastRx = 0;
  #channelsOpened = 0;
  #endedWith: SessionEnd | undefined;
  #identity: SessionIdentity | undefined;

  /** Use connectSession / acceptSession; the constructor only wires the carrier. */
  constructor(carrier: Duplex, role: 'client' | 'gateway', opts: CommonOptions) {
    super();
    this.role = role;
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
    this.#carrier = carrier;
    this.#writer = new CarrierWriter(carrier, this.limits);
    this.#log = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? realClock;
    this.#table = new ChannelTable(role);
    this.#send = new SendScheduler(
      {
        carrierFull: () => this.#writer.full(),
        writeData: (ch, payload) => this.#writeData(ch, payload),
        sendClose: (ch) => this.sendClose(ch),
      },
      this.limits.maxDataPayload,
    );
    this.#recv = new ReceiveWindow(this.limits.sessionWindow);
    this.#heartbeat = new Heartbeat(this.limits);
    this.#dns = new DnsRequests(this.#clock, this.limits);
    this.#dnsService = new DnsService(this.limits.maxDnsInFlight);
    this.#interceptService = new InterceptService(this.limits.maxIntercepts);
    this.#maxChannels = this.limits.maxChannels;
    const sock = carrier as Duplex & { setNoDelay?: (v: boolean) => void };
    // PERFORMANCE.md: a TCP carrier without TCP_NODELAY stalls small frames behind Nagle.
    if (typeof sock.setNoDelay === 'function') sock.setNoDelay(true);
    this.#reader = new FrameReader(
      {
        maxDataPayload: this.limits.maxDataPayload,
        maxControlPayload: this.limits.maxHandshakePayload,
        allowedTypes: role === 'client' ? CLIENT_HANDSHAKE : GATEWAY_HANDSHAKE,
      },
      {
        data: (ch, piece, last) => this.#onData(ch, piece, last),
        window: (ch, inc) => this.#onWindow(ch, inc),
        control: (type, ch, payload) => this.#onControl(type, ch, payload),
        invalid: (message) => this.#protocolError(message),
      },
    );
    carrier.on('data', this.#onCarrierData);
    carrier.on('end', () => this.#end({ reason: 'carrier-closed', message: 'the tunnel stream ended' }));
    carrier.on('close', () => this.#end({ reason: 'carrier-closed', message: 'the tunnel stream closed' }));
    carrier.on('error', (err: Error) =>
      this.#end({ reason: 'carrier-error', message: `the tunnel stream failed: ${err.message}` }),
    );
    carrier.on('drain', this.#onCarrierDrain);
  }

  /** handshake runs this end's side of HELLO/WELCOME (internal: use connectSession/acceptSession). */
  handshake(opts: ClientOptions | GatewayOptions): Promise<Session> {
    return new Promise<Session>((resolve, reject) => {
      this.#handshakeDone = (err) => {
        this.#handshakeDone = undefined;
        this.#clock.clearTimeout(this.#handshakeTimer);
        if (err) reject(err);
        else resolve(this);
      };
      this.#handshakeTimer = this.#clock.setTimeout(() => {
        const msg =
          this.role === 'client'
            ? `no answer from the gateway within ${this.limits.handshakeTimeoutMs} ms`
            : `no valid HELLO within ${this.limits.handshakeTimeoutMs} ms`;
        this.#fail(GoAwayCode.HANDSHAKE_TIMEOUT, msg, this.role === 'gateway');
      }, this.limits.handshakeTimeoutMs);
      if (this.role === 'client') {
        const o = opts as ClientOptions;
        this.#identity = o.identity;
        this.#offered = offeredVersions(o.versions);
        this.#sendControl(FrameType.HELLO, 0, { ...helloFor(o, this.#offered, this.limits) });
      } else {
        this.#gatewayOpts = opts as GatewayOptions;
      }
      if (this.#state === 'closed') this.#handshakeDone?.(this.#handshakeError());
    });
  }

  /** closed says whether the session is over. */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** endedWith says how the session ended, once it has. */
  get endedWith(): SessionEnd | undefined {
    return this.#endedWith;
  }

  /** draining says whether either end announced GOAWAY SHUTTING_DOWN (no new channels). */
  get draining(): boolean {
    return this.#goAwaySent || this.#peerDraining;
  }

  /** rttMs is the smoothed round-trip time from heartbeats (0 before the first PONG). */
  get rttMs(): number {
    return this.#heartbeat.srtt;
  }

  /** channelCount is the number of channels not yet closed. */
  get channelCount(): number {
    return this.#table.size;
  }

  /** stats returns the session's counters. */
  stats(): SessionStats {
    return {
      ...this.#writer.stats,
      ...this.#received,
      framesReceived: this.#framesReceived,
      channelsOpened: this.#channelsOpened,
      channelsOpen: this.#table.size,
      rttMs: this.#heartbeat.srtt,
      stalls: { ...this.#send.stalls },
    };
  }

  /** tables returns a read-only snapshot of the session's live tables. */
  tables(): SessionTables {
    return {
      ...this.#table.view(),
      sendCredit: this.#send.sessionCredit,
      receive: this.#recv.view(),
      pings: this.#heartbeat.unanswered(),
      dnsQueries: this.#dns.size,
      interceptRequests: this.#intercepts.size,
    };
  }

  // ---- public operations -------------------------------------------------

  /** open asks the peer for a channel; resolves with the channel (after OPEN_OK) or a typed refusal. */
  open(o: OpenOptions): Promise<OpenResult> {
    const fail = (reason: RejectReason, message: string): Promise<OpenResult> =>
      Promise.resolve({ ok: false, reason, message, byPeer: false });
    if (this.#state !== 'open') return fail('unreachable', 'the tunnel session is closed');
    if (this.#peerDraining) return fail('limit', 'the peer is draining (GOAWAY): open on a new session');
    if (this.#table.size >= this.#maxChannels) return fail('limit', `too many channels (${this.#maxChannels})`);
    const id = this.#table.allocate();
    if (id === undefined) return fail('limit', 'channel ids exhausted: start a new session');
    const req: OpenRequest = {
      protocol: o.protocol,
      host: o.host,
      port: o.port,
      timeoutMs: o.timeoutMs ?? 0,
      interceptId: o.interceptId ?? '',
      sourceHost: o.sourceHost ?? '',
      sourcePort: o.sourcePort ?? 0,
      ownerKey: o.ownerKey ?? '',
    };
    const ch = this.#newChannel(id, req, 'opening');
    this.#table.add(ch);
    this.#sendControl(FrameType.OPEN, id, openFields(req));
    const wait = (req.timeoutMs || DEFAULT_DIAL_TIMEOUT_MS) + this.limits.openGraceMs;
    return new Promise<OpenResult>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#table.takeAnswer(id);
        ch.reset('timeout', 'no OPEN_OK or OPEN_REJECT in time');
        resolve({ ok: false, reason: 'timeout', message: `no answer to OPEN within ${wait} ms`, byPeer: false });
      }, wait);
      this.#table.awaitAnswer(id, { resolve, timer });
    });
  }

  /** ping measures one round trip (milliseconds); rejects if the session closes first. */
  ping(): Promise<number> {
    if (this.#state !== 'open') return Promise.reject(new Error('the tunnel session is closed'));
    const id = this.#sendPing();
    if (id === undefined)
      return Promise.reject(new Error(`${this.limits.maxUnansweredPings} PINGs are already awaiting an answer`));
    return new Promise((resolve, reject) => {
      this.#pingWaiters.set(id, { resolve, reject });
    });
  }

  /** dnsQuery sends one DNS message (wire format) to the gateway and resolves with its answer. */
  dnsQuery(message: Uint8Array, opts: { useSearch?: boolean; timeoutMs?: number } = {}): Promise<DnsAnswer> {
    if (this.role !== 'client')
      return Promise.resolve(dnsFailure(0, 'unavailable', 'only the client end sends DNS queries'));
    if (this.#state !== 'open') return Promise.resolve(dnsFailure(0, 'unavailable', 'the tunnel session is closed'));
    const timeoutMs = opts.timeoutMs ?? 5000;
    return this.#dns.ask(message, timeoutMs, (id) =>
      this.#sendControl(FrameType.DNS_QUERY, 0, { id, message, useSearch: opts.useSearch ?? false, timeoutMs }),
    );
  }

  /** registerIntercept asks the gateway to send connections for `ports` up this session, proving the session's identity. */
  registerIntercept(interceptId: string, ports: number[]): Promise<InterceptDecision> {
    const proof = this.#identity?.proveRegistration(this.challenge, interceptId) ?? new Uint8Array(0);
    return this.#interceptRequest(FrameType.INTERCEPT_REGISTER, interceptId, { interceptId, ports, proof });
  }

  /** unregisterIntercept withdraws a registration. */
  unregisterIntercept(interceptId: string): Promise<InterceptDecision> {
    return this.#interceptRequest(FrameType.INTERCEPT_UNREGISTER, interceptId, { interceptId });
  }

  /** drain sends GOAWAY SHUTTING_DOWN, waits for open channels to finish (at most timeoutMs), then closes. */
  async drain(timeoutMs: number, message = 'draining'): Promise<void> {
    if (this.#state === 'closed') return;
    if (!this.#goAwaySent && this.#state === 'open') {
      this.#goAwaySent = true;
      this.#sendControl(FrameType.GOAWAY, 0, { code: GoAwayCode.SHUTTING_DOWN, message });
    }
    if (this.#table.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.#clock.setTimeout(resolve, timeoutMs, { unref: true });
        this.#table.whenEmpty(() => {
          this.#clock.clearTimeout(timer);
          resolve();
        });
      });
    }
    this.close(message);
  }

  /** close ends the session now: GOAWAY NO_ERROR, then the carrier is ended; open channels end with it. */
  close(message = 'closed'): void {
    this.#end({ reason: 'closed', code: GoAwayCode.NO_ERROR, message }, { code: GoAwayCode.NO_ERROR, message });
  }

  /** destroy ends the session without a GOAWAY (the carrier is destroyed). */
  destroy(message = 'destroyed'): void {
    this.#end({ reason: 'closed', message });
  }

  // ---- ChannelHost (called by channels) -----------------------------------

  /** schedule puts a stream channel into the send rotation (internal). */
  schedule(ch: StreamChannel): void {
    this.#send.schedule(ch);
  }

  /** sendDatagram frames one datagram (internal). */
  sendDatagram(ch: DatagramChannelT, payload: Uint8Array): boolean {
    if (this.#state !== 'open' || !this.#send.takeDatagram(ch, payload.byteLength)) return false;
    this.#writeData(ch, payload);
    return true;
  }

  /** sendClose sends CLOSE for a channel (internal). */
  sendClose(ch: Channel): void {
    this.#sendControl(FrameType.CLOSE, ch.id, {});
    if (ch.remoteEnded) ch.finish({ kind: 'closed' });
  }

  /** sendReset sends RESET for a channel (internal). */
  sendReset(ch: Channel, code: ResetCode, message: string): void {
    if (this.#state === 'open') this.#sendControl(FrameType.RESET, ch.id, resetFields({ code, message }));
  }

  /** releaseChannel returns consumed bytes to the channel's and the session's windows (internal). */
  releaseChannel(ch: Channel, n: number): void {
    this.#releaseSession(n);
    if (ch.state !== 'open' || ch.remoteEnded || this.#state !== 'open') return;
    const inc = channelGrant(ch, n, this.#clock.now(), this.#heartbeat.srtt, this.limits);
    if (inc > 0) this.#write(encodeWindow(ch.id, inc));
  }

  /** returnToSession gives bytes of a channel that ended back to the session window only (internal). */
  returnToSession(_ch: Channel, n: number): void {
    this.#releaseSession(n);
  }

  /** accept sends OPEN_OK for a peer's channel (internal). */
  accept(ch: Channel): void {
    if (this.#state !== 'open') return;
    ch.state = 'open';
    ch.sendCredit = this.#peerChannelWindow;
    ch.lastGrantAt = this.#clock.now();
    this.#sendControl(FrameType.OPEN_OK, ch.id, {});
  }

  /** reject sends OPEN_REJECT for a peer's channel (internal). */
  reject(ch: Channel, reason: string, message: string): void {
    if (this.#state === 'open')
      this.#sendControl(FrameType.OPEN_REJECT, ch.id, rejectFields({ reason: reason as RejectReason, message }));
    ch.finish({ kind: 'reset', by: 'local', code: 'cancel', message: `rejected: ${reason}` });
  }

  /** forget drops a closed channel (internal). */
  forget(ch: Channel): void {
    if (this.#table.get(ch.id) !== ch) return;
    // A datagram cut short by the channel's end was charged piece by piece: give it back.
    const parts = this.#datagramParts.get(ch.id);
    if (parts) {
      this.#datagramParts.delete(ch.id);
      this.#releaseSession(parts.reduce((sum, p) => sum + p.length, 0));
    }
    // Whatever the peer had in flight toward this channel is dropped on
    // arrival and returned to the session window then (see #onData).
    const pending = this.#table.takeAnswer(ch.id);
    if (pending) {
      this.#clock.clearTimeout(pending.timer);
      const end = ch.endedWith;
      pending.resolve({
        ok: false,
        reason: 'unreachable',
        message: end && 'message' in end ? end.message : 'channel closed',
        byPeer: false,
      });
    }
    this.#table.remove(ch as AnyChannel);
  }

  // ---- sending ------------------------------------------------------------

  #write(buf: Buffer | Uint8Array) {
    this.#writer.frame(buf);
  }

  #writeData(ch: Channel, payload: Uint8Array) {
    if (!this.#writer.writable) return;
    this.#writer.data(ch.id, payload);
    ch.bytesSent += payload.byteLength;
  }

  #sendControl(type: number, channel: number, fields: Record<string, unknown>) {
    this.#write(encodeControl(type, channel, encodeMessage(type, fields)));
  }

  #onCarrierDrain = (): void => {
    this.#writer.drained();
    this.#send.carrierDrained();
  };

  #releaseSession(n: number) {
    const inc = this.#recv.release(n);
    if (inc > 0 && this.#state === 'open') this.#write(encodeWindow(0, inc));
  }

  #sendPing(): number | undefined {
    const id = this.#heartbeat.ping(this.#clock.now());
    if (id !== undefined) this.#sendControl(FrameType.PING, 0, { id });
    return id;
  }

  #startHeartbeat() {
    this.#sendPing(); // measure the RTT at once: window auto-tuning needs it
    const beat = () => {
      this.#heartbeatTimer = undefined;
      if (this.#state !== 'open') return;
      const dead = this.#heartbeat.deadline(this.#clock.now(), this.#lastRx);
      if (dead !== undefined) return this.#end({ reason: 'heartbeat', message: dead });
      this.#sendPing();
      this.#heartbeatTimer = this.#clock.setTimeout(beat, this.limits.pingIntervalMs);
    };
    this.#heartbeatTimer = this.#clock.setTimeout(beat, this.limits.pingIntervalMs);
  }

  // ---- receiving ----------------------------------------------------------

  #onCarrierData = (chunk: Buffer | string): void => {
    if (this.#state === 'closed') return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#received.carrierBytesReceived += buf.length;
    this.#lastRx = this.#clock.now();
    try {
      this.#reader.push(buf);
    } catch (err) {
      // A listener threw while handling a frame: that is a bug on this side.
      this.#log.error({ err }, 'tunnel: error while handling a frame');
      this.#fail(GoAwayCode.INTERNAL_ERROR, `internal error: ${(err as Error).message}`, true);
      return;
    }
    this.#writer.afterRead(); // the peer makes us answer faster than it reads: stop reading until it catches up
  };

  #onData(id: number, piece: Buffer, last: boolean) {
    if (last) this.#framesReceived++;
    const n = piece.length;
    if (!this.#recv.take(n)) {
      return this.#fail(GoAwayCode.FLOW_CONTROL, 'the peer sent beyond the session window', true);
    }
    const ch = this.#table.get(id);
    if (!ch || ch.state === 'closed') {
      if (!this.#table.knownId(id)) return this.#protocolError(`DATA on channel ${id}, which was never opened`);
      this.#releaseSession(n); // late data for a channel already gone: drop it, return the budget
      return;
    }
    if (ch.state !== 'open' || ch.remoteEnded) {
      this.#releaseSession(n);
      return ch.reset('protocol-error', ch.remoteEnded ? 'DATA after CLOSE' : 'DATA before OPEN_OK');
    }
    ch.recvAvail -= n;
    if (ch.recvAvail < 0) {
      this.#releaseSession(n);
      return ch.reset('flow-control', 'the peer sent beyond the channel window');
    }
    ch.bytesReceived += n;
    this.#received.bytesReceived += n;
    if (ch instanceof StreamChannel) {
      if (n === 0) return;
      ch.unreleased += n;
      // Keep big pieces by reference; copy small ones so a held piece cannot
      // pin a much larger carrier chunk in memory.
      ch.emit('data', n * 4 < piece.buffer.byteLength ? Buffer.from(piece) : piece);
      return;
    }
    let parts = this.#datagramParts.get(id);
    if (!last) {
      if (!parts) {
        parts = [];
        this.#datagramParts.set(id, parts);
      }
      parts.push(piece);
      return;
    }
    let dgram = piece;
    if (parts) {
      parts.push(piece);
      dgram = Buffer.concat(parts);
      this.#datagramParts.delete(id);
    }
    ch.emit('data', dgram);
    this.releaseChannel(ch, dgram.length); // datagrams are consumed on delivery
  }

  #onWindow(id: number, inc: number) {
    this.#framesReceived++;
    if (id === 0) {
      if (!this.#send.grantSession(inc)) this.#fail(GoAwayCode.FLOW_CONTROL, 'session credit overflow', true);
      return;
    }
    const ch = this.#table.get(id);
    if (!ch) {
      if (!this.#table.knownId(id)) this.#protocolError(`WINDOW on channel ${id}, which was never opened`);
      return;
    }
    ch.sendCredit += inc;
    if (ch.sendCredit > 0xffffffff) return ch.reset('flow-control', 'channel credit overflow');
    if (ch instanceof StreamChannel && ch.queuedBytes > 0) this.schedule(ch);
    if (ch.state === 'open') ch.emit('credit');
  }

  #onControl(type: number, id: number, payload: Buffer) {
    this.#framesReceived++;
    const msg = decodeMessage(type, payload);
    if (!msg) return this.#protocolError(`malformed ${frameTypeName(type)} frame`);
    if (this.#state === 'handshake') return this.#onHandshakeFrame(type, msg);
    const needsChannel = type >= FrameType.OPEN && type <= FrameType.RESET;
    if (needsChannel === (id === 0)) return this.#protocolError(`${frameTypeName(type)} frame on channel ${id}`);
    switch (type) {
      case FrameType.GOAWAY:
        return this.#onGoAway(numberField(msg.code), stringField(msg.message));
      case FrameType.PING:
        return this.#sendControl(FrameType.PONG, 0, { id: numberField(msg.id) });
      case FrameType.PONG:
        return this.#onPong(numberField(msg.id));
      case FrameType.OPEN:
        return this.#onOpen(id, msg);
      case FrameType.OPEN_OK:
      case FrameType.OPEN_REJECT:
        return this.#onOpenAnswer(type, id, msg);
      case FrameType.CLOSE:
        return this.#onClose(id);
      case FrameType.RESET: {
        const ch = this.#table.get(id);
        if (!ch) return this.#table.knownId(id) ? undefined : this.#protocolError(`RESET on unknown channel ${id}`);
        const r = toReset(msg);
        return ch.finish({ kind: 'reset', by: 'peer', code: r.code, message: r.message });
      }
      case FrameType.DNS_QUERY: {
        const q = toDnsQuery(msg);
        return this.#dnsService.serve(q, this.dnsHandler, (a) => {
          if (this.#state === 'open') this.#sendControl(FrameType.DNS_ANSWER, 0, dnsAnswerFields({ ...a, id: q.id }));
        });
      }
      case FrameType.DNS_ANSWER:
        return this.#dns.answer(toDnsAnswer(msg));
      case FrameType.INTERCEPT_REGISTER:
      case FrameType.INTERCEPT_UNREGISTER: {
        const r = toInterceptRegister(msg);
        const d = this.#interceptService.decide(r, type === FrameType.INTERCEPT_UNREGISTER, this.interceptHandler);
        return this.#sendControl(FrameType.INTERCEPT_ACK, 0, {
          interceptId: r.interceptId,
          ok: d.ok,
          message: d.message,
        });
      }
      case FrameType.INTERCEPT_ACK: {
        const a = toInterceptAck(msg);
        return this.#intercepts.answer(a.interceptId, { ok: a.ok, message: a.message });
      }
    }
  }

  #onHandshakeFrame(type: number, msg: Record<string, unknown>) {
    if (type === FrameType.HELLO) {
      const hello: Hello = toHello(msg);
      const opts = this.#gatewayOpts;
      if (!opts) return this.#fail(GoAwayCode.INTERNAL_ERROR, 'HELLO before the handshake started', true);
      const verdict = judgeHello(hello, opts.authenticate);
      if (!verdict.ok) return this.#fail(verdict.code, verdict.message, true);
      this.version = verdict.version;
      this.id = opts.sessionId ?? randomUUID();
      this.peer = { name: hello.clientName, clientId: hello.clientId, identityKey: hello.identityKey };
      this.challenge = randomBytes(CHALLENGE_BYTES);
      this.#peerChannelWindow = hello.initialChannelWindow;
      this.#send.startCredit(hello.initialSessionWindow);
      this.#sendControl(FrameType.WELCOME, 0, {
        ...welcomeFor(verdict.version, opts.gatewayName, this.id, this.challenge, this.limits),
      });
      return this.#established();
    }
    if (type === FrameType.WELCOME) {
      const w = toWelcome(msg);
      const refusal = judgeWelcome(w, this.#offered);
      if (refusal) return this.#fail(refusal.code, refusal.message, true);
      this.version = w.version;
      this.id = w.sessionId;
      this.peer = { name: w.gatewayName, clientId: '', identityKey: new Uint8Array(0) };
      this.challenge = w.challenge;
      this.#peerChannelWindow = w.initialChannelWindow;
      this.#send.startCredit(w.initialSessionWindow);
      if (w.maxChannels > 0) this.#maxChannels = Math.min(this.#maxChannels, w.maxChannels);
      return this.#established();
    }
    // GOAWAY during the handshake: the gateway refused us.
    const code = numberField(msg.code);
    const message = stringField(msg.message);
    this.#end({
      reason: 'handshake',
      code,
      message: `the gateway refused the session (${goAwayName(code)}): ${message}`,
    });
  }

  #established() {
    this.#state = 'open';
    this.#send.enabled = true;
    this.#reader.setLimits({
      maxDataPayload: this.limits.maxDataPayload,
      maxControlPayload: this.limits.maxControlPayload,
      allowedTypes: this.role === 'client' ? CLIENT_RECEIVES : GATEWAY_RECEIVES,
    });
    this.#startHeartbeat();
    this.#handshakeDone?.();
  }

  #onGoAway(code: number, message: string) {
    if (code === GoAwayCode.SHUTTING_DOWN) {
      this.#peerDraining = true;
      this.emit('goaway', code, message);
      return;
    }
    this.emit('goaway', code, message);
    this.#end({ reason: 'goaway', code, message: `the peer ended the session (${goAwayName(code)}): ${message}` });
  }

  #onPong(id: number) {
    const sample = this.#heartbeat.pong(id, this.#clock.now());
    if (sample === undefined) return;
    this.emit('rtt', sample);
    const w = this.#pingWaiters.get(id);
    if (w) {
      this.#pingWaiters.delete(id);
      w.resolve(sample);
    }
  }

  #onOpen(id: number, msg: Record<string, unknown>) {
    if (!this.#table.admitPeerId(id))
      return this.#protocolError(`OPEN with channel id ${id}, which the peer may not use now`);
    const req = toOpen(msg);
    const refuse = (reason: RejectReason, message: string): void =>
      this.#sendControl(FrameType.OPEN_REJECT, id, rejectFields({ reason, message }));
    if (!req) return refuse('invalid', 'unknown channel protocol');
    if (this.#goAwaySent) return refuse('limit', 'this end is draining (GOAWAY sent)');
    if (this.#table.size >= this.limits.maxChannels)
      return refuse('limit', `too many channels in this session (${this.limits.maxChannels})`);
    if (this.listenerCount('open') === 0) return refuse('forbidden', 'this end accepts no channels');
    const ch = this.#newChannel(id, req, 'pending');
    this.#table.add(ch);
    this.emit('open', ch);
  }

  #onOpenAnswer(type: number, id: number, msg: Record<string, unknown>) {
    const ch = this.#table.get(id);
    if (ch?.state !== 'opening') {
      if (ch || !this.#table.knownId(id) || !this.#table.isOwn(id))
        return this.#protocolError(`${frameTypeName(type)} for channel ${id}, which is not opening`);
      return; // we gave up on it already
    }
    const pending = this.#table.takeAnswer(id);
    if (pending) this.#clock.clearTimeout(pending.timer);
    if (type === FrameType.OPEN_OK) {
      ch.state = 'open';
      ch.sendCredit = this.#peerChannelWindow;
      ch.lastGrantAt = this.#clock.now();
      // Frames after OPEN_OK in the same carrier chunk (a server that speaks
      // first) must not be emitted before the opener's continuation has
      // attached its listeners: hold the channel's events until the promise
      // reactions queued by resolve() have run.
      ch.hold();
      queueMicrotask(() => queueMicrotask(() => ch.releaseHeld()));
      pending?.resolve({
        ok: true,
        channel: ch,
        localHost: stringField(msg.localHost),
        localPort: numberField(msg.localPort),
      });
      return;
    }
    const r = toReject(msg);
    ch.finish({ kind: 'reset', by: 'peer', code: 'cancel', message: `rejected: ${r.reason}` });
    pending?.resolve({ ok: false, reason: r.reason, message: r.message, byPeer: true });
  }

  #onClose(id: number) {
    const ch = this.#table.get(id);
    if (!ch) return this.#table.knownId(id) ? undefined : this.#protocolError(`CLOSE on unknown channel ${id}`);
    if (ch.state !== 'open' || ch.remoteEnded) return ch.reset('protocol-error', 'unexpected CLOSE');
    ch.remoteEnded = true;
    ch.emit('end');
    if (ch.state !== 'open') return;
    const closeSent = ch.localEnded && !(ch instanceof StreamChannel && (ch.closeQueued || ch.queuedBytes > 0));
    if (closeSent) ch.finish({ kind: 'closed' });
  }

  #interceptRequest(type: number, interceptId: string, fields: Record<string, unknown>): Promise<InterceptDecision> {
    if (this.role !== 'client' || this.#state !== 'open')
      return Promise.resolve({ ok: false, message: 'the tunnel session is not open' });
    this.#sendControl(type, 0, fields);
    return this.#intercepts.wait(interceptId);
  }

  #newChannel(id: number, req: OpenRequest, state: 'opening' | 'pending'): AnyChannel {
    const ch =
      req.protocol === 'tcp' ? new StreamChannel(this, id, req, state) : new DatagramChannel(this, id, req, state);
    ch.recvWindow = this.limits.initialChannelWindow;
    ch.recvAvail = this.limits.initialChannelWindow;
    this.#channelsOpened++;
    return ch;
  }

  // ---- ending -------------------------------------------------------------

  #protocolError(message: string) {
    this.#fail(GoAwayCode.PROTOCOL_ERROR, message, true);
  }

  /** #fail ends the session for a reason found on this side, telling the peer with a GOAWAY if `tell`. */
  #fail(code: number, message: string, tell: boolean) {
    const reason =
      this.#state === 'handshake' ? 'handshake' : code === GoAwayCode.INTERNAL_ERROR ? 'closed' : 'protocol-error';
    this.#end({ reason, code, message }, tell ? { code, message } : undefined);
  }

  #handshakeError() {
    return handshakeError(this.#endedWith?.code, this.#endedWith?.message);
  }

  #end(end: SessionEnd, goAway?: { code: number; message: string }) {
    if (this.#state === 'closed') return;
    const wasHandshake = this.#state === 'handshake';
    this.#state = 'closed';
    this.#send.enabled = false;
    this.#endedWith = end;
    this.#clock.clearTimeout(this.#heartbeatTimer);
    this.#clock.clearTimeout(this.#handshakeTimer);
    const level =
      end.reason === 'closed' || end.reason === 'carrier-closed' || end.reason === 'handshake' ? 'debug' : 'warn';
    this.#log[level]({ sessionId: this.id, role: this.role, ...end }, `tunnel session ended: ${end.message}`);
    const c = this.#carrier;
    if (goAway && !c.destroyed && !c.writableEnded) {
      this.#write(encodeControl(FrameType.GOAWAY, 0, encodeMessage(FrameType.GOAWAY, goAway)));
      c.end();
      this.#clock.setTimeout(() => c.destroy(), 2000, { unref: true });
    } else {
      c.destroy();
    }
    for (const ch of this.#table.values()) ch.finish({ kind: 'session', message: end.message });
    for (const p of this.#table.takeAllAnswers()) this.#clock.clearTimeout(p.timer);
    this.#dns.fail(end.message);
    this.#intercepts.fail(end.message);
    for (const w of this.#pingWaiters.values()) w.reject(new Error(end.message));
    this.#pingWaiters.clear();
    this.#table.releaseEmptyWaiters();
    if (wasHandshake) this.#handshakeDone?.(this.#handshakeError());
    this.emit('close', end);
  }
}
