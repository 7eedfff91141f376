// The download pattern of test/support/tunnel-targets.ts, importable without starting its servers.

/** pattern returns n bytes of the download pattern starting at offset `from` (byte i = (i * 31 + 7) & 255). */
export function pattern(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = ((from + i) * 31 + 7) & 255;
  return b;
}
