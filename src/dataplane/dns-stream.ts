// DNS over TCP (RFC 1035 §4.2.2, RFC 7766) served on a netstack stream: the
// app's TCP connection to devnet's DNS address is answered in-process. Each
// message is preceded by its 16-bit length; answers may go out of order
// (RFC 7766 §6.2.1.1: pipelined queries may be answered concurrently).
//
// Credit is honoured both ways and memory stays bounded whatever the app
// does: the app may send one maximal message ahead; the bytes of a query are
// granted back only once its answer has been written to the app (or it had
// none), and at most MAX_OUTSTANDING queries are being answered or waiting
// for the app's window at once. An app that sends and never reads thus
// stalls on its own TCP window, never grows a queue here.
import type { StackStream } from '../netstack/upstream.ts';

/** MessageResponder answers one DNS message (undefined drops it). */
export type MessageResponder = (msg: Uint8Array) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

/** MAX_PENDING is the most query bytes the app may have sent and not yet had answered: one maximal message. */
export const MAX_PENDING = 0xffff + 2;

/** MAX_OUTSTANDING is how many queries of one connection may be in resolution or waiting to be read at once. */
export const MAX_OUTSTANDING = 16;

/** serveDnsStream accepts a TCP flow and answers the DNS queries on it. */
export function serveDnsStream(stream: StackStream, respond: MessageResponder): void {
  let inbuf = Buffer.alloc(0);
  let credit = 0; // bytes we may write towards the app
  const out: { frame: Buffer; owed: number }[] = []; // answers waiting for credit, with the query bytes they free
  let ended = false;
  let closed = false;
  let outstanding = 0;

  const done = (owed: number): void => {
    outstanding--;
    if (closed) return;
    stream.grant(owed);
    parse();
  };
  const flush = (): void => {
    while (!closed && out.length > 0 && credit > 0) {
      const head = out[0] as { frame: Buffer; owed: number };
      const n = Math.min(head.frame.length, credit);
      stream.write(head.frame.subarray(0, n));
      credit -= n;
      if (n === head.frame.length) {
        out.shift();
        done(head.owed);
      } else head.frame = head.frame.subarray(n);
    }
    if (!closed && ended && outstanding === 0 && out.length === 0) {
      closed = true;
      stream.end();
    }
  };
  const parse = (): void => {
    while (!closed && outstanding < MAX_OUTSTANDING && inbuf.length >= 2) {
      const len = inbuf.readUInt16BE(0);
      if (inbuf.length < 2 + len) break;
      const msg = inbuf.subarray(2, 2 + len);
      inbuf = inbuf.subarray(2 + len);
      outstanding++;
      Promise.resolve()
        .then(() => respond(msg))
        .catch(() => undefined)
        .then((answer) => {
          if (closed) return;
          if (!answer) return done(2 + len);
          const frame = Buffer.allocUnsafe(2 + answer.byteLength);
          frame.writeUInt16BE(answer.byteLength, 0);
          frame.set(answer, 2);
          out.push({ frame, owed: 2 + len });
          flush();
        });
    }
    flush();
  };
  stream.accept({
    write: (data) => {
      if (closed) return;
      inbuf = inbuf.length ? Buffer.concat([inbuf, data]) : Buffer.from(data);
      if (inbuf.length > MAX_PENDING) {
        // More than we granted: the stack never does this, but a bound is a bound.
        closed = true;
        stream.reset();
        return;
      }
      parse();
    },
    grant: (n) => {
      credit += n;
      flush();
    },
    end: () => {
      ended = true;
      flush();
    },
    reset: () => {
      closed = true;
      out.length = 0;
      inbuf = Buffer.alloc(0);
    },
  });
  stream.grant(MAX_PENDING);
}
