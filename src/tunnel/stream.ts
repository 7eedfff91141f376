// channelDuplex: a Node Duplex over a StreamChannel, for code that wants the
// stream API (pipes, intercept handlers, tests). Credit is released as the
// Readable side is consumed, so a slow consumer slows the peer, never grows a
// buffer beyond the channel window.
import { Duplex } from 'node:stream';
import type { StreamChannel } from './channel.ts';

/** channelDuplex wraps a stream channel in a Node Duplex (end() = half-close, destroy() = RESET). */
export function channelDuplex(ch: StreamChannel): Duplex {
  let held = 0; // bytes pushed while the readable buffer was full: released on the next _read
  let pendingWrite: ((err?: Error | null) => void) | undefined;
  const d = new Duplex({
    allowHalfOpen: true,
    read() {
      if (held > 0) {
        const n = held;
        held = 0;
        ch.release(n);
      }
    },
    write(chunk: Buffer, _enc, cb) {
      if (ch.state !== 'open') return cb(new Error('channel closed'));
      if (ch.write(chunk)) cb();
      else pendingWrite = cb;
    },
    final(cb) {
      ch.end();
      cb();
    },
    destroy(err, cb) {
      if (ch.state !== 'closed') ch.reset('cancel', err?.message ?? 'destroyed');
      // Bytes still held (and those in the readable buffer, already released)
      // are dropped with the stream: give the held ones back too.
      if (held > 0) {
        const n = held;
        held = 0;
        ch.release(n);
      }
      cb(err);
    },
  });
  ch.on('data', (chunk) => {
    if (d.push(chunk)) ch.release(chunk.length);
    else held += chunk.length;
  });
  ch.on('drain', () => {
    const cb = pendingWrite;
    pendingWrite = undefined;
    cb?.();
  });
  ch.on('end', () => d.push(null));
  ch.on('close', (end) => {
    const cb = pendingWrite;
    pendingWrite = undefined;
    if (end.kind === 'closed') {
      cb?.();
      return;
    }
    const err = new Error(
      end.kind === 'reset' ? `channel reset by ${end.by}: ${end.code} ${end.message}` : end.message,
    );
    cb?.(err);
    d.destroy(err);
  });
  return d;
}
