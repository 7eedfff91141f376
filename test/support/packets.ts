// Minimal IPv4 packet building and parsing for tun tests: just enough UDP and
// ICMP echo to play the OS against a device and to reflect traffic. The real
// codecs live in src/wire; this file keeps the tun tests independent of them.

/** sum16 is the RFC 1071 one's-complement sum of data, added to initial. */
export function sum16(data: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < data.length; i += 2) s += ((data[i] as number) << 8) | (data[i + 1] as number);
  if (data.length & 1) s += (data[data.length - 1] as number) << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function addr(s: string): number[] {
  return s.split('.').map(Number);
}

function ipv4(src: string, dst: string, proto: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  p[8] = 64;
  p[9] = proto;
  p.set(addr(src), 12);
  p.set(addr(dst), 16);
  v.setUint16(10, ~sum16(p.subarray(0, 20)) & 0xffff);
  p.set(payload, 20);
  return p;
}

/** udp4 builds an IPv4 UDP packet with a correct checksum. */
export function udp4(src: string, sport: number, dst: string, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, u.length);
  u.set(data, 8);
  const pseudo = new Uint8Array(12);
  pseudo.set(addr(src), 0);
  pseudo.set(addr(dst), 4);
  pseudo[9] = 17;
  new DataView(pseudo.buffer).setUint16(10, u.length);
  v.setUint16(6, ~sum16(u, sum16(pseudo)) & 0xffff || 0xffff);
  return ipv4(src, dst, 17, u);
}

/** echo4 builds an ICMPv4 echo request (type 8) or reply (type 0). */
export function echo4(src: string, dst: string, type: 0 | 8, id: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const v = new DataView(m.buffer);
  m[0] = type;
  v.setUint16(4, id);
  v.setUint16(6, seq);
  m.set(data, 8);
  v.setUint16(2, ~sum16(m) & 0xffff);
  return ipv4(src, dst, 1, m);
}

/** Parsed4 is what the tests need of an IPv4 packet. */
export interface Parsed4 {
  proto: number;
  src: string;
  dst: string;
  payload: Uint8Array;
}

/** parse4 reads an IPv4 packet, or undefined for anything else. */
export function parse4(p: Uint8Array): Parsed4 | undefined {
  if (p.length < 20 || (p[0] as number) >> 4 !== 4) return undefined;
  const ihl = ((p[0] as number) & 15) * 4;
  const total = ((p[2] as number) << 8) | (p[3] as number);
  if (total > p.length || ihl < 20) return undefined;
  return {
    proto: p[9] as number,
    src: Array.from(p.subarray(12, 16)).join('.'),
    dst: Array.from(p.subarray(16, 20)).join('.'),
    payload: p.subarray(ihl, total),
  };
}

/** reflect answers an ICMP echo request with a reply and echoes a UDP datagram to its sender. */
export function reflect(p: Uint8Array): Uint8Array | undefined {
  const ip = parse4(p);
  if (!ip) return undefined;
  const v = new DataView(ip.payload.buffer, ip.payload.byteOffset, ip.payload.byteLength);
  if (ip.proto === 1 && ip.payload[0] === 8) {
    return echo4(ip.dst, ip.src, 0, v.getUint16(4), v.getUint16(6), ip.payload.subarray(8));
  }
  if (ip.proto === 17 && ip.payload.length >= 8) {
    return udp4(ip.dst, v.getUint16(2), ip.src, v.getUint16(0), ip.payload.subarray(8));
  }
  return undefined;
}
