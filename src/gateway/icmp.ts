// ICMP echo for the tunnel's ICMP channels. Node has no ICMP sockets, so the
// gateway runs the system `ping` (iputils), which uses an unprivileged ICMP
// datagram socket when the pod's gid is inside net.ipv4.ping_group_range (or
// a raw socket with CAP_NET_RAW). Whether that is allowed is checked once at
// start; if not, ICMP channels are rejected as forbidden with the reason.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import type { DatagramChannel } from '../tunnel/index.ts';

/** IcmpSupport says whether this process may send ICMP echo, and why not when it may not. */
export type IcmpSupport = { ok: true; ping: string } | { ok: false; reason: string };

const CAP_NET_RAW = 13;

/** detectIcmp checks for a ping binary and for permission to send echo requests (probes passed in for tests). */
export function detectIcmp(
  probe: { exists?: (p: string) => boolean; read?: (p: string) => string; gids?: () => number[] } = {},
): IcmpSupport {
  const exists = probe.exists ?? existsSync;
  const read = probe.read ?? ((p: string) => readFileSync(p, 'utf8'));
  const gids = probe.gids ?? (() => [process.getgid?.() ?? -1, ...(process.getgroups?.() ?? [])]);
  const ping = ['/usr/bin/ping', '/bin/ping'].find((p) => exists(p));
  if (!ping) return { ok: false, reason: 'no ping binary in the gateway image' };
  try {
    const capLine = /^CapEff:\s*([0-9a-f]+)/m.exec(read('/proc/self/status'));
    if (capLine && (BigInt(`0x${capLine[1]}`) >> BigInt(CAP_NET_RAW)) & 1n) return { ok: true, ping };
    const [lo, hi] = read('/proc/sys/net/ipv4/ping_group_range').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && gids().some((g) => g >= lo && g <= hi)) return { ok: true, ping };
    return {
      ok: false,
      reason: `the pod may not send ICMP echo: net.ipv4.ping_group_range is "${lo} ${hi}" and the gateway runs with gids ${gids().join(',')}`,
    };
  } catch (err) {
    return { ok: false, reason: `cannot tell whether ICMP echo is allowed: ${(err as Error).message}` };
  }
}

/** echoReply turns an echo request (RFC 792 type 8 / RFC 4443 type 128) into its reply, or undefined if it is none. */
export function echoReply(request: Uint8Array, v6: boolean): Buffer | undefined {
  if (request.byteLength < 8 || request[1] !== 0 || request[0] !== (v6 ? 128 : 8)) return undefined;
  const reply = Buffer.from(request);
  reply[0] = v6 ? 129 : 0;
  reply.writeUInt16BE(0, 2);
  // ICMPv4 checksum over the message (RFC 1071); ICMPv6's covers a pseudo-header
  // the laptop's netstack knows, so it is left zero for the netstack to fill.
  if (!v6) reply.writeUInt16BE(internetChecksum(reply), 2);
  return reply;
}

/** internetChecksum is the RFC 1071 one's-complement sum. */
export function internetChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** ICMP_MAX_IN_FLIGHT is how many echo requests of one channel may await their answer; more are dropped. */
export const ICMP_MAX_IN_FLIGHT = 4;

/** bridgeIcmp answers echo requests on an ICMP channel with a real echo to the channel's destination. */
export function bridgeIcmp(ch: DatagramChannel, ping: string, maxInFlight = ICMP_MAX_IN_FLIGHT): void {
  const host = ch.request.host;
  const v6 = isIPv6(host);
  let inFlight = 0;
  ch.on('data', (msg) => {
    const reply = echoReply(msg, v6);
    if (!reply || inFlight >= maxInFlight) return; // not an echo request, or too many: dropped like a lost packet
    inFlight++;
    const size = String(Math.max(0, msg.length - 8));
    execFile(ping, [v6 ? '-6' : '-4', '-n', '-q', '-c', '1', '-W', '2', '-s', size, host], { timeout: 4000 }, (err) => {
      inFlight--;
      if (!err && ch.state === 'open') ch.send(reply);
    });
  });
  ch.on('end', () => ch.end());
}
