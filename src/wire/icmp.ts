// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443): echo and destination unreachable.
// ICMPv4 sums only the message; ICMPv6 adds the IPv6 pseudo-header.
import { type ChecksumFn, finish, pseudoSum, sum16, sumParts } from './checksum.ts';
import { IpProtocol, type IpVersion, put16, u16 } from './ip.ts';

/** ICMP_HEADER_LEN is the fixed part of an ICMP message (type, code, checksum, 4 bytes of rest-of-header). */
export const ICMP_HEADER_LEN = 8;

/** IcmpType holds the type numbers per IP version. */
export const IcmpType = {
  v4: { echoReply: 0, dstUnreachable: 3, echoRequest: 8 },
  v6: { dstUnreachable: 1, echoRequest: 128, echoReply: 129 },
} as const;

/** UnreachableCode names the destination-unreachable codes the stack sends, per version. */
export const UnreachableCode = {
  v4: { net: 0, host: 1, port: 3, adminProhibited: 13 },
  v6: { noRoute: 0, adminProhibited: 1, address: 3, port: 4 },
} as const;

/** IcmpMessage is a zero-copy view over an ICMP or ICMPv6 message. */
export class IcmpMessage {
  readonly buf: Uint8Array;

  private constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** check returns a view when buf holds at least the fixed header. */
  static check(buf: Uint8Array): IcmpMessage | undefined {
    return buf.length < ICMP_HEADER_LEN ? undefined : new IcmpMessage(buf);
  }

  get type(): number {
    return this.buf[0] as number;
  }
  get code(): number {
    return this.buf[1] as number;
  }
  get ident(): number {
    return u16(this.buf, 4);
  }
  get seq(): number {
    return u16(this.buf, 6);
  }
  get data(): Uint8Array {
    return this.buf.subarray(ICMP_HEADER_LEN);
  }
  /** verifyChecksum checks the ICMPv4 checksum (src/dst absent) or the ICMPv6 one (with the pseudo-header). */
  verifyChecksum(src?: Uint8Array, dst?: Uint8Array, cs: ChecksumFn = sum16): boolean {
    const init = src && dst ? pseudoSum(src, dst, IpProtocol.Icmpv6, this.buf.length, cs) : 0;
    return cs(this.buf, init) === 0xffff;
  }
}

/** IcmpRepr is an echo request/reply or a destination-unreachable message. */
export type IcmpRepr =
  | { kind: 'echoRequest' | 'echoReply'; ident: number; seq: number; data: Uint8Array }
  | { kind: 'dstUnreachable'; code: number; data: Uint8Array }
  | { kind: 'other'; type: number; code: number; data: Uint8Array };

/** parseIcmp interprets a checked message for IP version v. */
export function parseIcmp(m: IcmpMessage, v: IpVersion): IcmpRepr {
  const t = v === 4 ? IcmpType.v4 : IcmpType.v6;
  if (m.type === t.echoRequest && m.code === 0)
    return { kind: 'echoRequest', ident: m.ident, seq: m.seq, data: m.data };
  if (m.type === t.echoReply && m.code === 0) return { kind: 'echoReply', ident: m.ident, seq: m.seq, data: m.data };
  if (m.type === t.dstUnreachable) return { kind: 'dstUnreachable', code: m.code, data: m.data };
  return { kind: 'other', type: m.type, code: m.code, data: m.data };
}

/** icmpLen is the emitted length of r. */
export function icmpLen(r: IcmpRepr): number {
  return ICMP_HEADER_LEN + r.data.length;
}

/**
 * emitIcmp writes r at buf[off] (icmpLen(r) bytes) for IP version v; for
 * ICMPv6, src and dst give the pseudo-header.
 */
export function emitIcmp(
  r: IcmpRepr,
  v: IpVersion,
  buf: Uint8Array,
  off: number,
  src?: Uint8Array,
  dst?: Uint8Array,
  cs: ChecksumFn = sum16,
): void {
  const t = v === 4 ? IcmpType.v4 : IcmpType.v6;
  const m = buf.subarray(off, off + icmpLen(r));
  m.fill(0, 0, ICMP_HEADER_LEN);
  switch (r.kind) {
    case 'echoRequest':
    case 'echoReply':
      m[0] = r.kind === 'echoRequest' ? t.echoRequest : t.echoReply;
      put16(m, 4, r.ident);
      put16(m, 6, r.seq);
      break;
    case 'dstUnreachable':
      m[0] = t.dstUnreachable;
      m[1] = r.code;
      break;
    case 'other':
      m[0] = r.type;
      m[1] = r.code;
      break;
  }
  m.set(r.data, ICMP_HEADER_LEN);
  const init = v === 6 && src && dst ? pseudoSum(src, dst, IpProtocol.Icmpv6, m.length, cs) : 0;
  put16(m, 2, finish(sumParts([m], init, cs)));
}
