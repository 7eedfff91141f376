// Raw DNS message helpers for the hot path: read a query's question and EDNS
// OPT record, build error responses, walk resource records to age TTLs, and
// truncate for UDP. They work on wire bytes and never throw on bad input;
// richer editing (CNAME synthesis) uses dns2's Packet codec.
//
// Read first: RFC 1035 §4.1 (message format), RFC 6891 (EDNS0, OPT record),
// RFC 2308 (negative caching), RFC 7766 (DNS over TCP), RFC 8914 (Extended
// DNS Errors).

/** RCODE holds the response codes devnet emits (RFC 1035 §4.1.1, RFC 6891 §9). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

/** QTYPE holds the record types the naming rules look at. */
export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, AAAA: 28, SRV: 33, OPT: 41 } as const;

const HEADER = 12;
/** MAX_NAME is the longest name in wire form (RFC 1035 §2.3.4). */
const MAX_NAME = 255;

/** Edns is what a query's OPT record says (RFC 6891 §6.1.2). */
export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
}

/** Query is the parsed head of a standard query: everything the server needs to route and cache it. */
export interface Query {
  id: number;
  /** rd is the Recursion Desired bit. */
  rd: boolean;
  /** cd is the Checking Disabled bit (RFC 4035 §3.2.2), part of the cache key. */
  cd: boolean;
  /** name is the question name in lower case without the trailing dot ("" for the root). */
  name: string;
  /** plain is false when a label holds a dot or a byte outside printable ASCII: such names are never cluster names. */
  plain: boolean;
  qtype: number;
  qclass: number;
  /** questionEnd is the offset just past the question section. */
  questionEnd: number;
  edns: Edns | undefined;
}

/** QueryProblem says why a message is not a query devnet can answer, and how to reply. */
export type QueryProblem =
  | { reply: 'drop'; reason: string }
  | { reply: 'error'; rcode: number; reason: string; id: number; questionEnd: number; edns: Edns | undefined };

interface NameRead {
  name: string;
  plain: boolean;
  end: number;
}

/** readName reads an uncompressed name at off; undefined if malformed or compressed. */
function readName(msg: Uint8Array, off: number): NameRead | undefined {
  let name = '';
  let plain = true;
  let wire = 0;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off] as number;
    if (len === 0) return { name, plain, end: off + 1 };
    if (len > 63) return undefined; // compression pointer or reserved label type
    wire += len + 1;
    if (wire + 1 > MAX_NAME || off + 1 + len > msg.length) return undefined;
    let label = '';
    for (let i = off + 1; i <= off + len; i++) {
      let c = msg[i] as number;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      else if (c === 0x2e || c < 0x21 || c > 0x7e) plain = false;
      label += String.fromCharCode(c);
    }
    name = name === '' ? label : `${name}.${label}`;
    off += 1 + len;
  }
}

/** skipName returns the offset past a possibly compressed name, or -1. */
export function skipName(msg: Uint8Array, off: number): number {
  for (let wire = 0; ; ) {
    if (off >= msg.length) return -1;
    const len = msg[off] as number;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= msg.length ? off + 2 : -1;
    if (len > 63) return -1;
    wire += len + 1;
    if (wire > MAX_NAME) return -1;
    off += 1 + len;
  }
}

function u16(msg: Uint8Array, off: number): number {
  return ((msg[off] as number) << 8) | (msg[off + 1] as number);
}

/**
 * parseQuery reads a standard query. It returns a QueryProblem instead of
 * throwing: responses and too-short messages are dropped (answering them
 * could loop or reflect), other malformations get FORMERR, non-QUERY opcodes
 * NOTIMP and unknown EDNS versions BADVERS (RFC 6891 §6.1.3).
 */
