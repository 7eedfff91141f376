// Control messages: protobuf (tunnel.proto, via protobufjs) for every frame
// type except DATA and WINDOW. Decoding never throws: bad bytes give undefined.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { FrameType } from './frame.ts';

/** Protocol codes for channels (tunnel.proto `Protocol`). */
export const ChannelProtocol = { TCP: 1, UDP: 2, ICMP: 3 } as const;
/** ChannelProtocolName is the name of a channel protocol. */
export type ChannelProtocolName = 'tcp' | 'udp' | 'icmp';

/** GoAwayCode mirrors tunnel.proto `GoAwayCode`. */
export const GoAwayCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  VERSION_MISMATCH: 2,
  UNAUTHENTICATED: 3,
  LIMIT: 4,
  SHUTTING_DOWN: 5,
  FLOW_CONTROL: 6,
  INTERNAL_ERROR: 7,
  HANDSHAKE_TIMEOUT: 8,
} as const;

/** RejectReason mirrors tunnel.proto `RejectReason`, by name. */
export type RejectReason = 'refused' | 'unreachable' | 'timeout' | 'forbidden' | 'limit' | 'invalid';
const REJECT_CODES: Record<RejectReason, number> = {
  refused: 1,
  unreachable: 2,
  timeout: 3,
  forbidden: 4,
  limit: 5,
  invalid: 6,
};

/** ResetCode mirrors tunnel.proto `ResetCode`, by name. */
export type ResetCode = 'cancel' | 'connection-reset' | 'protocol-error' | 'flow-control' | 'timeout' | 'internal';
const RESET_CODES: Record<ResetCode, number> = {
  cancel: 1,
  'connection-reset': 2,
  'protocol-error': 3,
  'flow-control': 4,
  timeout: 5,
  internal: 6,
};

/** DnsErrorName mirrors tunnel.proto `DnsError`, by name. */
export type DnsErrorName = 'ok' | 'malformed' | 'timeout' | 'unavailable' | 'limit';
const DNS_ERRORS: Record<DnsErrorName, number> = { ok: 0, malformed: 1, timeout: 2, unavailable: 3, limit: 4 };

function invert<K extends string>(m: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
}
const REJECT_NAMES = invert(REJECT_CODES);
const RESET_NAMES = invert(RESET_CODES);
const DNS_ERROR_NAMES = invert(DNS_ERRORS);
const PROTOCOL_NAMES = new Map<number, ChannelProtocolName>([
  [1, 'tcp'],
  [2, 'udp'],
  [3, 'icmp'],
]);

/** Hello is the client's first message. */
export interface Hello {
  minVersion: number;
  maxVersion: number;
  token: string;
  clientName: string;
  clientId: string;
  initialChannelWindow: number;
  initialSessionWindow: number;
  /** identityKey is the session's raw Ed25519 public key, or empty (identity.ts). */
  identityKey: Uint8Array;
}
/** Welcome accepts a session. */
export interface Welcome {
  version: number;
  gatewayName: string;
  sessionId: string;
  initialChannelWindow: number;
  initialSessionWindow: number;
  maxChannels: number;
  /** challenge is what this session's registration proofs sign. */
  challenge: Uint8Array;
}
/** GoAway ends a session (or starts draining it). */
export interface GoAway {
  code: number;
  message: string;
}
/** OpenRequest asks for a channel. */
export interface OpenRequest {
  protocol: ChannelProtocolName;
  host: string;
  port: number;
  timeoutMs: number;
  interceptId: string;
  sourceHost: string;
  sourcePort: number;
  /** ownerKey: on an intercept pod's channel, the key id of the intercept's owner as recorded on its Service. */
  ownerKey?: string;
}
/** OpenOk accepts a channel. */
export interface OpenOk {
  localHost: string;
  localPort: number;
}
/** OpenReject refuses a channel. */
export interface OpenReject {
  reason: RejectReason;
  message: string;
}
/** Reset aborts a channel. */
export interface Reset {
  code: ResetCode;
  message: string;
}
/** DnsQuery asks the gateway to resolve a DNS message. */
export interface DnsQuery {
  id: number;
  message: Uint8Array;
  useSearch: boolean;
  timeoutMs: number;
}
/** DnsAnswer answers a DnsQuery. */
export interface DnsAnswer {
  id: number;
  message: Uint8Array;
  error: DnsErrorName;
  errorMessage: string;
  resolvedName: string;
}
/** InterceptRegister asks the gateway to send connections for ports up this session. */
export interface InterceptRegister {
  interceptId: string;
  ports: number[];
  /** proof signs the session's challenge and the intercept id with the session's identity key. */
  proof: Uint8Array;
}
/** InterceptAck answers a registration or unregistration. */
export interface InterceptAck {
  interceptId: string;
  ok: boolean;
  message: string;
}

