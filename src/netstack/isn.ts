// Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), with
// M a 4 µs clock and F a keyed pseudo-random function. F is HalfSipHash-2-4
// (Aumasson & Bernstein, 32-bit SipHash) keyed with 64 secret bits.

function rotl(x: number, b: number): number {
  return ((x << b) | (x >>> (32 - b))) >>> 0;
}

/** halfSipHash24 is HalfSipHash-2-4 of data under an 8-byte key, as a 32-bit unsigned number. */
export function halfSipHash24(key: Uint8Array, data: Uint8Array): number {
  const k0 =
    ((key[0] as number) | ((key[1] as number) << 8) | ((key[2] as number) << 16) | ((key[3] as number) << 24)) >>> 0;
  const k1 =
    ((key[4] as number) | ((key[5] as number) << 8) | ((key[6] as number) << 16) | ((key[7] as number) << 24)) >>> 0;
  let v0 = k0;
  let v1 = k1;
  let v2 = (0x6c796765 ^ k0) >>> 0;
  let v3 = (0x74656462 ^ k1) >>> 0;
  const round = () => {
    v0 = (v0 + v1) >>> 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) >>> 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) >>> 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) >>> 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  };
  const n = data.length;
  const end = n - (n % 4);
  for (let i = 0; i < end; i += 4) {
    const m =
      ((data[i] as number) |
        ((data[i + 1] as number) << 8) |
        ((data[i + 2] as number) << 16) |
        ((data[i + 3] as number) << 24)) >>>
      0;
    v3 = (v3 ^ m) >>> 0;
    round();
    round();
    v0 = (v0 ^ m) >>> 0;
  }
  let b = (n << 24) >>> 0;
  for (let i = end, s = 0; i < n; i++, s += 8) b = (b | ((data[i] as number) << s)) >>> 0;
  v3 = (v3 ^ b) >>> 0;
  round();
  round();
  v0 = (v0 ^ b) >>> 0;
  v2 = (v2 ^ 0xff) >>> 0;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

/** initialSequence is the RFC 6528 ISN for a connection at time now (ms) under an 8-byte secret. */
export function initialSequence(
  now: number,
  secret: Uint8Array,
  local: Uint8Array,
  lport: number,
  remote: Uint8Array,
  rport: number,
): number {
  const d = new Uint8Array(local.length + remote.length + 4);
  d.set(local, 0);
  d.set(remote, local.length);
  const p = local.length + remote.length;
  d[p] = lport >>> 8;
  d[p + 1] = lport & 0xff;
  d[p + 2] = rport >>> 8;
  d[p + 3] = rport & 0xff;
  const m = Math.floor(now * 250) >>> 0; // one tick per 4 µs
  return (m + halfSipHash24(secret, d)) >>> 0;
}