export function parseQuery(msg: Uint8Array): Query | QueryProblem {
  if (msg.length < HEADER) return { reply: 'drop', reason: 'shorter than a DNS header' };
  const id = u16(msg, 0);
  const flags = u16(msg, 2);
  if (flags & 0x8000) return { reply: 'drop', reason: 'a response, not a query' };
  const fail = (rcode: number, reason: string, questionEnd = HEADER, edns?: Edns): QueryProblem => ({
    reply: 'error',
    rcode,
    reason,
    id,
    questionEnd,
    edns,
  });
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return fail(RCODE.NOTIMP, `opcode ${opcode} is not supported`);
  const qdcount = u16(msg, 4);
  const ancount = u16(msg, 6);
  const nscount = u16(msg, 8);
  const arcount = u16(msg, 10);
  if (qdcount !== 1) return fail(RCODE.FORMERR, `question count ${qdcount}, expected 1`);
  const q = readName(msg, HEADER);
  if (!q || q.end + 4 > msg.length) return fail(RCODE.FORMERR, 'malformed or compressed question name');
  const qtype = u16(msg, q.end);
  const qclass = u16(msg, q.end + 2);
  const questionEnd = q.end + 4;
  // A query's answer and authority sections should be empty; skip them so the
  // OPT record can be found, and reject counts the message cannot hold.
  let off = questionEnd;
  let edns: Edns | undefined;
  const records = ancount + nscount + arcount;
  for (let i = 0; i < records; i++) {
    const nameStart = off;
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) return fail(RCODE.FORMERR, `record ${i} is truncated`, questionEnd);
    const type = u16(msg, off);
    const rdlen = u16(msg, off + 8);
    if (off + 10 + rdlen > msg.length) return fail(RCODE.FORMERR, `record ${i} overruns the message`, questionEnd);
    if (type === QTYPE.OPT && i >= ancount + nscount) {
      if (edns) return fail(RCODE.FORMERR, 'more than one OPT record', questionEnd);
      if (msg[nameStart] !== 0) return fail(RCODE.FORMERR, 'OPT record not owned by the root', questionEnd);
      edns = {
        udpSize: u16(msg, off + 2),
        version: msg[off + 5] as number,
        dnssecOk: (msg[off + 6] as number) >= 0x80,
      };
    }
    off += 10 + rdlen;
  }
  if (edns && edns.version !== 0)
    return fail(RCODE.BADVERS, `EDNS version ${edns.version}`, questionEnd, { ...edns, version: 0 });
  return {
    id,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    name: q.name,
    plain: q.plain,
    qtype,
    qclass,
    questionEnd,
    edns,
  };
}

/** isQuery tells a parsed Query from a QueryProblem. */
export function isQuery(q: Query | QueryProblem): q is Query {
  return !('reply' in q);
}

/** optRecord encodes an OPT record advertising udpSize, with an optional Extended DNS Error (RFC 8914). */
function optRecord(
  udpSize: number,
  extRcode: number,
  dnssecOk: boolean,
  ede?: { code: number; text: string },
): Uint8Array {
  const text = ede ? new TextEncoder().encode(ede.text) : new Uint8Array(0);
  const optLen = ede ? 4 + 2 + text.length : 0;
  const out = new Uint8Array(11 + optLen);
  const dv = new DataView(out.buffer);
  // out[0] = 0: root owner name.
  dv.setUint16(1, QTYPE.OPT);
  dv.setUint16(3, udpSize);
  out[5] = extRcode;
  out[7] = dnssecOk ? 0x80 : 0;
  dv.setUint16(9, optLen);
  if (ede) {
    dv.setUint16(11, 15); // OPTION-CODE 15: Extended DNS Error
    dv.setUint16(13, 2 + text.length);
    dv.setUint16(15, ede.code);
    out.set(text, 17);
  }
  return out;
}

/** ADVERTISED_UDP_SIZE is the EDNS payload size devnet advertises (the DNS Flag Day 2020 value). */
export const ADVERTISED_UDP_SIZE = 1232;

/**
 * errorResponse builds a response carrying only the header, the question
 * (when it could be read) and, if the query had EDNS, an OPT record with an
 * optional Extended DNS Error explaining the failure.
 */
export function errorResponse(
  msg: Uint8Array,
  p: { id: number; questionEnd: number; edns: Edns | undefined },
  rcode: number,
  ede?: { code: number; text: string },
): Uint8Array {
  const hasQuestion = p.questionEnd > HEADER;
  const opt = p.edns ? optRecord(ADVERTISED_UDP_SIZE, rcode >> 4, p.edns.dnssecOk, ede) : undefined;
  const out = new Uint8Array(p.questionEnd + (opt?.length ?? 0));
  out.set(msg.subarray(0, p.questionEnd));
  const dv = new DataView(out.buffer);
  dv.setUint16(0, p.id);
  const opcodeRd = (msg[2] as number) & 0x79; // keep OPCODE and RD
  out[2] = 0x80 | opcodeRd;
  out[3] = 0x80 | (rcode & 0xf); // RA, RCODE
  dv.setUint16(4, hasQuestion ? 1 : 0);
  dv.setUint16(6, 0);
  dv.setUint16(8, 0);
  dv.setUint16(10, opt ? 1 : 0);
  if (opt) out.set(opt, p.questionEnd);
  return out;
}

/** rcodeOf reads a response's 4-bit header RCODE. */
export function rcodeOf(msg: Uint8Array): number {
  return msg.length >= HEADER ? (msg[3] as number) & 0xf : RCODE.SERVFAIL;
}

/** RecordWalk is where a response's TTLs live and what they say. */
export interface RecordWalk {
  /** ttlOffsets are the offsets of every TTL field except the OPT record's (which holds flags). */
  ttlOffsets: number[];
  /** minTtl is the smallest TTL in the answer section, or undefined when it is empty. */
  minAnswerTtl: number | undefined;
  /** negativeTtl is min(SOA TTL, SOA MINIMUM) of an authority-section SOA (RFC 2308 §5), if any. */
  negativeTtl: number | undefined;
  answers: number;
}

