// An in-memory carrier pair for tests and benchmarks: what one end writes,
// the other reads, like a socket pair. A carrier can be told to black-hole
// (swallow everything it is given while staying open), which is how a dead
// port-forward looks (USERS.md: kubevpn saw black holes of minutes).
import { Duplex } from 'node:stream';

/** MemoryCarrier is one end of an in-memory byte stream. */
export class MemoryCarrier extends Duplex {
  /** blackhole: when true, bytes written here vanish (the stream stays open). */
  blackhole = false;
  /** written counts bytes written to this end. */
  written = 0;
  #peer: MemoryCarrier | undefined;

  /** pair returns two connected ends. */
  static pair(): [MemoryCarrier, MemoryCarrier] {
    const a = new MemoryCarrier();
    const b = new MemoryCarrier();
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written += chunk.length;
    const peer = this.#peer;
    // Deliver on a later turn, as a socket would: no re-entrancy between the ends.
    if (!this.blackhole && peer) setImmediate(() => peer.destroyed || peer.push(chunk));
    cb();
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    const all = Buffer.concat(chunks.map((c) => c.chunk));
    this._write(all, 'binary', cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.#peer;
    if (!this.blackhole && peer) setImmediate(() => peer.destroyed || peer.push(null));
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const p = this.#peer;
    this.#peer = undefined;
    if (p && !this.blackhole) setImmediate(() => p.destroy());
    cb(err);
  }
}
