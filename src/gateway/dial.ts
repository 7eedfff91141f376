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

/** dialTcp connects to host:port within timeoutMs. */
export function dialTcp(host: string, port: number, timeoutMs: number): Promise<DialResult> {
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
    socket.connect({ host, port }, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve({ ok: true, socket });
    });
  });
}
