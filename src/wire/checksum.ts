// The Internet checksum (RFC 1071) and the pseudo-headers TCP, UDP and
// ICMPv6 cover (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1). Sums are kept as
// folded 16-bit one's-complement values, not complemented, so a caller can
// chain pseudo-header, header and payload parts and complement once.

/** ChecksumFn adds data's 16-bit one's-complement sum to initial and returns it folded (the native addon's `checksum` has this shape). */
export type ChecksumFn = (data: Uint8Array, initial?: number) => number;

/** sum16 is the pure-JS ChecksumFn: data is summed as big-endian 16-bit words, an odd last byte padded with zero. */
export function sum16(data: Uint8Array, initial = 0): number {
  let s = initial;
  const n = data.length;
  let i = 0;
  // Little-endian 32-bit loads when aligned: a sum of LE words is the
  // byte-swapped sum of BE words (RFC 1071 §2(B)), and 2^16 ≡ 1 mod 0xffff.
  if ((data.byteOffset & 3) === 0 && n >= 64) {
    const words = n >>> 2;
    const w = new Uint32Array(data.buffer, data.byteOffset, words);
    let le = 0;
    for (let k = 0; k < words; k++) le += w[k] as number;
    le = fold(le);
    s += ((le & 0xff) << 8) | (le >>> 8);
    i = words << 2;
  }
  for (; i + 1 < n; i += 2) s += ((data[i] as number) << 8) | (data[i + 1] as number);
  if (i < n) s += (data[i] as number) << 8;
  return fold(s);
}

/** fold reduces a non-negative sum of any size to 16 bits with end-around carry. */
export function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** swap16 byte-swaps a 16-bit partial sum (used when a part starts at an odd offset). */
export function swap16(s: number): number {
  return ((s & 0xff) << 8) | (s >>> 8);
}

/** finish complements a folded sum into the value written into a header. */
export function finish(s: number): number {
  return ~fold(s) & 0xffff;
}

/** pseudoSum is the partial sum of the IPv4 or IPv6 pseudo-header for upper-layer protocol `proto` and length `len`. */
export function pseudoSum(
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  len: number,
  cs: ChecksumFn = sum16,
): number {
  let s = cs(src, 0);
  s = cs(dst, s);
  // IPv4: zero, proto, 16-bit length; IPv6: 32-bit length, 3 zero bytes, next header. Same sum for len < 2^16.
  s += proto + (len >>> 16) + (len & 0xffff);
  return fold(s);
}

/** sumParts sums parts laid back to back, handling parts that start at odd offsets. */
export function sumParts(parts: readonly Uint8Array[], initial = 0, cs: ChecksumFn = sum16): number {
  let s = initial;
  let odd = false;
  for (const p of parts) {
    if (p.length === 0) continue;
    s = odd ? fold(s + swap16(cs(p, 0))) : cs(p, s);
    if (p.length & 1) odd = !odd;
  }
  return s;
}
