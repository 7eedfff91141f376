// The tunnel component: framing, control messages and the session mux. See
// docs/protocol.md for the protocol and session.ts for the API.
export { type AnyChannel, Channel, type ChannelEnd, DatagramChannel, StreamChannel } from './channel.ts';
export { type Clock, realClock, type TimerHandle } from './clock.ts';
export type {
  ChannelProtocolName,
  DnsAnswer,
  DnsErrorName,
  DnsQuery,
  Hello,
  InterceptRegister,
  OpenRequest,
  RejectReason,
  ResetCode,
} from './control.ts';
export { GoAwayCode, goAwayName } from './control.ts';
export { FakeClock } from './fake-clock.ts';
export { FrameReader, FrameType, HEADER_LENGTH } from './frame.ts';
export { keyId, SessionIdentity, verifyRegistration } from './identity.ts';
export { DEFAULT_LIMITS, type SessionLimits } from './limits.ts';
export { MemoryCarrier } from './memory-carrier.ts';
export {
  acceptSession,
  type ClientOptions,
  connectSession,
  type DnsAnswerInit,
  type GatewayOptions,
  HandshakeError,
  type InterceptDecision,
  type OpenOptions,
  type OpenResult,
  Session,
  type SessionEnd,
  type SessionStats,
  type SessionTables,
  type TunnelLogger,
} from './session.ts';
export { channelDuplex } from './stream.ts';
export { MIN_PROTOCOL_VERSION, PROTOCOL_HISTORY, PROTOCOL_VERSION } from './version.ts';
