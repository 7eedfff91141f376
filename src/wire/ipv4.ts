// IPv4 (RFC 791). Options are skipped, not interpreted. Fragments are
// recognised here and reassembled by the stack (src/netstack/fragments.ts).
import { finish, sum16 } from './checksum.ts';
import { put16, u16 } from './ip.ts';

/** IPV4_HEADER_LEN is the length of an IPv4 header without options. */
export const IPV4_HEADER_LEN = 20;

/** Ipv4Packet is a zero-copy view over an IPv4 packet; after check() succeeds no getter can read out of bounds. */
export class Ipv4Packet {
  readonly buf: Uint8Array;

  private constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** check returns a view when buf holds a well-formed header and total length, else undefined. */
  static check(buf: Uint8Array): Ipv4Packet | undefined {
    if (buf.length < IPV4_HEADER_LEN) return undefined;
    const b0 = buf[0] as number;
    if (b0 >> 4 !== 4) return undefined;
    const ihl = (b0 & 0x0f) * 4;
    const total = u16(buf, 2);
    if (ihl < IPV4_HEADER_LEN || total < ihl || total > buf.length) return undefined;
    // Trailing bytes past total length (link padding) are ignored.
    return new Ipv4Packet(total === buf.length ? buf : buf.subarray(0, total));
  }

  get headerLen(): number {
    return ((this.buf[0] as number) & 0x0f) * 4;
  }
  get totalLen(): number {
    return u16(this.buf, 2);
  }
  get ident(): number {
    return u16(this.buf, 4);
  }
  get dontFrag(): boolean {
    return ((this.buf[6] as number) & 0x40) !== 0;
  }
  get moreFrags(): boolean {
    return ((this.buf[6] as number) & 0x20) !== 0;
  }
  /** fragOffset is the fragment offset in bytes. */
  get fragOffset(): number {
    return (u16(this.buf, 6) & 0x1fff) * 8;
  }
  get isFragment(): boolean {
    return this.moreFrags || this.fragOffset !== 0;
  }
  get ttl(): number {
    return this.buf[8] as number;
  }
  get protocol(): number {
    return this.buf[9] as number;
  }
  get src(): Uint8Array {
    return this.buf.subarray(12, 16);
  }
  get dst(): Uint8Array {
    return this.buf.subarray(16, 20);
  }
  get payload(): Uint8Array {
    return this.buf.subarray(this.headerLen);
  }
  /** verifyChecksum is true when the header checksum is correct. */
  verifyChecksum(): boolean {
    return sum16(this.buf.subarray(0, this.headerLen)) === 0xffff;
  }
}

/** Ipv4Repr is the part of an IPv4 header the stack cares about. */
export interface Ipv4Repr {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  payloadLen: number;
  ttl: number;
  ident?: number;
  dontFrag?: boolean;
  /** moreFrags and fragOffset (bytes, a multiple of 8) describe a fragment being emitted. */
  moreFrags?: boolean;
  fragOffset?: number;
}

/** parseIpv4 returns the repr of an unfragmented packet view (payloadLen from the header). */
export function parseIpv4(p: Ipv4Packet): Ipv4Repr {
  return {
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    payloadLen: p.totalLen - p.headerLen,
    ttl: p.ttl,
    ident: p.ident,
    dontFrag: p.dontFrag,
    moreFrags: p.moreFrags,
    fragOffset: p.fragOffset,
  };
}

/** ipv4HeaderLen is the emitted header length (no options are ever emitted). */
export function ipv4HeaderLen(): number {
  return IPV4_HEADER_LEN;
}

/** emitIpv4 writes a 20-byte header with its checksum at buf[off]. */
export function emitIpv4(r: Ipv4Repr, buf: Uint8Array, off = 0): void {
  const h = buf.subarray(off, off + IPV4_HEADER_LEN);
  h[0] = 0x45;
  h[1] = 0;
  put16(h, 2, IPV4_HEADER_LEN + r.payloadLen);
  put16(h, 4, r.ident ?? 0);
  const flags = (r.dontFrag ? 0x4000 : 0) | (r.moreFrags ? 0x2000 : 0) | (((r.fragOffset ?? 0) >>> 3) & 0x1fff);
  put16(h, 6, flags);
  h[8] = r.ttl;
  h[9] = r.protocol;
  put16(h, 10, 0);
  h.set(r.src, 12);
  h.set(r.dst, 16);
  put16(h, 10, finish(sum16(h)));
}
