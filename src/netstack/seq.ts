// TCP sequence number arithmetic modulo 2^32 (RFC 9293 §3.4).

/** seqAdd is a + n modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** seqDiff is the signed distance a − b. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** seqLt is a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** seqLe is a ≤ b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** seqGt is a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** seqMax is the later of a and b. */
export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b;
}