// tunnel.proto sits beside this module: in src/ and, copied by `npm run build` / prepack, in dist/.
const root = protobuf.parse(readFileSync(new URL('./tunnel.proto', import.meta.url), 'utf8')).root;
const T = (name: string): protobuf.Type => root.lookupType(`devnet.tunnel.v1.${name}`);

/** MESSAGE_OF maps each control frame type to its protobuf message type. */
const MESSAGE_OF = new Map<number, protobuf.Type>([
  [FrameType.HELLO, T('Hello')],
  [FrameType.WELCOME, T('Welcome')],
  [FrameType.GOAWAY, T('GoAway')],
  [FrameType.PING, T('Ping')],
  [FrameType.PONG, T('Pong')],
  [FrameType.OPEN, T('Open')],
  [FrameType.OPEN_OK, T('OpenOk')],
  [FrameType.OPEN_REJECT, T('OpenReject')],
  [FrameType.CLOSE, T('Close')],
  [FrameType.RESET, T('Reset')],
  [FrameType.DNS_QUERY, T('DnsQuery')],
  [FrameType.DNS_ANSWER, T('DnsAnswer')],
  [FrameType.INTERCEPT_REGISTER, T('InterceptRegister')],
  [FrameType.INTERCEPT_ACK, T('InterceptAck')],
  [FrameType.INTERCEPT_UNREGISTER, T('InterceptUnregister')],
]);

/** encodeMessage encodes the protobuf payload of a control frame type from a plain object. */
export function encodeMessage(type: number, fields: Record<string, unknown>): Uint8Array {
  const t = MESSAGE_OF.get(type);
  if (!t) throw new Error(`frame type ${type} has no control message`);
  return t.encode(t.fromObject(fields)).finish();
}

