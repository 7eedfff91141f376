// TCP segments (RFC 9293 §3.1) with the options devnet reads and writes:
// MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323),
// SACK-permitted and SACK blocks (RFC 2018).
import { type ChecksumFn, finish, pseudoSum, sum16, sumParts } from './checksum.ts';
import { IpProtocol, put16, put32, u16, u32 } from './ip.ts';

/** TCP_HEADER_LEN is the length of a TCP header without options. */
export const TCP_HEADER_LEN = 20;

/** TcpFlags are the control bits of a segment. */
export const TcpFlags = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 } as const;

/** TcpSegment is a zero-copy view over a TCP segment; after check() no getter can read out of bounds. */
export class TcpSegment {
  readonly buf: Uint8Array;

  private constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** check returns a view when buf holds a header whose data offset fits, else undefined. */
  static check(buf: Uint8Array): TcpSegment | undefined {
    if (buf.length < TCP_HEADER_LEN) return undefined;
    const doff = ((buf[12] as number) >> 4) * 4;
    if (doff < TCP_HEADER_LEN || doff > buf.length) return undefined;
    return new TcpSegment(buf);
  }

  get srcPort(): number {
    return u16(this.buf, 0);
  }
  get dstPort(): number {
    return u16(this.buf, 2);
  }
  get seq(): number {
    return u32(this.buf, 4);
  }
  get ack(): number {
    return u32(this.buf, 8);
  }
  get headerLen(): number {
    return ((this.buf[12] as number) >> 4) * 4;
  }
  get flags(): number {
    return this.buf[13] as number;
  }
  get window(): number {
    return u16(this.buf, 14);
  }
  get options(): Uint8Array {
    return this.buf.subarray(TCP_HEADER_LEN, this.headerLen);
  }
  get payload(): Uint8Array {
    return this.buf.subarray(this.headerLen);
  }
  /** verifyChecksum checks the checksum against the pseudo-header of src and dst. */
  verifyChecksum(src: Uint8Array, dst: Uint8Array, cs: ChecksumFn = sum16): boolean {
    return cs(this.buf, pseudoSum(src, dst, IpProtocol.Tcp, this.buf.length, cs)) === 0xffff;
  }
}

/** TcpRepr is a parsed TCP header; payload is not part of it. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  /** window is the raw 16-bit field (unscaled). */
  window: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  timestamp?: { value: number; echo: number };
  /** sack lists SACK blocks as [left, right) pairs. */
  sack?: Array<[number, number]>;
}

/** parseTcp reads the header and options of a checked segment; malformed options give undefined. */
export function parseTcp(s: TcpSegment): TcpRepr | undefined {
  const r: TcpRepr = {
    srcPort: s.srcPort,
    dstPort: s.dstPort,
    seq: s.seq,
    ack: s.ack,
    flags: s.flags,
    window: s.window,
  };
  const o = s.options;
  let i = 0;
  while (i < o.length) {
    const kind = o[i] as number;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= o.length) return undefined;
    const len = o[i + 1] as number;
    if (len < 2 || i + len > o.length) return undefined;
    switch (kind) {
      case 2:
        if (len !== 4) return undefined;
        r.mss = u16(o, i + 2);
        break;
      case 3:
        if (len !== 3) return undefined;
        r.wscale = Math.min(o[i + 2] as number, 14); // RFC 7323 §2.3: values above 14 are treated as 14.
        break;
      case 4:
        if (len !== 2) return undefined;
        r.sackPermitted = true;
        break;
      case 5: {
        if ((len - 2) % 8 !== 0) return undefined;
        r.sack = [];
        for (let k = i + 2; k < i + len; k += 8) r.sack.push([u32(o, k), u32(o, k + 4)]);
        break;
      }
      case 8:
        if (len !== 10) return undefined;
        r.timestamp = { value: u32(o, i + 2), echo: u32(o, i + 6) };
        break;
      default:
        break; // unknown options are skipped (RFC 9293 §3.1)
    }
    i += len;
  }
  return r;
}

/** tcpHeaderLen is the emitted header length for r: options padded to 32 bits. */
export function tcpHeaderLen(r: TcpRepr): number {
  let n = 0;
  if (r.mss !== undefined) n += 4;
  if (r.wscale !== undefined) n += 3;
  if (r.sackPermitted) n += 2;
  if (r.timestamp) n += 10;
  if (r.sack && r.sack.length > 0) n += 2 + 8 * r.sack.length;
  return TCP_HEADER_LEN + ((n + 3) & ~3);
}

/**
 * emitTcp writes the header for r at buf[off] (tcpHeaderLen(r) bytes) and
 * its checksum over the pseudo-header of src/dst, the header and the payload
 * parts that follow it on the wire.
 */
export function emitTcp(
  r: TcpRepr,
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  dst: Uint8Array,
  payload: readonly Uint8Array[],
  cs: ChecksumFn = sum16,
): void {
  const hl = tcpHeaderLen(r);
  const h = buf.subarray(off, off + hl);
  put16(h, 0, r.srcPort);
  put16(h, 2, r.dstPort);
  put32(h, 4, r.seq);
  put32(h, 8, r.ack);
  h[12] = (hl / 4) << 4;
  h[13] = r.flags;
  put16(h, 14, r.window);
  put16(h, 16, 0);
  put16(h, 18, 0);
  let i = TCP_HEADER_LEN;
  if (r.mss !== undefined) {
    h[i] = 2;
    h[i + 1] = 4;
    put16(h, i + 2, r.mss);
    i += 4;
  }
  if (r.sackPermitted) {
    h[i] = 4;
    h[i + 1] = 2;
    i += 2;
  }
  if (r.timestamp) {
    h[i] = 8;
    h[i + 1] = 10;
    put32(h, i + 2, r.timestamp.value);
    put32(h, i + 6, r.timestamp.echo);
    i += 10;
  }
  if (r.sack && r.sack.length > 0) {
    h[i] = 5;
    h[i + 1] = 2 + 8 * r.sack.length;
    i += 2;
    for (const [a, b] of r.sack) {
      put32(h, i, a);
      put32(h, i + 4, b);
      i += 8;
    }
  }
  if (r.wscale !== undefined) {
    h[i] = 3;
    h[i + 1] = 3;
    h[i + 2] = r.wscale;
    i += 3;
  }
  while (i < hl) h[i++] = 1; // NOP padding; the last option ends the header exactly
  let plen = 0;
  for (const p of payload) plen += p.length;
  const s = sumParts(payload, cs(h, pseudoSum(src, dst, IpProtocol.Tcp, hl + plen, cs)), cs);
  put16(h, 16, finish(s));
}
