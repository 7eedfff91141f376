// IPv6 (RFC 8200). Extension headers (hop-by-hop, routing, destination
// options, fragment) are walked to find the upper-layer protocol; the
// fragment header's fields are exposed for reassembly by the stack.
import { IpProtocol, put16, put32, u16, u32 } from './ip.ts';

/** IPV6_HEADER_LEN is the fixed IPv6 header length. */
export const IPV6_HEADER_LEN = 40;
/** IPV6_FRAG_HEADER_LEN is the length of the fragment extension header. */
export const IPV6_FRAG_HEADER_LEN = 8;
const MAX_EXT_HEADERS = 8;

/** Ipv6Packet is a zero-copy view over an IPv6 packet with its extension headers walked at check(). */
export class Ipv6Packet {
  readonly buf: Uint8Array;
  /** protocol is the upper-layer protocol after the extension headers. */
  readonly protocol: number;
  /** payloadOffset is where the upper-layer header starts. */
  readonly payloadOffset: number;
  /** fragOffset/moreFrags/fragIdent come from a fragment header; fragIdent is -1 when there is none. */
  readonly fragOffset: number;
  readonly moreFrags: boolean;
  readonly fragIdent: number;

  private constructor(buf: Uint8Array, protocol: number, off: number, fo: number, mf: boolean, id: number) {
    this.buf = buf;
    this.protocol = protocol;
    this.payloadOffset = off;
    this.fragOffset = fo;
    this.moreFrags = mf;
    this.fragIdent = id;
  }

  /** check returns a view when buf holds a well-formed header chain, else undefined. */
  static check(buf: Uint8Array): Ipv6Packet | undefined {
    if (buf.length < IPV6_HEADER_LEN) return undefined;
    if ((buf[0] as number) >> 4 !== 6) return undefined;
    const total = IPV6_HEADER_LEN + u16(buf, 4);
    // Payload length 0 means a jumbogram (RFC 2675), which we do not support.
    if (total > buf.length || total === IPV6_HEADER_LEN) return undefined;
    const b = total === buf.length ? buf : buf.subarray(0, total);
    let next = b[6] as number;
    let off = IPV6_HEADER_LEN;
    let fo = 0;
    let mf = false;
    let id = -1;
    for (let n = 0; n < MAX_EXT_HEADERS; n++) {
      if (next === IpProtocol.HopByHop || next === IpProtocol.Ipv6Route || next === IpProtocol.Ipv6Opts) {
        if (next === IpProtocol.HopByHop && off !== IPV6_HEADER_LEN) return undefined;
        if (off + 8 > total) return undefined;
        const len = ((b[off + 1] as number) + 1) * 8;
        if (off + len > total) return undefined;
        next = b[off] as number;
        off += len;
      } else if (next === IpProtocol.Ipv6Frag) {
        if (off + IPV6_FRAG_HEADER_LEN > total || id !== -1) return undefined;
        const v = u16(b, off + 2);
        fo = v & 0xfff8;
        mf = (v & 1) === 1;
        id = u32(b, off + 4);
        next = b[off] as number;
        off += IPV6_FRAG_HEADER_LEN;
      } else {
        return new Ipv6Packet(b, next, off, fo, mf, id);
      }
    }
    return undefined;
  }

  get payloadLen(): number {
    return u16(this.buf, 4);
  }
  get hopLimit(): number {
    return this.buf[7] as number;
  }
  get src(): Uint8Array {
    return this.buf.subarray(8, 24);
  }
  get dst(): Uint8Array {
    return this.buf.subarray(24, 40);
  }
  get isFragment(): boolean {
    return this.fragIdent !== -1 && (this.moreFrags || this.fragOffset !== 0);
  }
  /** payload is the upper-layer bytes (or, for a fragment, this fragment's bytes). */
  get payload(): Uint8Array {
    return this.buf.subarray(this.payloadOffset);
  }
}

/** Ipv6Repr is what the stack emits: a fixed header, optionally followed by a fragment header. */
export interface Ipv6Repr {
  src: Uint8Array;
  dst: Uint8Array;
  /** protocol is the upper-layer protocol (next header after any fragment header). */
  protocol: number;
  /** payloadLen counts the upper-layer bytes carried in this packet (not the fragment header). */
  payloadLen: number;
  hopLimit: number;
  /** frag, when present, adds a fragment header. */
  frag?: { offset: number; more: boolean; ident: number };
}

/** parseIpv6 returns the repr of a packet view. */
export function parseIpv6(p: Ipv6Packet): Ipv6Repr {
  const r: Ipv6Repr = {
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    payloadLen: p.buf.length - p.payloadOffset,
    hopLimit: p.hopLimit,
  };
  if (p.fragIdent !== -1) r.frag = { offset: p.fragOffset, more: p.moreFrags, ident: p.fragIdent };
  return r;
}

/** ipv6HeaderLen is the emitted header length for r. */
export function ipv6HeaderLen(r: Ipv6Repr): number {
  return IPV6_HEADER_LEN + (r.frag ? IPV6_FRAG_HEADER_LEN : 0);
}

/** emitIpv6 writes the header (and fragment header) for r at buf[off]. */
export function emitIpv6(r: Ipv6Repr, buf: Uint8Array, off = 0): void {
  const h = buf.subarray(off, off + ipv6HeaderLen(r));
  put32(h, 0, 0x60000000);
  put16(h, 4, r.payloadLen + (r.frag ? IPV6_FRAG_HEADER_LEN : 0));
  h[6] = r.frag ? IpProtocol.Ipv6Frag : r.protocol;
  h[7] = r.hopLimit;
  h.set(r.src, 8);
  h.set(r.dst, 24);
  if (r.frag) {
    h[40] = r.protocol;
    h[41] = 0;
    put16(h, 42, (r.frag.offset & 0xfff8) | (r.frag.more ? 1 : 0));
    put32(h, 44, r.frag.ident);
  }
}
