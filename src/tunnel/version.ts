// Protocol versions of the devnet tunnel, newest last. The history lives here
// (and is rendered in docs/protocol.md); a change to the frame layout, a
// frame's meaning or a limit's meaning needs a new entry.

/** PROTOCOL_HISTORY lists every protocol version with what it introduced. */
export const PROTOCOL_HISTORY: readonly { version: number; summary: string }[] = [
  {
    version: 1,
    summary:
      'First version: 12-byte header; DATA, WINDOW; HELLO/WELCOME/GOAWAY/PING/PONG; OPEN/OPEN_OK/OPEN_REJECT/CLOSE/RESET for TCP, UDP and ICMP echo channels; DNS_QUERY/DNS_ANSWER; INTERCEPT_REGISTER/ACK/UNREGISTER and gateway-initiated channels.',
  },
];

/** PROTOCOL_VERSION is the newest version this code speaks. */
export const PROTOCOL_VERSION = 1;

/** MIN_PROTOCOL_VERSION is the oldest version this code still speaks. */
export const MIN_PROTOCOL_VERSION = 1;

/** negotiateVersion picks the highest version in both ranges, or undefined when they do not overlap. */
export function negotiateVersion(
  peerMin: number,
  peerMax: number,
  ownMin = MIN_PROTOCOL_VERSION,
  ownMax = PROTOCOL_VERSION,
): number | undefined {
  const v = Math.min(peerMax, ownMax);
  return v >= Math.max(peerMin, ownMin) && peerMin <= peerMax ? v : undefined;
}
