// Dialing real destinations with ordinary sockets, and mapping socket errors
// to OPEN_REJECT reasons (docs/protocol.md, "OPEN_REJECT reasons").
import { type BlockList, isIP, Socket, type SocketConstructorOpts } from 'node:net';
import type { RejectReason } from '../tunnel/index.ts';
import { DEFAULT_DIAL_TIMEOUT_MS, MAX_DIAL_TIMEOUT_MS } from '../tunnel/limits.ts';
import { rejectReasonFor } from '../tunnel/reject.ts';

export { rejectReasonFor };

/** DialResult is a connected socket or why there is none. */
export type DialResult = { ok: true; socket: Socket } | { ok: false; reason: RejectReason; message: string };

/** checkDestination validates an OPEN's destination against the policy; undefined when it may be dialled. */
export function checkDestination(
  host: string,
  port: number,
  protocol: 'tcp' | 'udp' | 'icmp',
  deny: BlockList,
): { reason: RejectReason; message: string } | undefined {
  const family = isIP(host);
  if (family === 0) return { reason: 'invalid', message: `destination ${JSON.stringify(host)} is not an IP address` };
  if (protocol !== 'icmp' && (port < 1 || port > 65535 || !Number.isInteger(port)))
    return { reason: 'invalid', message: `destination port ${port} is out of range` };
  if (deny.check(host, family === 6 ? 'ipv6' : 'ipv4'))
    return { reason: 'forbidden', message: `destination ${host} is denied by the gateway policy` };
  return undefined;
}

/** dialTimeout clamps an OPEN's timeout (0 = default). */
export function dialTimeout(ms: number): number {
  return ms <= 0 ? DEFAULT_DIAL_TIMEOUT_MS : Math.min(ms, MAX_DIAL_TIMEOUT_MS);
}

/**
 * DEFAULT_TCP_KEEPALIVE_MS is the silence after which a destination socket
 * is probed. The destination's kernel answers while the connection lives,
 * so a quiet session is never cut; one that vanished (pod or node gone
 * without a RST) fails the probes and the socket errors with ETIMEDOUT,
 * which resets the channel, so the laptop's app gets a RST and the
 * gateway's socket and channel are freed. Node sets the probe interval to
 * 1 s and the count to 10, so that takes this long plus 10 s.
 */
export const DEFAULT_TCP_KEEPALIVE_MS = 60_000;

/** dialTcp connects to host:port within timeoutMs; the socket gets keepalive after keepaliveMs of silence. */
export function dialTcp(
  host: string,
  port: number,
  timeoutMs: number,
  keepaliveMs = DEFAULT_TCP_KEEPALIVE_MS,
): Promise<DialResult> {
  return new Promise((resolve) => {
    // writableHighWaterMark 1: see bridgeStream (credit returns on 'drain').
    // (Node honours the Duplex option; @types/node omits it from SocketConstructorOpts.)
    const socket = new Socket({ allowHalfOpen: true, writableHighWaterMark: 1 } as SocketConstructorOpts);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, reason: 'timeout', message: `connect ${host}:${port}: no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    const onError = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: false, reason: rejectReasonFor(err.code), message: err.message });
    };
    socket.once('error', onError);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, keepaliveMs);
    socket.connect({ host, port }, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve({ ok: true, socket });
    });
  });
}
