// The handshake (docs/protocol.md, "The handshake: HELLO, WELCOME"): what the
// client offers, how the gateway judges a HELLO and the client a WELCOME, and
// the error a refused handshake becomes. Pure: no I/O, no clock.
import { DevnetError } from '../errors.ts';
import { GoAwayCode, type Hello, type Welcome } from './control.ts';
import { FrameType } from './frame.ts';
import type { SessionLimits } from './limits.ts';
import { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from './version.ts';

/** VersionRange is the protocol versions one end speaks. */
export interface VersionRange {
  min: number;
  max: number;
}

/** Refusal is a GOAWAY code and its message. */
export interface Refusal {
  code: number;
  message: string;
}

/** Authenticate decides whether a HELLO may start a session: undefined = yes; a string = wrong token (UNAUTHENTICATED); an object = another GOAWAY code. */
export type Authenticate = (hello: Hello) => string | Refusal | undefined;

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

/** offeredVersions is the range a client offers (tests may override it). */
export function offeredVersions(override?: VersionRange): VersionRange {
  return { min: override?.min ?? MIN_PROTOCOL_VERSION, max: override?.max ?? PROTOCOL_VERSION };
}

/** helloFor builds the client's HELLO: its versions, identity and receive windows. */
export function helloFor(
  o: { token: string; clientId: string; clientName?: string; identity?: { publicKey: Uint8Array } },
  versions: VersionRange,
  limits: SessionLimits,
): Hello {
  return {
    identityKey: o.identity?.publicKey ?? new Uint8Array(0),
    minVersion: versions.min,
    maxVersion: versions.max,
    token: o.token,
    clientName: o.clientName ?? 'devnet',
    clientId: o.clientId,
    initialChannelWindow: limits.initialChannelWindow,
    initialSessionWindow: limits.sessionWindow,
  };
}

/** judgeHello is the gateway's verdict on a HELLO: the version to speak, or the GOAWAY that refuses it. */
export function judgeHello(
  hello: Hello,
  authenticate: Authenticate,
): { ok: true; version: number } | ({ ok: false } & Refusal) {
  const version = negotiateVersion(hello.minVersion, hello.maxVersion);
  if (version === undefined) {
    return {
      ok: false,
      code: GoAwayCode.VERSION_MISMATCH,
      message: `protocol version mismatch: the client speaks ${hello.minVersion}..${hello.maxVersion}, this gateway speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
    };
  }
  if (hello.initialChannelWindow === 0 || hello.initialSessionWindow === 0)
    return { ok: false, code: GoAwayCode.PROTOCOL_ERROR, message: 'HELLO announces a zero receive window' };
  const refusal = authenticate(hello);
  if (typeof refusal === 'string') return { ok: false, code: GoAwayCode.UNAUTHENTICATED, message: refusal };
  if (refusal !== undefined) return { ok: false, ...refusal };
  return { ok: true, version };
}

/** welcomeFor builds the gateway's WELCOME; `challenge` is what this session's registration proofs will sign. */
export function welcomeFor(
  version: number,
  gatewayName: string,
  sessionId: string,
  challenge: Uint8Array,
  limits: SessionLimits,
): Welcome {
  return {
    challenge,
    version,
    gatewayName,
    sessionId,
    initialChannelWindow: limits.initialChannelWindow,
    initialSessionWindow: limits.sessionWindow,
    maxChannels: limits.maxChannels,
  };
}

/** judgeWelcome is the client's verdict on a WELCOME: undefined to accept it, else why not. */
export function judgeWelcome(w: Welcome, offered: VersionRange): Refusal | undefined {
  if (w.version < offered.min || w.version > offered.max)
    return { code: GoAwayCode.VERSION_MISMATCH, message: `the gateway chose protocol version ${w.version}` };
  if (w.initialChannelWindow === 0 || w.initialSessionWindow === 0)
    return { code: GoAwayCode.PROTOCOL_ERROR, message: 'WELCOME announces a zero receive window' };
  return undefined;
}

/** handshakeError turns how a handshake ended into the error connectSession / acceptSession reject with. */
export function handshakeError(code: number | undefined, message: string | undefined): HandshakeError {
  const c = code ?? GoAwayCode.PROTOCOL_ERROR;
  const hint =
    c === GoAwayCode.UNAUTHENTICATED
      ? 'the session token does not match the gateway Secret: run `devnet gateway install` again'
      : c === GoAwayCode.VERSION_MISMATCH
        ? 'devnet and the gateway are different versions: run `devnet gateway install` to upgrade the gateway'
        : undefined;
  return new HandshakeError(c, message ?? 'the handshake failed', hint);
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
/** CLIENT_RECEIVES are the frame types a client accepts after the handshake. */
export const CLIENT_RECEIVES = new Set<number>([...BOTH_RECEIVE, FrameType.DNS_ANSWER, FrameType.INTERCEPT_ACK]);
/** GATEWAY_RECEIVES are the frame types a gateway accepts after the handshake. */
export const GATEWAY_RECEIVES = new Set<number>([
  ...BOTH_RECEIVE,
  FrameType.DNS_QUERY,
  FrameType.INTERCEPT_REGISTER,
  FrameType.INTERCEPT_UNREGISTER,
]);
/** CLIENT_HANDSHAKE are the frame types a client accepts before WELCOME. */
export const CLIENT_HANDSHAKE = new Set<number>([FrameType.WELCOME, FrameType.GOAWAY]);
/** GATEWAY_HANDSHAKE are the frame types a gateway accepts before HELLO. */
export const GATEWAY_HANDSHAKE = new Set<number>([FrameType.HELLO]);
