// SendBuffer holds bytes written towards the app until the app acknowledges
// them. Large chunks are kept by reference; segments are cut as lists of
// subarrays, so bulk payload bytes are never copied on the way to the TUN.
//
// Small writes are the exception: an upstream that writes many tiny chunks
// (a server flushing a few bytes at a time) would otherwise leave one object
// per chunk in memory and one part per chunk in a segment. Chunks smaller
// than SMALL_CHUNK are copied into a shared block instead, and a segment that
// would still have more than its part limit is copied into one buffer.

/** SMALL_CHUNK is the size below which a written chunk is copied into a shared block rather than kept by reference. */
export const SMALL_CHUNK = 1024;
// Blocks start small and double while small chunks keep coming, so the memory
// a block wastes stays below the bytes of the run of small chunks it holds.
const FIRST_BLOCK = 256;
const MAX_BLOCK = 16 * 1024;

/** SendBuffer is a queue of byte chunks addressed by offset from its first unacknowledged byte. */
export class SendBuffer {
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first live chunk
  #skip = 0; // bytes already dropped from the first live chunk
  #length = 0;
  // The block small chunks are copied into; #chunks[#blockIndex] views its bytes [0, #blockUsed).
  // Bytes once written to the block never change, so views already handed out stay valid.
  #block: Uint8Array | undefined;
  #blockIndex = -1;
  #blockUsed = 0;
  #nextBlock = FIRST_BLOCK;

  /** length is the number of bytes held. */
  get length(): number {
    return this.#length;
  }

  /** chunks is the number of chunk objects held (small writes share one). */
  get chunks(): number {
    return this.#chunks.length - this.#head;
  }

  /** push appends a chunk (kept by reference, or copied when smaller than SMALL_CHUNK). */
  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    this.#length += n;
    if (n >= SMALL_CHUNK) {
      this.#chunks.push(data);
      this.#block = undefined; // a later small chunk must not extend a chunk that is no longer last
      this.#nextBlock = FIRST_BLOCK;
      return;
    }
    const b = this.#block;
    if (b && this.#blockIndex === this.#chunks.length - 1 && this.#blockUsed + n <= b.length) {
      b.set(data, this.#blockUsed);
      this.#blockUsed += n;
      this.#chunks[this.#blockIndex] = b.subarray(0, this.#blockUsed);
      return;
    }
    const fresh = new Uint8Array(Math.max(this.#nextBlock, n));
    this.#nextBlock = Math.min(this.#nextBlock * 2, MAX_BLOCK);
    fresh.set(data, 0);
    this.#block = fresh;
    this.#blockUsed = n;
    this.#blockIndex = this.#chunks.length;
    this.#chunks.push(fresh.subarray(0, n));
  }

  /** drop discards the first n bytes (acknowledged by the app). */
  drop(n: number): void {
    n = Math.min(n, this.#length);
    this.#length -= n;
    while (n > 0) {
      const c = this.#chunks[this.#head] as Uint8Array;
      const left = c.length - this.#skip;
      if (n < left) {
        this.#skip += n;
        break;
      }
      n -= left;
      this.#chunks[this.#head] = EMPTY;
      if (this.#head === this.#blockIndex) this.#block = undefined;
      this.#head++;
      this.#skip = 0;
    }
    if (this.#length === 0) {
      this.#chunks = [];
      this.#head = 0;
      this.#skip = 0;
      this.#block = undefined;
      this.#blockIndex = -1;
      return;
    }
    if (this.#head > 32 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#blockIndex -= this.#head;
      this.#head = 0;
    }
  }

  /**
   * slice returns up to len bytes starting at offset as subarrays of the held
   * chunks (no copy), or, when that would take more than maxParts subarrays,
   * as one buffer holding a copy.
   */
  slice(offset: number, len: number, maxParts = Number.POSITIVE_INFINITY): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = offset + this.#skip;
    let want = len;
    for (let i = this.#head; i < this.#chunks.length && want > 0; i++) {
      const c = this.#chunks[i] as Uint8Array;
      if (pos >= c.length) {
        pos -= c.length;
        continue;
      }
      const n = Math.min(c.length - pos, want);
      out.push(pos === 0 && n === c.length ? c : c.subarray(pos, pos + n));
      want -= n;
      pos = 0;
    }
    if (out.length <= maxParts) return out;
    const whole = new Uint8Array(len - want);
    let at = 0;
    for (const p of out) {
      whole.set(p, at);
      at += p.length;
    }
    return [whole];
  }
}

const EMPTY = new Uint8Array(0);