/** decodeMessage decodes a control payload into a plain object (defaults filled), or undefined if malformed. */
export function decodeMessage(type: number, payload: Uint8Array): Record<string, unknown> | undefined {
  const t = MESSAGE_OF.get(type);
  if (!t) return undefined;
  try {
    return t.toObject(t.decode(payload), { defaults: true, longs: Number, enums: Number, bytes: Buffer });
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bytes = (v: unknown): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(0));
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** toHello validates a decoded HELLO. */
export function toHello(o: Record<string, unknown>): Hello {
  return {
    minVersion: num(o.minVersion),
    maxVersion: num(o.maxVersion),
    token: str(o.token),
    clientName: str(o.clientName),
    clientId: str(o.clientId),
    initialChannelWindow: num(o.initialChannelWindow),
    initialSessionWindow: num(o.initialSessionWindow),
    identityKey: bytes(o.identityKey),
  };
}

/** toWelcome validates a decoded WELCOME. */
export function toWelcome(o: Record<string, unknown>): Welcome {
  return {
    version: num(o.version),
    gatewayName: str(o.gatewayName),
    sessionId: str(o.sessionId),
    initialChannelWindow: num(o.initialChannelWindow),
    initialSessionWindow: num(o.initialSessionWindow),
    maxChannels: num(o.maxChannels),
    challenge: bytes(o.challenge),
  };
}

/** toOpen validates a decoded OPEN; undefined when the protocol is unknown. */
export function toOpen(o: Record<string, unknown>): OpenRequest | undefined {
  const protocol = PROTOCOL_NAMES.get(num(o.protocol));
  if (!protocol) return undefined;
  return {
    protocol,
    host: str(o.host),
    port: num(o.port),
    timeoutMs: num(o.timeoutMs),
    interceptId: str(o.interceptId),
    sourceHost: str(o.sourceHost),
    sourcePort: num(o.sourcePort),
    ownerKey: str(o.ownerKey),
  };
}

/** openFields turns an OpenRequest into protobuf fields. */
export function openFields(r: OpenRequest): Record<string, unknown> {
  return { ...r, protocol: ChannelProtocol[r.protocol.toUpperCase() as 'TCP' | 'UDP' | 'ICMP'] };
}

/** toReject validates a decoded OPEN_REJECT (unknown reasons read as 'unreachable'). */
export function toReject(o: Record<string, unknown>): OpenReject {
  return { reason: REJECT_NAMES.get(num(o.reason)) ?? 'unreachable', message: str(o.message) };
}

/** rejectFields turns an OpenReject into protobuf fields. */
export function rejectFields(r: OpenReject): Record<string, unknown> {
  return { reason: REJECT_CODES[r.reason], message: r.message };
}

/** toReset validates a decoded RESET (unknown codes read as 'internal'). */
export function toReset(o: Record<string, unknown>): Reset {
  return { code: RESET_NAMES.get(num(o.code)) ?? 'internal', message: str(o.message) };
}

/** resetFields turns a Reset into protobuf fields. */
export function resetFields(r: Reset): Record<string, unknown> {
  return { code: RESET_CODES[r.code], message: r.message };
}

/** toDnsQuery validates a decoded DNS_QUERY. */
export function toDnsQuery(o: Record<string, unknown>): DnsQuery {
  return {
    id: num(o.id),
    message: o.message instanceof Uint8Array ? o.message : new Uint8Array(0),
    useSearch: o.useSearch === true,
    timeoutMs: num(o.timeoutMs),
  };
}

/** toDnsAnswer validates a decoded DNS_ANSWER. */
export function toDnsAnswer(o: Record<string, unknown>): DnsAnswer {
  return {
    id: num(o.id),
    message: o.message instanceof Uint8Array ? o.message : new Uint8Array(0),
    error: DNS_ERROR_NAMES.get(num(o.error)) ?? 'unavailable',
    errorMessage: str(o.errorMessage),
    resolvedName: str(o.resolvedName),
  };
}

/** dnsAnswerFields turns a DnsAnswer into protobuf fields. */
export function dnsAnswerFields(a: DnsAnswer): Record<string, unknown> {
  return { ...a, error: DNS_ERRORS[a.error] };
}

/** toInterceptRegister validates a decoded INTERCEPT_REGISTER. */
export function toInterceptRegister(o: Record<string, unknown>): InterceptRegister {
  const ports = Array.isArray(o.ports) ? o.ports.filter((p): p is number => typeof p === 'number') : [];
  return { interceptId: str(o.interceptId), ports, proof: bytes(o.proof) };
}

/** toInterceptAck validates a decoded INTERCEPT_ACK. */
export function toInterceptAck(o: Record<string, unknown>): InterceptAck {
  return { interceptId: str(o.interceptId), ok: o.ok === true, message: str(o.message) };
}

/** goAwayName returns the name of a GOAWAY code. */
export function goAwayName(code: number): string {
  for (const [k, v] of Object.entries(GoAwayCode)) if (v === code) return k;
  return `CODE_${code}`;
}

/** numberField and stringField read a decoded field, defaulting wrong types to 0 and the empty string. */
export { num as numberField, str as stringField };
