import test from 'ava';
import fc from 'fast-check';
import {
  encodeQuery,
  errorResponse,
  isQuery,
  parseQuery,
  questionMatches,
  RCODE,
  truncateForUdp,
  walkRecords,
} from './message.ts';

test('parseQuery reads the question and EDNS of an encoded query', (t) => {
  const q = parseQuery(encodeQuery(0x1234, 'Hello.Demo', 28, 1, { udpSize: 4096, version: 0, dnssecOk: true }, true));
  if (!isQuery(q)) return t.fail(q.reason);
  t.is(q.id, 0x1234);
  t.is(q.name, 'hello.demo');
  t.true(q.plain && q.rd && q.cd);
  t.is(q.qtype, 28);
  t.deepEqual(q.edns, { udpSize: 4096, version: 0, dnssecOk: true });
});

test('parseQuery marks names with dots or control bytes inside a label as not plain', (t) => {
  const m = encodeQuery(1, 'ab', 1, 1);
  m[13] = 0x2e; // 'a' → '.'
  const q = parseQuery(m);
  t.true(isQuery(q) && !q.plain);
});

test('parseQuery: responses and short messages are dropped, other problems get an rcode', (t) => {
  t.like(parseQuery(new Uint8Array(5)), { reply: 'drop' });
  const resp = encodeQuery(1, 'a', 1, 1);
  resp[2] |= 0x80;
  t.like(parseQuery(resp), { reply: 'drop' });
  const notify = encodeQuery(1, 'a', 1, 1);
  notify[2] |= 4 << 3;
  t.like(parseQuery(notify), { reply: 'error', rcode: RCODE.NOTIMP });
  const v1 = encodeQuery(1, 'a', 1, 1, { udpSize: 1232, version: 0, dnssecOk: false });
  v1[v1.length - 5] = 1; // EDNS version byte
  t.like(parseQuery(v1), { reply: 'error', rcode: RCODE.BADVERS });
  const twoOpt = encodeQuery(1, 'a', 1, 1, { udpSize: 1232, version: 0, dnssecOk: false });
  const doubled = new Uint8Array([...twoOpt, ...twoOpt.subarray(twoOpt.length - 11)]);
  doubled[11] = 2;
  t.like(parseQuery(doubled), { reply: 'error', rcode: RCODE.FORMERR });
});

test('errorResponse keeps ID, question and EDNS and sets the rcode (BADVERS via OPT)', (t) => {
  const m = encodeQuery(0xbeef, 'x.y', 1, 1, { udpSize: 1232, version: 0, dnssecOk: false });
  const q = parseQuery(m);
  if (!isQuery(q)) return t.fail();
  const r = errorResponse(m, q, RCODE.BADVERS, { code: 23, text: 'why' });
  t.is((r[0] << 8) | r[1], 0xbeef);
  t.is(r[2] & 0x80, 0x80);
  t.is(r[3] & 0xf, 0);
  t.is(r[11], 1);
  t.true(questionMatches(m, r));
  const walk = walkRecords(r);
  t.truthy(walk);
  t.deepEqual(walk?.ttlOffsets, []); // the OPT "TTL" holds flags and is never aged
});

test('truncateForUdp keeps header, question and OPT with TC set', (t) => {
  const m = encodeQuery(1, 'big', 1, 1, { udpSize: 512, version: 0, dnssecOk: false });
  const q = parseQuery(m);
  if (!isQuery(q)) return t.fail();
  const big = new Uint8Array(700);
  big.set(m.subarray(0, q.questionEnd));
  big[7] = 1; // pretend one answer that is cut off
  const out = truncateForUdp(big, q.questionEnd, 512);
  t.is(out.length, q.questionEnd);
  t.is(out[2] & 0x02, 0x02);
  t.is(out[7], 0);
  t.is(truncateForUdp(m, q.questionEnd, 512), m);
});

test('parseQuery and walkRecords never throw on arbitrary bytes (property)', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const q = parseQuery(bytes);
      if (isQuery(q)) t.true(q.questionEnd <= bytes.length);
      walkRecords(bytes);
    }),
    { numRuns: 2000, seed: 6 },
  );
  // Mutations of a valid query: header counts, lengths and labels flipped.
  const base = encodeQuery(1, 'hello.demo.svc.cluster.local', 1, 1, { udpSize: 1232, version: 0, dnssecOk: false });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      (edits) => {
        const m = Uint8Array.from(base);
        for (const [i, v] of edits) m[i] = v;
        parseQuery(m);
        walkRecords(m);
      },
    ),
    { numRuns: 2000, seed: 7 },
  );
  t.pass();
});
