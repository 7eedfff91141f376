// SendBuffer holds bytes written towards the app until the app acknowledges
// them. Chunks are kept by reference; segments are cut as lists of
// subarrays, so payload bytes are never copied on the way to the TUN.

/** SendBuffer is a queue of byte chunks addressed by offset from its first unacknowledged byte. */
export class SendBuffer {
  #chunks: Uint8Array[] = [];
  #head = 0; // index of the first live chunk
  #skip = 0; // bytes already dropped from the first live chunk
  #length = 0;

  /** length is the number of bytes held. */
  get length(): number {
    return this.#length;
  }

  /** push appends a chunk (kept by reference). */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#length += data.length;
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
      this.#head++;
      this.#skip = 0;
    }
    if (this.#head > 32 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    if (this.#length === 0) {
      this.#chunks = [];
      this.#head = 0;
      this.#skip = 0;
    }
  }

  /** slice returns up to len bytes starting at offset as subarrays of the held chunks (no copy). */
  slice(offset: number, len: number, out: Uint8Array[] = []): Uint8Array[] {
    let pos = offset + this.#skip;
    for (let i = this.#head; i < this.#chunks.length && len > 0; i++) {
      const c = this.#chunks[i] as Uint8Array;
      if (pos >= c.length) {
        pos -= c.length;
        continue;
      }
      const n = Math.min(c.length - pos, len);
      out.push(pos === 0 && n === c.length ? c : c.subarray(pos, pos + n));
      len -= n;
      pos = 0;
    }
    return out;
  }
}

const EMPTY = new Uint8Array(0);
