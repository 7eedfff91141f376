// Limits and timers of a tunnel session. Both ends announce their receive
// windows in HELLO/WELCOME; everything else is local policy.

/** SessionLimits bound one session's memory, frames and timers. */
export interface SessionLimits {
  /** maxDataPayload is the largest DATA payload sent or accepted (bytes). */
  maxDataPayload: number;
  /** maxControlPayload is the largest control payload accepted after the handshake (bytes). */
  maxControlPayload: number;
  /** maxHandshakePayload is the largest HELLO/WELCOME/GOAWAY accepted before the handshake completes. */
  maxHandshakePayload: number;
  /** initialChannelWindow is the receive window each new channel starts with (announced to the peer). */
  initialChannelWindow: number;
  /** maxChannelWindow caps how far a channel's receive window grows by RTT × rate auto-tuning. */
  maxChannelWindow: number;
  /** sessionWindow is the most bytes buffered for all channels together on the receive side (announced). */
  sessionWindow: number;
  /** maxChannels is the most channels open at once (the gateway announces its value in WELCOME). */
  maxChannels: number;
  /** maxDnsInFlight is the most DNS queries awaiting an answer. */
  maxDnsInFlight: number;
  /** maxIntercepts is the most intercept registrations one session may hold. */
  maxIntercepts: number;
  /** carrierHighWater is how many bytes may wait in the carrier's write buffer before DATA is held back. */
  carrierHighWater: number;
  /** carrierHardLimit: above this many unsent bytes (control frames a peer provoked) reading pauses. */
  carrierHardLimit: number;
  /** pingIntervalMs is the heartbeat period. */
  pingIntervalMs: number;
  /** pingTimeoutMs: a PING unanswered this long means the carrier is dead. */
  pingTimeoutMs: number;
  /** maxUnansweredPings bounds the PINGs awaiting a PONG: while that many wait, no new PING is sent. */
  maxUnansweredPings: number;
  /** handshakeTimeoutMs bounds the wait for HELLO (gateway) or WELCOME (client). */
  handshakeTimeoutMs: number;
  /** openGraceMs is added to an OPEN's dial timeout before the opener gives up locally. */
  openGraceMs: number;
}

/** DEFAULT_LIMITS are the limits of protocol version 1 unless a caller overrides them. */
export const DEFAULT_LIMITS: Readonly<SessionLimits> = Object.freeze({
  maxDataPayload: 256 * 1024,
  maxControlPayload: 128 * 1024,
  maxHandshakePayload: 4096,
  initialChannelWindow: 256 * 1024,
  maxChannelWindow: 16 * 1024 * 1024,
  sessionWindow: 64 * 1024 * 1024,
  maxChannels: 16384,
  maxDnsInFlight: 512,
  maxIntercepts: 64,
  carrierHighWater: 1024 * 1024,
  carrierHardLimit: 16 * 1024 * 1024,
  pingIntervalMs: 1000,
  pingTimeoutMs: 3000,
  maxUnansweredPings: 16,
  handshakeTimeoutMs: 5000,
  openGraceMs: 2000,
});

/** DEFAULT_DIAL_TIMEOUT_MS is the dial timeout when an OPEN names none. */
export const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

/** MAX_DIAL_TIMEOUT_MS caps the dial timeout an OPEN may ask for. */
export const MAX_DIAL_TIMEOUT_MS = 120_000;
