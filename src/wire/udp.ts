// UDP datagrams (RFC 768; checksum mandatory over IPv6, RFC 8200 §8.1).
import { type ChecksumFn, finish, pseudoSum, sum16, sumParts } from './checksum.ts';
import { IpProtocol, put16, u16 } from './ip.ts';

/** UDP_HEADER_LEN is the UDP header length. */
export const UDP_HEADER_LEN = 8;
/** UDP_MAX_PAYLOAD is the largest UDP payload over IPv4 (65535 − 20 − 8). */
export const UDP_MAX_PAYLOAD = 65507;

/** UdpDatagram is a zero-copy view over a UDP datagram. */
export class UdpDatagram {
  readonly buf: Uint8Array;

  private constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** check returns a view when the length field fits in buf (trailing bytes are cut), else undefined. */
  static check(buf: Uint8Array): UdpDatagram | undefined {
    if (buf.length < UDP_HEADER_LEN) return undefined;
    const len = u16(buf, 4);
    if (len < UDP_HEADER_LEN || len > buf.length) return undefined;
    return new UdpDatagram(len === buf.length ? buf : buf.subarray(0, len));
  }

  get srcPort(): number {
    return u16(this.buf, 0);
  }
  get dstPort(): number {
    return u16(this.buf, 2);
  }
  get checksum(): number {
    return u16(this.buf, 6);
  }
  get payload(): Uint8Array {
    return this.buf.subarray(UDP_HEADER_LEN);
  }
  /** verifyChecksum checks the checksum; a zero checksum (none, IPv4 only) passes. */
  verifyChecksum(src: Uint8Array, dst: Uint8Array, cs: ChecksumFn = sum16): boolean {
    if (this.checksum === 0) return src.length === 4;
    return cs(this.buf, pseudoSum(src, dst, IpProtocol.Udp, this.buf.length, cs)) === 0xffff;
  }
}

/** UdpRepr is a parsed UDP header. */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
}

/** parseUdp returns the ports of a checked datagram. */
export function parseUdp(d: UdpDatagram): UdpRepr {
  return { srcPort: d.srcPort, dstPort: d.dstPort };
}

/** emitUdp writes the 8-byte header at buf[off] with the checksum over src/dst, header and payload parts. */
export function emitUdp(
  r: UdpRepr,
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  dst: Uint8Array,
  payload: readonly Uint8Array[],
  cs: ChecksumFn = sum16,
): void {
  let plen = 0;
  for (const p of payload) plen += p.length;
  const h = buf.subarray(off, off + UDP_HEADER_LEN);
  put16(h, 0, r.srcPort);
  put16(h, 2, r.dstPort);
  put16(h, 4, UDP_HEADER_LEN + plen);
  put16(h, 6, 0);
  const c = finish(sumParts(payload, cs(h, pseudoSum(src, dst, IpProtocol.Udp, UDP_HEADER_LEN + plen, cs)), cs));
  put16(h, 6, c === 0 ? 0xffff : c); // RFC 768: a computed zero is sent as all ones
}
