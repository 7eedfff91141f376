// Just enough of the DNS wire format (RFC 1035 §4.1) to rewrite a query's
// question name for search-list expansion and to match answers to queries.
// Pure functions; malformed input gives undefined, never an exception.

/** Question is a parsed DNS query with its one question. */
export interface Question {
  id: number;
  flags: number;
  name: string;
  qtype: number;
  qclass: number;
  /** rest is everything after the question (answer/authority/additional sections, e.g. the EDNS OPT record). */
  rest: Uint8Array;
  counts: [an: number, ns: number, ar: number];
}

/** parseQuestion parses a DNS message that carries exactly one question with an uncompressed name. */
export function parseQuestion(msg: Uint8Array): Question | undefined {
  if (msg.byteLength < 12) return undefined;
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (v.getUint16(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.byteLength) return undefined;
    const len = msg[off]!;
    off++;
    if (len === 0) break;
    if (len > 63 || off + len > msg.byteLength) return undefined; // compression pointers have no place in a question
    labels.push(Buffer.from(msg.subarray(off, off + len)).toString('latin1'));
    off += len;
  }
  if (off + 4 > msg.byteLength) return undefined;
  return {
    id: v.getUint16(0),
    flags: v.getUint16(2),
    name: labels.join('.'),
    qtype: v.getUint16(off),
    qclass: v.getUint16(off + 2),
    rest: msg.subarray(off + 4),
    counts: [v.getUint16(6), v.getUint16(8), v.getUint16(10)],
  };
}

/** encodeName writes a domain name as labels; undefined when a label or the name is too long. */
export function encodeName(name: string): Buffer | undefined {
  const parts = name === '' ? [] : name.split('.');
  const out: Buffer[] = [];
  let total = 1;
  for (const p of parts) {
    const b = Buffer.from(p, 'latin1');
    if (b.length === 0 || b.length > 63) return undefined;
    total += b.length + 1;
    out.push(Buffer.from([b.length]), b);
  }
  if (total > 255) return undefined;
  out.push(Buffer.from([0]));
  return Buffer.concat(out);
}

/** buildQuery returns `q` with its question name replaced and its id set to `id`. */
export function buildQuery(q: Question, name: string, id: number): Buffer | undefined {
  const n = encodeName(name);
  if (!n) return undefined;
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(q.flags, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(q.counts[0], 6);
  h.writeUInt16BE(q.counts[1], 8);
  h.writeUInt16BE(q.counts[2], 10);
  const t = Buffer.alloc(4);
  t.writeUInt16BE(q.qtype, 0);
  t.writeUInt16BE(q.qclass, 2);
  return Buffer.concat([h, n, t, q.rest]);
}

/** answerSummary reads an answer's id, truncation bit, rcode and answer count; undefined if it is no answer. */
export function answerSummary(
  msg: Uint8Array,
): { id: number; truncated: boolean; rcode: number; answers: number } | undefined {
  if (msg.byteLength < 12) return undefined;
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const flags = v.getUint16(2);
  if ((flags & 0x8000) === 0) return undefined; // QR must be set
  return { id: v.getUint16(0), truncated: (flags & 0x0200) !== 0, rcode: flags & 0x000f, answers: v.getUint16(6) };
}

/** withId returns a copy of a DNS message with its id replaced. */
export function withId(msg: Uint8Array, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id, 0);
  return out;
}
