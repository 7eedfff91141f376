// Session: the multiplexer at either end of the one tunnel byte stream
// (ARCHITECTURE decisions 7–9; docs/protocol.md is the reference). It runs
// over any Duplex (a TCP socket, a WebSocket stream, an in-memory pair).
//
// Sending: control frames (WINDOW, PONG, OPEN, ...) go straight to the
// carrier; DATA goes out of a round-robin rotation of channels, one frame per
// channel per turn, while the channel's credit, the session budget and room in
// the carrier's write buffer last. Writes within one tick are corked so the
// carrier sees one writev. Receiving: a FrameReader hands DATA payloads over
// as subarrays; every byte counts against the channel's and the session's
// receive windows until the consumer releases it.
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { DevnetError } from '../errors.ts';
import {
  type AnyChannel,
  type Channel,
  type ChannelHost,
  DatagramChannel,
  type DatagramChannel as DatagramChannelT,
  StreamChannel,
} from './channel.ts';
import {
  type DnsAnswer,
  type DnsQuery,
  decodeMessage,
  dnsAnswerFields,
  encodeMessage,
  GoAwayCode,
  goAwayName,
  type Hello,
  type InterceptRegister,
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
  type Welcome,
} from './control.ts';
import { encodeControl, encodeHeader, encodeWindow, FrameReader, FrameType, frameTypeName } from './frame.ts';
import { CHALLENGE_BYTES, type SessionIdentity } from './identity.ts';
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_LIMITS, type SessionLimits } from './limits.ts';
import { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from './version.ts';

/** MIN_TUNING_RTT_MS is the smallest RTT window auto-tuning assumes (milliseconds). */
export const MIN_TUNING_RTT_MS = 2;

/** TunnelLogger is the slice of a pino logger the tunnel uses. */
export interface TunnelLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: TunnelLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** SessionEnd says how a session ended (docs/protocol.md, "How a session ends"). */
export interface SessionEnd {
  /** reason: who or what ended it. */
  reason:
    | 'closed' // close() or drain() on this side
    | 'goaway' // the peer sent a GOAWAY other than SHUTTING_DOWN
    | 'protocol-error' // the peer broke the protocol; we sent GOAWAY
    | 'heartbeat' // no PONG within the deadline
    | 'carrier-closed' // the byte stream ended
    | 'carrier-error' // the byte stream failed
    | 'handshake'; // the handshake failed
  /** code is the GOAWAY code sent or received, when there was one. */
  code?: number;
  message: string;
}

/** OpenResult is the answer to open(): a channel, or why there is none. */
export type OpenResult =
  | { ok: true; channel: AnyChannel; localHost: string; localPort: number }
  | { ok: false; reason: RejectReason; message: string; byPeer: boolean };

/** OpenOptions describe a channel to open. */
export interface OpenOptions {
  protocol: 'tcp' | 'udp' | 'icmp';
  host: string;
  port: number;
  /** timeoutMs is the dial timeout the peer applies (0 = its default). */
  timeoutMs?: number;
  /** interceptId, sourceHost, sourcePort: set by the gateway for intercepted connections. */
  interceptId?: string;
  sourceHost?: string;
  sourcePort?: number;
  /** ownerKey: an intercept pod names the key id of the intercept's owner (identity.ts). */
  ownerKey?: string;
}

/** DnsAnswerInit is what a DNS handler returns (the id is filled in by the session). */
export type DnsAnswerInit = Omit<DnsAnswer, 'id'>;

/** InterceptDecision is what an intercept handler returns. */
export interface InterceptDecision {
  ok: boolean;
  message: string;
}

/** SessionStats are a session's counters. */
export interface SessionStats {
  bytesSent: number;
  bytesReceived: number;
  carrierBytesSent: number;
  carrierBytesReceived: number;
  framesSent: number;
  framesReceived: number;
  channelsOpened: number;
  channelsOpen: number;
  rttMs: number;
  /** stalls count how often sending stopped for lack of channel credit, session credit or carrier room. */
  stalls: { channelCredit: number; sessionCredit: number; carrier: number };
}

/** SessionEvents are the events a session emits. */
export interface SessionEvents {
  /** open: the peer asks for a channel; call channel.accept() or channel.reject(). */
  open: [channel: AnyChannel];
  /** goaway: the peer is draining; open new channels on another session. */
  goaway: [code: number, message: string];
  /** rtt: a heartbeat measured the round-trip time (milliseconds). */
  rtt: [ms: number];
  /** close: the session is over; emitted exactly once. */
  close: [end: SessionEnd];
}

/** CommonOptions apply to both ends. */
export interface CommonOptions {
  logger?: TunnelLogger;
  limits?: Partial<SessionLimits>;
  /** now is the clock in milliseconds (default performance.now). */
  now?: () => number;
}

/** ClientOptions configure the laptop end. */
export interface ClientOptions extends CommonOptions {
  token: string;
  clientId: string;
  clientName?: string;
  /** identity is the laptop session's key pair (identity.ts): sent in HELLO, it signs intercept registrations. */
  identity?: SessionIdentity;
  /** versions overrides the protocol versions offered (tests only). */
  versions?: { min: number; max: number };
}

/** GatewayOptions configure the gateway end of one session. */
export interface GatewayOptions extends CommonOptions {
  gatewayName: string;
  /** authenticate decides whether a HELLO may start a session: undefined = yes; a string = wrong token (UNAUTHENTICATED); an object = another GOAWAY code. */
  authenticate(hello: Hello): string | { code: number; message: string } | undefined;
  sessionId?: string;
}

/** HandshakeError is why a session could not be established. */
export class HandshakeError extends DevnetError {
  /** code is the GOAWAY code involved. */
  readonly code: number;

  constructor(code: number, message: string, hint?: string) {
    super(
      code === GoAwayCode.UNAUTHENTICATED || code === GoAwayCode.VERSION_MISMATCH ? 'config' : 'cluster',
      message,
      hint === undefined ? {} : { hint },
    );
    this.code = code;
  }
}

/** Frame types both ends receive after the handshake. */
const BOTH_RECEIVE = [
  FrameType.DATA,
  FrameType.WINDOW,
  FrameType.GOAWAY,
  FrameType.PING,
  FrameType.PONG,
  FrameType.OPEN,
  FrameType.OPEN_OK,
  FrameType.OPEN_REJECT,
  FrameType.CLOSE,
  FrameType.RESET,
];
const CLIENT_RECEIVES = new Set<number>([...BOTH_RECEIVE, FrameType.DNS_ANSWER, FrameType.INTERCEPT_ACK]);
const GATEWAY_RECEIVES = new Set<number>([
  ...BOTH_RECEIVE,
  FrameType.DNS_QUERY,
  FrameType.INTERCEPT_REGISTER,
  FrameType.INTERCEPT_UNREGISTER,
]);
const CLIENT_HANDSHAKE = new Set<number>([FrameType.WELCOME, FrameType.GOAWAY]);
const GATEWAY_HANDSHAKE = new Set<number>([FrameType.HELLO]);

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

interface PendingOpen {
  resolve(r: OpenResult): void;
  timer: NodeJS.Timeout;
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
  interceptHandler:
    | { register(r: InterceptRegister): InterceptDecision; unregister(id: string): InterceptDecision }
    | undefined;

  readonly #carrier: Duplex;
  readonly #log: TunnelLogger;
  readonly #now: () => number;
  readonly #reader: FrameReader;
  readonly #channels = new Map<number, AnyChannel>();
  readonly #pendingOpens = new Map<number, PendingOpen>();
  #state: 'handshake' | 'open' | 'closed' = 'handshake';
  #nextId: number;
  #peerMaxId = 0;
  #peerChannelWindow = 0;
  #sessionCredit = 0;
  #sessionRecvAvail: number;
  #sessionUnacked = 0;
  #ready: StreamChannel[] = [];
  #readyHead = 0;
  #pumping = false;
  #blockedOnSession = false;
  #awaitingDrain = false;
  #readPaused = false;
  #corked = false;
  #goAwaySent = false;
  #peerDraining = false;
  #drainWaiters: (() => void)[] = [];
  #pings = new Map<number, number>();
  #pingWaiters = new Map<number, { resolve(ms: number): void; reject(e: Error): void }>();
  #maxChannels: number;
  #nextPing = 1;
  #srtt = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #handshakeDone: ((err?: Error) => void) | undefined;
  #dnsPending = new Map<number, { resolve(a: DnsAnswer): void; timer: NodeJS.Timeout }>();
  #dnsInFlight = 0;
  #nextDns = 1;
  #interceptWaiters = new Map<string, ((d: InterceptDecision) => void)[]>();
  #interceptCount = 0;
  #datagramParts = new Map<number, Buffer[]>();
  #stats = { bytesSent: 0, bytesReceived: 0, carrierBytesSent: 0, carrierBytesReceived: 0, framesSent: 0 };
  #framesReceived = 0;
  #lastRx = 0;
  #stalls = { channelCredit: 0, sessionCredit: 0, carrier: 0 };
  #channelsOpened = 0;
  #endedWith: SessionEnd | undefined;
  #identity: SessionIdentity | undefined;

  /** Use connectSession / acceptSession; the constructor only wires the carrier. */
  constructor(carrier: Duplex, role: 'client' | 'gateway', opts: CommonOptions) {
    super();
    this.role = role;
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
    this.#carrier = carrier;
    this.#log = opts.logger ?? silent;
    this.#now = opts.now ?? (() => performance.now());
    this.#nextId = role === 'client' ? 1 : 2;
    this.#sessionRecvAvail = this.limits.sessionWindow;
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
        clearTimeout(this.#handshakeTimer);
        if (err) reject(err);
        else resolve(this);
      };
      this.#handshakeTimer = setTimeout(() => {
        const msg =
          this.role === 'client'
            ? `no answer from the gateway within ${this.limits.handshakeTimeoutMs} ms`
            : `no valid HELLO within ${this.limits.handshakeTimeoutMs} ms`;
        this.#fail(GoAwayCode.HANDSHAKE_TIMEOUT, msg, this.role === 'gateway');
      }, this.limits.handshakeTimeoutMs);
      if (this.role === 'client') {
        const o = opts as ClientOptions;
        this.#gatewayOpts = undefined;
        this.#identity = o.identity;
        this.#sendControl(FrameType.HELLO, 0, {
          minVersion: o.versions?.min ?? MIN_PROTOCOL_VERSION,
          maxVersion: o.versions?.max ?? PROTOCOL_VERSION,
          token: o.token,
          clientName: o.clientName ?? 'devnet',
          clientId: o.clientId,
          initialChannelWindow: this.limits.initialChannelWindow,
          initialSessionWindow: this.limits.sessionWindow,
          identityKey: o.identity?.publicKey ?? new Uint8Array(0),
        });
        this.#offered = { min: o.versions?.min ?? MIN_PROTOCOL_VERSION, max: o.versions?.max ?? PROTOCOL_VERSION };
      } else {
        this.#gatewayOpts = opts as GatewayOptions;
      }
      if (this.#state === 'closed') this.#handshakeDone?.(this.#handshakeError());
    });
  }

  #gatewayOpts: GatewayOptions | undefined;
  #offered = { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION };

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
    return this.#srtt;
  }

  /** channelCount is the number of channels not yet closed. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** stats returns the session's counters. */
  stats(): SessionStats {
    return {
      ...this.#stats,
      framesReceived: this.#framesReceived,
      channelsOpened: this.#channelsOpened,
      channelsOpen: this.#channels.size,
      rttMs: this.#srtt,
      stalls: { ...this.#stalls },
    };
  }

  // ---- public operations -------------------------------------------------

  /** open asks the peer for a channel; resolves with the channel (after OPEN_OK) or a typed refusal. */
  open(o: OpenOptions): Promise<OpenResult> {
    const fail = (reason: RejectReason, message: string): Promise<OpenResult> =>
      Promise.resolve({ ok: false, reason, message, byPeer: false });
    if (this.#state !== 'open') return fail('unreachable', 'the tunnel session is closed');
    if (this.#peerDraining) return fail('limit', 'the peer is draining (GOAWAY): open on a new session');
    if (this.#channels.size >= this.#maxChannels) return fail('limit', `too many channels (${this.#maxChannels})`);
    if (this.#nextId > 0xfffffffe) return fail('limit', 'channel ids exhausted: start a new session');
    const id = this.#nextId;
    this.#nextId += 2;
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
    this.#channels.set(id, ch);
    this.#sendControl(FrameType.OPEN, id, openFields(req));
    const wait = (req.timeoutMs || DEFAULT_DIAL_TIMEOUT_MS) + this.limits.openGraceMs;
    return new Promise<OpenResult>((resolve) => {
      const timer = setTimeout(() => {
        this.#pendingOpens.delete(id);
        ch.reset('timeout', 'no OPEN_OK or OPEN_REJECT in time');
        resolve({ ok: false, reason: 'timeout', message: `no answer to OPEN within ${wait} ms`, byPeer: false });
      }, wait);
      this.#pendingOpens.set(id, { resolve, timer });
    });
  }

  /** ping measures one round trip (milliseconds); rejects if the session closes first. */
  ping(): Promise<number> {
    if (this.#state !== 'open') return Promise.reject(new Error('the tunnel session is closed'));
    return new Promise((resolve, reject) => {
      const id = this.#sendPing();
      this.#pingWaiters.set(id, { resolve, reject });
    });
  }

  /** dnsQuery sends one DNS message (wire format) to the gateway and resolves with its answer. */
  dnsQuery(message: Uint8Array, opts: { useSearch?: boolean; timeoutMs?: number } = {}): Promise<DnsAnswer> {
    const fail = (error: DnsAnswer['error'], errorMessage: string): Promise<DnsAnswer> =>
      Promise.resolve({ id: 0, message: new Uint8Array(0), error, errorMessage, resolvedName: '' });
    if (this.role !== 'client') return fail('unavailable', 'only the client end sends DNS queries');
    if (this.#state !== 'open') return fail('unavailable', 'the tunnel session is closed');
    if (this.#dnsPending.size >= this.limits.maxDnsInFlight)
      return fail('limit', `too many DNS queries in flight (${this.limits.maxDnsInFlight})`);
    if (message.byteLength + 64 > this.limits.maxControlPayload) return fail('malformed', 'DNS message too large');
    const id = this.#nextDns;
    this.#nextDns = (this.#nextDns % 0xfffffffe) + 1;
    const timeoutMs = opts.timeoutMs ?? 5000;
    this.#sendControl(FrameType.DNS_QUERY, 0, { id, message, useSearch: opts.useSearch ?? false, timeoutMs });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#dnsPending.delete(id);
        resolve({ id, message: new Uint8Array(0), error: 'timeout', errorMessage: 'no DNS answer', resolvedName: '' });
      }, timeoutMs + this.limits.openGraceMs);
      this.#dnsPending.set(id, { resolve, timer });
    });
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
    if (this.#channels.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref?.();
        this.#drainWaiters.push(() => {
          clearTimeout(timer);
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
    if (!ch.scheduled) {
      ch.scheduled = true;
      this.#ready.push(ch);
    }
    if (!this.#pumping) this.#pump();
  }

  /** sendDatagram frames one datagram (internal). */
  sendDatagram(ch: DatagramChannelT, payload: Uint8Array): boolean {
    if (this.#state !== 'open' || payload.byteLength > this.limits.maxDataPayload) return false;
    if (payload.byteLength > this.#sessionCredit) return false;
    ch.sendCredit -= payload.byteLength;
    this.#sessionCredit -= payload.byteLength;
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
    if (ch.remoteEnded || this.#state !== 'open') return;
    ch.recvUnacked += n;
    if (ch.recvUnacked < ch.recvWindow >>> 2) return;
    const now = this.#now();
    let grow = 0;
    // Auto-tuning (RTT × rate): a quarter of the window was consumed in less
    // than two RTTs, so the window is below ~8× the bandwidth-delay product,
    // too little to keep the sender busy while grants travel and queue:
    // double it, up to maxChannelWindow. The RTT used is at least
    // MIN_TUNING_RTT_MS: a heartbeat taken while idle understates the delay a
    // grant meets under load (queues in the carrier and socket buffers).
    const rtt = Math.max(this.#srtt, MIN_TUNING_RTT_MS);
    if (this.#srtt > 0 && now - ch.lastGrantAt < 2 * rtt && ch.recvWindow < this.limits.maxChannelWindow) {
      grow = Math.min(ch.recvWindow, this.limits.maxChannelWindow - ch.recvWindow);
      ch.recvWindow += grow;
    }
    const inc = ch.recvUnacked + grow;
    ch.recvUnacked = 0;
    ch.recvAvail += inc;
    ch.lastGrantAt = now;
    this.#write(encodeWindow(ch.id, inc));
  }

  /** accept sends OPEN_OK for a peer's channel (internal). */
  accept(ch: Channel): void {
    if (this.#state !== 'open') return;
    ch.state = 'open';
    ch.sendCredit = this.#peerChannelWindow;
    ch.lastGrantAt = this.#now();
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
    if (this.#channels.get(ch.id) !== ch) return;
    this.#channels.delete(ch.id);
    this.#datagramParts.delete(ch.id);
    // Whatever the peer had in flight toward this channel is dropped on
    // arrival and returned to the session window then (see #onData).
    const pending = this.#pendingOpens.get(ch.id);
    if (pending) {
      this.#pendingOpens.delete(ch.id);
      clearTimeout(pending.timer);
      const end = ch.endedWith;
      pending.resolve({
        ok: false,
        reason: 'unreachable',
        message: end && 'message' in end ? end.message : 'channel closed',
        byPeer: false,
      });
    }
    if (this.#channels.size === 0 && this.#drainWaiters.length > 0) {
      const ws = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of ws) w();
    }
  }

  // ---- sending ------------------------------------------------------------

  #uncork = (): void => {
    this.#corked = false;
    this.#carrier.uncork();
  };

  #write(buf: Buffer | Uint8Array) {
    if (this.#carrier.destroyed || this.#carrier.writableEnded) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#carrier.cork();
      process.nextTick(this.#uncork);
    }
    this.#stats.carrierBytesSent += buf.byteLength;
    this.#stats.framesSent++;
    this.#carrier.write(buf);
  }

  #writeData(ch: Channel, payload: Uint8Array) {
    if (this.#carrier.destroyed || this.#carrier.writableEnded) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#carrier.cork();
      process.nextTick(this.#uncork);
    }
    this.#carrier.write(encodeHeader(FrameType.DATA, 0, ch.id, payload.byteLength));
    this.#carrier.write(payload);
    this.#stats.framesSent++;
    this.#stats.carrierBytesSent += payload.byteLength + 12;
    this.#stats.bytesSent += payload.byteLength;
    ch.bytesSent += payload.byteLength;
  }

  #sendControl(type: number, channel: number, fields: Record<string, unknown>) {
    this.#write(encodeControl(type, channel, encodeMessage(type, fields)));
  }

  #carrierFull(): boolean {
    return this.#carrier.writableLength >= Math.max(this.limits.carrierHighWater, this.#carrier.writableHighWaterMark);
  }

  #onCarrierDrain = (): void => {
    if (this.#readPaused && this.#carrier.writableLength < this.limits.carrierHardLimit) {
      this.#readPaused = false;
      this.#carrier.resume();
    }
    if (this.#awaitingDrain) {
      this.#awaitingDrain = false;
      this.#pump();
    }
  };

  /** #pump sends DATA round-robin, one frame per channel per turn, while credit and carrier room last. */
  #pump() {
    if (this.#state !== 'open' || this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#readyHead < this.#ready.length) {
        if (this.#carrierFull()) {
          this.#stalls.carrier++;
          this.#awaitingDrain = true;
          break;
        }
        const ch = this.#ready[this.#readyHead]!;
        if (ch.state !== 'open') {
          this.#unschedule(ch);
          continue;
        }
        if (ch.queuedBytes === 0) {
          this.#unschedule(ch);
          if (ch.closeQueued) {
            ch.closeQueued = false;
            this.sendClose(ch);
          }
          if (ch.needDrain && ch.state === 'open') {
            ch.needDrain = false;
            ch.emit('drain');
          }
          continue;
        }
        if (ch.sendCredit === 0) {
          this.#stalls.channelCredit++;
          this.#unschedule(ch); // a WINDOW for this channel schedules it again
          continue;
        }
        if (this.#sessionCredit === 0) {
          this.#stalls.sessionCredit++;
          this.#blockedOnSession = true; // a session WINDOW restarts the pump
          break;
        }
        const first = ch.queue[0]!;
        const n = Math.min(first.length, ch.sendCredit, this.#sessionCredit, this.limits.maxDataPayload);
        if (n === first.length) ch.queue.shift();
        else ch.queue[0] = first.subarray(n);
        ch.queuedBytes -= n;
        ch.sendCredit -= n;
        this.#sessionCredit -= n;
        this.#writeData(ch, n === first.length ? first : first.subarray(0, n));
        // Round robin: move on to the next channel if others wait.
        if (this.#ready.length - this.#readyHead > 1) {
          this.#readyHead++;
          this.#ready.push(ch);
        }
      }
    } finally {
      this.#pumping = false;
      this.#compactReady();
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

  #releaseSession(n: number) {
    this.#sessionUnacked += n;
    if (this.#state !== 'open' || this.#sessionUnacked < this.limits.sessionWindow >>> 2) return;
    const inc = this.#sessionUnacked;
    this.#sessionUnacked = 0;
    this.#sessionRecvAvail += inc;
    this.#write(encodeWindow(0, inc));
  }

  #sendPing(): number {
    const id = this.#nextPing;
    this.#nextPing = (this.#nextPing % 0xfffffffe) + 1;
    this.#pings.set(id, this.#now());
    this.#sendControl(FrameType.PING, 0, { id });
    return id;
  }

  #startHeartbeat() {
    this.#sendPing(); // measure the RTT at once: window auto-tuning needs it
    this.#heartbeat = setInterval(() => {
      const now = this.#now();
      // Dead = our oldest PING is unanswered past the deadline AND nothing at
      // all arrived for that long. A PONG held up behind our own queued DATA
      // on a slow link does not count while the peer's frames (its PINGs,
      // WINDOWs) still arrive; if only our direction is black-holed, the peer
      // hears nothing from us and ends the session from its side.
      const silentFor = now - this.#lastRx;
      for (const sentAt of this.#pings.values()) {
        if (now - sentAt > this.limits.pingTimeoutMs && silentFor > this.limits.pingTimeoutMs) {
          this.#end({
            reason: 'heartbeat',
            message: `no PONG for ${Math.round(now - sentAt)} ms and nothing received for ${Math.round(silentFor)} ms (deadline ${this.limits.pingTimeoutMs} ms): the tunnel stream is dead`,
          });
          return;
        }
        break; // the map is in send order: the oldest decides
      }
      this.#sendPing();
    }, this.limits.pingIntervalMs);
  }

  // ---- receiving ----------------------------------------------------------

  #onCarrierData = (chunk: Buffer | string): void => {
    if (this.#state === 'closed') return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#stats.carrierBytesReceived += buf.length;
    this.#lastRx = this.#now();
    try {
      this.#reader.push(buf);
    } catch (err) {
      // A listener threw while handling a frame: that is a bug on this side.
      this.#log.error({ err }, 'tunnel: error while handling a frame');
      this.#fail(GoAwayCode.INTERNAL_ERROR, `internal error: ${(err as Error).message}`, true);
      return;
    }
    if (!this.#readPaused && this.#carrier.writableLength >= this.limits.carrierHardLimit) {
      // The peer makes us answer faster than it reads: stop reading until it catches up.
      this.#readPaused = true;
      this.#carrier.pause();
    }
  };

  #onData(id: number, piece: Buffer, last: boolean) {
    if (last) this.#framesReceived++;
    const n = piece.length;
    this.#sessionRecvAvail -= n;
    if (this.#sessionRecvAvail < 0) {
      return this.#fail(GoAwayCode.FLOW_CONTROL, 'the peer sent beyond the session window', true);
    }
    const ch = this.#channels.get(id);
    if (!ch || ch.state === 'closed') {
      if (!this.#knownId(id)) return this.#protocolError(`DATA on channel ${id}, which was never opened`);
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
    this.#stats.bytesReceived += n;
    if (ch instanceof StreamChannel) {
      if (n === 0) return;
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
    const size = dgram.length;
    ch.emit('data', dgram);
    this.releaseChannel(ch, size); // datagrams are consumed on delivery
  }

  #onWindow(id: number, inc: number) {
    this.#framesReceived++;
    if (id === 0) {
      this.#sessionCredit += inc;
      if (this.#sessionCredit > 0xffffffff) return this.#fail(GoAwayCode.FLOW_CONTROL, 'session credit overflow', true);
      if (this.#blockedOnSession) {
        this.#blockedOnSession = false;
        this.#pump();
      }
      return;
    }
    const ch = this.#channels.get(id);
    if (!ch) {
      if (!this.#knownId(id)) this.#protocolError(`WINDOW on channel ${id}, which was never opened`);
      return;
    }
    ch.sendCredit += inc;
    if (ch.sendCredit > 0xffffffff) return ch.reset('flow-control', 'channel credit overflow');
    if (ch instanceof StreamChannel && ch.queuedBytes > 0) this.schedule(ch);
    if (ch.state === 'open') ch.emit('credit');
  }

  /** #knownId says whether a channel id was ever opened in this session (by either end). */
  #knownId(id: number): boolean {
    const ours = (id & 1) === (this.role === 'client' ? 1 : 0);
    return ours ? id < this.#nextId : id <= this.#peerMaxId;
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
        const ch = this.#channels.get(id);
        if (!ch) return this.#knownId(id) ? undefined : this.#protocolError(`RESET on unknown channel ${id}`);
        const r = toReset(msg);
        return ch.finish({ kind: 'reset', by: 'peer', code: r.code, message: r.message });
      }
      case FrameType.DNS_QUERY:
        return this.#onDnsQuery(toDnsQuery(msg));
      case FrameType.DNS_ANSWER: {
        const a = toDnsAnswer(msg);
        const p = this.#dnsPending.get(a.id);
        if (!p) return; // answered after our local timeout
        this.#dnsPending.delete(a.id);
        clearTimeout(p.timer);
        return p.resolve(a);
      }
      case FrameType.INTERCEPT_REGISTER:
      case FrameType.INTERCEPT_UNREGISTER:
        return this.#onInterceptRequest(type, msg);
      case FrameType.INTERCEPT_ACK: {
        const a = toInterceptAck(msg);
        const ws = this.#interceptWaiters.get(a.interceptId);
        const w = ws?.shift();
        if (ws && ws.length === 0) this.#interceptWaiters.delete(a.interceptId);
        return w?.({ ok: a.ok, message: a.message });
      }
    }
  }

  #onHandshakeFrame(type: number, msg: Record<string, unknown>) {
    if (type === FrameType.HELLO) {
      const hello = toHello(msg);
      const opts = this.#gatewayOpts;
      if (!opts) return this.#fail(GoAwayCode.INTERNAL_ERROR, 'HELLO before the handshake started', true);
      const version = negotiateVersion(hello.minVersion, hello.maxVersion);
      if (version === undefined) {
        return this.#fail(
          GoAwayCode.VERSION_MISMATCH,
          `protocol version mismatch: the client speaks ${hello.minVersion}..${hello.maxVersion}, this gateway speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
          true,
        );
      }
      if (hello.initialChannelWindow === 0 || hello.initialSessionWindow === 0)
        return this.#fail(GoAwayCode.PROTOCOL_ERROR, 'HELLO announces a zero receive window', true);
      const refusal = opts.authenticate(hello);
      if (typeof refusal === 'string') return this.#fail(GoAwayCode.UNAUTHENTICATED, refusal, true);
      if (refusal !== undefined) return this.#fail(refusal.code, refusal.message, true);
      this.version = version;
      this.id = opts.sessionId ?? randomUUID();
      this.peer = { name: hello.clientName, clientId: hello.clientId, identityKey: hello.identityKey };
      this.challenge = randomBytes(CHALLENGE_BYTES);
      this.#peerChannelWindow = hello.initialChannelWindow;
      this.#sessionCredit = hello.initialSessionWindow;
      this.#sendControl(FrameType.WELCOME, 0, {
        version,
        gatewayName: opts.gatewayName,
        sessionId: this.id,
        initialChannelWindow: this.limits.initialChannelWindow,
        initialSessionWindow: this.limits.sessionWindow,
        maxChannels: this.limits.maxChannels,
        challenge: this.challenge,
      } satisfies Welcome);
      return this.#established();
    }
    if (type === FrameType.WELCOME) {
      const w = toWelcome(msg);
      if (w.version < this.#offered.min || w.version > this.#offered.max)
        return this.#fail(GoAwayCode.VERSION_MISMATCH, `the gateway chose protocol version ${w.version}`, true);
      if (w.initialChannelWindow === 0 || w.initialSessionWindow === 0)
        return this.#fail(GoAwayCode.PROTOCOL_ERROR, 'WELCOME announces a zero receive window', true);
      this.version = w.version;
      this.id = w.sessionId;
      this.peer = { name: w.gatewayName, clientId: '', identityKey: new Uint8Array(0) };
      this.challenge = w.challenge;
      this.#peerChannelWindow = w.initialChannelWindow;
      this.#sessionCredit = w.initialSessionWindow;
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
    const sentAt = this.#pings.get(id);
    if (sentAt === undefined) return;
    this.#pings.delete(id);
    const sample = Math.max(0.001, this.#now() - sentAt);
    this.#srtt = this.#srtt === 0 ? sample : this.#srtt * 0.875 + sample * 0.125; // RFC 6298 §2 smoothing
    this.emit('rtt', sample);
    const w = this.#pingWaiters.get(id);
    if (w) {
      this.#pingWaiters.delete(id);
      w.resolve(sample);
    }
  }

  #onOpen(id: number, msg: Record<string, unknown>) {
    const peerParity = this.role === 'client' ? 0 : 1;
    if ((id & 1) !== peerParity || id <= this.#peerMaxId)
      return this.#protocolError(`OPEN with channel id ${id}, which the peer may not use now`);
    this.#peerMaxId = id;
    const req = toOpen(msg);
    const refuse = (reason: RejectReason, message: string): void =>
      this.#sendControl(FrameType.OPEN_REJECT, id, rejectFields({ reason, message }));
    if (!req) return refuse('invalid', 'unknown channel protocol');
    if (this.#goAwaySent) return refuse('limit', 'this end is draining (GOAWAY sent)');
    if (this.#channels.size >= this.limits.maxChannels)
      return refuse('limit', `too many channels in this session (${this.limits.maxChannels})`);
    if (this.listenerCount('open') === 0) return refuse('forbidden', 'this end accepts no channels');
    const ch = this.#newChannel(id, req, 'pending');
    this.#channels.set(id, ch);
    this.emit('open', ch);
  }

  #onOpenAnswer(type: number, id: number, msg: Record<string, unknown>) {
    const ch = this.#channels.get(id);
    if (ch?.state !== 'opening') {
      if (ch || !this.#knownId(id) || (id & 1) !== (this.role === 'client' ? 1 : 0))
        return this.#protocolError(`${frameTypeName(type)} for channel ${id}, which is not opening`);
      return; // we gave up on it already
    }
    const pending = this.#pendingOpens.get(id);
    this.#pendingOpens.delete(id);
    if (pending) clearTimeout(pending.timer);
    if (type === FrameType.OPEN_OK) {
      ch.state = 'open';
      ch.sendCredit = this.#peerChannelWindow;
      ch.lastGrantAt = this.#now();
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
    const ch = this.#channels.get(id);
    if (!ch) return this.#knownId(id) ? undefined : this.#protocolError(`CLOSE on unknown channel ${id}`);
    if (ch.state !== 'open' || ch.remoteEnded) return ch.reset('protocol-error', 'unexpected CLOSE');
    ch.remoteEnded = true;
    ch.emit('end');
    if (ch.state !== 'open') return;
    const closeSent = ch.localEnded && !(ch instanceof StreamChannel && (ch.closeQueued || ch.queuedBytes > 0));
    if (closeSent) ch.finish({ kind: 'closed' });
  }

  #onDnsQuery(q: DnsQuery) {
    const answer = (a: DnsAnswerInit): void => {
      if (this.#state === 'open') this.#sendControl(FrameType.DNS_ANSWER, 0, dnsAnswerFields({ ...a, id: q.id }));
    };
    const handler = this.dnsHandler;
    if (!handler)
      return answer({
        message: new Uint8Array(0),
        error: 'unavailable',
        errorMessage: 'no resolver',
        resolvedName: '',
      });
    if (this.#dnsInFlight >= this.limits.maxDnsInFlight) {
      return answer({
        message: new Uint8Array(0),
        error: 'limit',
        errorMessage: `too many DNS queries in flight (${this.limits.maxDnsInFlight})`,
        resolvedName: '',
      });
    }
    this.#dnsInFlight++;
    handler(q)
      .then(answer, (err: Error) =>
        answer({ message: new Uint8Array(0), error: 'unavailable', errorMessage: err.message, resolvedName: '' }),
      )
      .finally(() => {
        this.#dnsInFlight--;
      });
  }

  #onInterceptRequest(type: number, msg: Record<string, unknown>) {
    const r = toInterceptRegister(msg);
    const h = this.interceptHandler;
    let d: InterceptDecision;
    if (!h) d = { ok: false, message: 'this gateway does not serve intercepts' };
    else if (type === FrameType.INTERCEPT_UNREGISTER) {
      d = h.unregister(r.interceptId);
      if (d.ok) this.#interceptCount = Math.max(0, this.#interceptCount - 1);
    } else if (this.#interceptCount >= this.limits.maxIntercepts) {
      d = { ok: false, message: `too many intercepts in this session (${this.limits.maxIntercepts})` };
    } else {
      d = h.register(r);
      if (d.ok) this.#interceptCount++;
    }
    this.#sendControl(FrameType.INTERCEPT_ACK, 0, { interceptId: r.interceptId, ok: d.ok, message: d.message });
  }

  #interceptRequest(type: number, interceptId: string, fields: Record<string, unknown>): Promise<InterceptDecision> {
    if (this.role !== 'client' || this.#state !== 'open')
      return Promise.resolve({ ok: false, message: 'the tunnel session is not open' });
    this.#sendControl(type, 0, fields);
    return new Promise((resolve) => {
      const ws = this.#interceptWaiters.get(interceptId) ?? [];
      ws.push(resolve);
      this.#interceptWaiters.set(interceptId, ws);
    });
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

  #handshakeError(): HandshakeError {
    const e = this.#endedWith;
    const code = e?.code ?? GoAwayCode.PROTOCOL_ERROR;
    const hint =
      code === GoAwayCode.UNAUTHENTICATED
        ? 'the session token does not match the gateway Secret: run `devnet gateway install` again'
        : code === GoAwayCode.VERSION_MISMATCH
          ? 'devnet and the gateway are different versions: run `devnet gateway install` to upgrade the gateway'
          : undefined;
    return new HandshakeError(code, e?.message ?? 'the handshake failed', hint);
  }

  #end(end: SessionEnd, goAway?: { code: number; message: string }) {
    if (this.#state === 'closed') return;
    const wasHandshake = this.#state === 'handshake';
    this.#state = 'closed';
    this.#endedWith = end;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#handshakeTimer);
    const level =
      end.reason === 'closed' || end.reason === 'carrier-closed' || end.reason === 'handshake' ? 'debug' : 'warn';
    this.#log[level]({ sessionId: this.id, role: this.role, ...end }, `tunnel session ended: ${end.message}`);
    const c = this.#carrier;
    if (goAway && !c.destroyed && !c.writableEnded) {
      this.#write(encodeControl(FrameType.GOAWAY, 0, encodeMessage(FrameType.GOAWAY, goAway)));
      c.end();
      const t = setTimeout(() => c.destroy(), 2000);
      t.unref?.();
    } else {
      c.destroy();
    }
    for (const ch of [...this.#channels.values()]) ch.finish({ kind: 'session', message: end.message });
    for (const [, p] of this.#pendingOpens) clearTimeout(p.timer);
    this.#pendingOpens.clear();
    for (const [id, p] of this.#dnsPending) {
      clearTimeout(p.timer);
      p.resolve({ id, message: new Uint8Array(0), error: 'unavailable', errorMessage: end.message, resolvedName: '' });
    }
    this.#dnsPending.clear();
    for (const ws of this.#interceptWaiters.values()) for (const w of ws) w({ ok: false, message: end.message });
    this.#interceptWaiters.clear();
    for (const w of this.#pingWaiters.values()) w.reject(new Error(end.message));
    this.#pingWaiters.clear();
    for (const w of this.#drainWaiters) w();
    this.#drainWaiters = [];
    if (wasHandshake) this.#handshakeDone?.(this.#handshakeError());
    this.emit('close', end);
  }
}
