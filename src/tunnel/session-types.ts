// The shapes a session shows its users: options, events, results, ends,
// counters and read-only table views (docs/protocol.md, "The API other
// components use").
import type { AnyChannel } from './channel.ts';
import type { ChannelTableView } from './channel-table.ts';
import type { Clock } from './clock.ts';
import type { RejectReason } from './control.ts';
import type { ReceiveWindowView } from './credit.ts';
import type { Authenticate, VersionRange } from './handshake.ts';
import type { SessionIdentity } from './identity.ts';
import type { SessionLimits } from './limits.ts';
import type { Stalls } from './scheduler.ts';

/** TunnelLogger is the slice of a pino logger the tunnel uses. */
export interface TunnelLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** silentLogger logs nothing. */
export const silentLogger: TunnelLogger = { debug() {}, info() {}, warn() {}, error() {} };

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
  stalls: Stalls;
}

/** SessionTables is a read-only snapshot of a session's live tables (for status, soak and regression tests). */
export interface SessionTables extends ChannelTableView {
  /** sendCredit is the session credit the peer granted and we have not used. */
  sendCredit: number;
  /** receive is the session receive window this end granted. */
  receive: ReceiveWindowView;
  /** pings are the ids of PINGs awaiting a PONG. */
  pings: number[];
  /** dnsQueries is the number of DNS queries awaiting an answer (client). */
  dnsQueries: number;
  /** interceptRequests is the number of intercept requests awaiting an answer (client). */
  interceptRequests: number;
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
  /** clock supplies time and timers (default the real clock; tests pass a FakeClock). */
  clock?: Clock;
}

/** ClientOptions configure the laptop end. */
export interface ClientOptions extends CommonOptions {
  token: string;
  clientId: string;
  clientName?: string;
  /** identity is the laptop session's key pair (identity.ts): sent in HELLO, it signs intercept registrations. */
  identity?: SessionIdentity;
  /** versions overrides the protocol versions offered (tests only). */
  versions?: VersionRange;
}

/** GatewayOptions configure the gateway end of one session. */
export interface GatewayOptions extends CommonOptions {
  gatewayName: string;
  /** authenticate decides whether a HELLO may start a session: undefined = yes; a string = wrong token (UNAUTHENTICATED); an object = another GOAWAY code. */
  authenticate: Authenticate;
  sessionId?: string;
}
