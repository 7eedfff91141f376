// DNS over TCP (RFC 1035 §4.2.2, RFC 7766) served on a netstack stream: the
// app's TCP connection to devnet's DNS address is answered in-process. Each
// message is preceded by its 16-bit length; answers may go out of order.
// Credit is honoured both ways: we grant the stack room for queries, and
// write answers only within the credit the stack grants us.
import type { StackStream } from '../netstack/upstream.ts';

/** MessageResponder answers one DNS message (undefined drops it). */
export type MessageResponder = (msg: Uint8Array) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

const MAX_PENDING = 64 * 1024 + 2;

/** serveDnsStream accepts a TCP flow and answers the DNS queries on it. */
export function serveDnsStream(stream: StackStream, respond: MessageResponder): void {
  let inbuf = Buffer.alloc(0);
  let credit = 0;
  const out: Buffer[] = [];
  let ended = false;
  let inFlight = 0;
  const flush = () => {
    while (out.length > 0 && credit > 0) {
      const head = out[0] as Buffer;
      const n = Math.min(head.length, credit);
      stream.write(head.subarray(0, n));
      credit -= n;
      if (n === head.length) out.shift();
      else out[0] = head.subarray(n);
    }
    if (ended && inFlight === 0 && out.length === 0) stream.end();
  };
  stream.accept({
    write: (data) => {
      inbuf = inbuf.length ? Buffer.concat([inbuf, data]) : Buffer.from(data);
      stream.grant(data.byteLength);
      if (inbuf.length > MAX_PENDING) {
        stream.reset();
        return;
      }
      while (inbuf.length >= 2) {
        const len = inbuf.readUInt16BE(0);
        if (inbuf.length < 2 + len) break;
        const msg = inbuf.subarray(2, 2 + len);
        inbuf = inbuf.subarray(2 + len);
        inFlight++;
        Promise.resolve()
          .then(() => respond(msg))
          .catch(() => undefined)
          .then((answer) => {
            inFlight--;
            if (answer) {
              const frame = Buffer.allocUnsafe(2 + answer.byteLength);
              frame.writeUInt16BE(answer.byteLength, 0);
              frame.set(answer, 2);
              out.push(frame);
            }
            flush();
          });
      }
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
      out.length = 0;
    },
  });
  stream.grant(MAX_PENDING);
}