/** walkRecords finds every TTL of a response; undefined if the message is malformed. */
export function walkRecords(msg: Uint8Array): RecordWalk | undefined {
  if (msg.length < HEADER) return undefined;
  const qd = u16(msg, 4);
  const an = u16(msg, 6);
  const ns = u16(msg, 8);
  const ar = u16(msg, 10);
  let off = HEADER;
  for (let i = 0; i < qd; i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 4 > msg.length) return undefined;
    off += 4;
  }
  const walk: RecordWalk = { ttlOffsets: [], minAnswerTtl: undefined, negativeTtl: undefined, answers: an };
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  for (let i = 0; i < an + ns + ar; i++) {
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) return undefined;
    const type = dv.getUint16(off);
    const ttl = dv.getUint32(off + 4);
    const rdlen = dv.getUint16(off + 8);
    if (off + 10 + rdlen > msg.length) return undefined;
    if (type !== QTYPE.OPT) walk.ttlOffsets.push(off + 4);
    if (i < an) walk.minAnswerTtl = Math.min(walk.minAnswerTtl ?? ttl, ttl);
    else if (i < an + ns && type === QTYPE.SOA) {
      // SOA RDATA: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM.
      let r = skipName(msg, off + 10);
      if (r >= 0) r = skipName(msg, r);
      if (r >= 0 && r + 20 <= off + 10 + rdlen) walk.negativeTtl = Math.min(ttl, dv.getUint32(r + 16));
    }
    off += 10 + rdlen;
  }
  return walk;
}

/** truncateForUdp returns msg if it fits in limit bytes; else the header, question and OPT record with TC set (RFC 1035 §4.2.1, RFC 6891 §7). */
export function truncateForUdp(msg: Uint8Array, questionEnd: number, limit: number): Uint8Array {
  if (msg.length <= limit) return msg;
  // Keep the OPT record so the client still sees EDNS (RFC 6891 §7).
  let opt: Uint8Array | undefined;
  const an = u16(msg, 6);
  const ns = u16(msg, 8);
  const ar = u16(msg, 10);
  let off = questionEnd;
  for (let i = 0; i < an + ns + ar && off >= 0; i++) {
    const start = off;
    off = skipName(msg, off);
    if (off < 0 || off + 10 > msg.length) break;
    const end = off + 10 + u16(msg, off + 8);
    if (end > msg.length) break;
    if (u16(msg, off) === QTYPE.OPT && msg[start] === 0) opt = msg.subarray(start, end);
    off = end;
  }
  const out = new Uint8Array(questionEnd + (opt?.length ?? 0));
  out.set(msg.subarray(0, questionEnd));
  out[2] = (out[2] as number) | 0x02; // TC
  out[6] = out[7] = out[8] = out[9] = out[10] = 0;
  out[11] = opt ? 1 : 0;
  if (opt) out.set(opt, questionEnd);
  return out;
}

/** encodeQuery builds a standard recursive query for name/qtype, with EDNS when edns is given. */
export function encodeQuery(
  id: number,
  name: string,
  qtype: number,
  qclass: number,
  edns?: Edns,
  cd = false,
): Uint8Array {
  const labels = name === '' ? [] : name.split('.');
  let nameLen = 1;
  for (const l of labels) nameLen += 1 + l.length;
  const opt = edns ? optRecord(edns.udpSize, 0, edns.dnssecOk) : undefined;
  const out = new Uint8Array(HEADER + nameLen + 4 + (opt?.length ?? 0));
  const dv = new DataView(out.buffer);
  dv.setUint16(0, id);
  out[2] = 0x01; // RD
  out[3] = cd ? 0x10 : 0;
  dv.setUint16(4, 1);
  dv.setUint16(10, opt ? 1 : 0);
  let off = HEADER;
  for (const l of labels) {
    out[off++] = l.length;
    for (let i = 0; i < l.length; i++) out[off++] = l.charCodeAt(i) & 0xff;
  }
  out[off++] = 0;
  dv.setUint16(off, qtype);
  dv.setUint16(off + 2, qclass);
  if (opt) out.set(opt, off + 4);
  return out;
}

/** questionMatches checks that a response answers the same question as a query, ignoring case (RFC 5452 §9.1). */
export function questionMatches(query: Uint8Array, response: Uint8Array): boolean {
  if (response.length < HEADER || u16(response, 4) !== 1) return false;
  const a = readName(query, HEADER);
  const b = readName(response, HEADER);
  if (!a || !b || a.name !== b.name || b.end + 4 > response.length || a.end + 4 > query.length) return false;
  return u16(query, a.end) === u16(response, b.end) && u16(query, a.end + 2) === u16(response, b.end + 2);
}
