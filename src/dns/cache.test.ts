import test from 'ava';
import { Packet } from 'dns2';
import { AnswerCache } from './cache.ts';

function response(rcode: number, answers: { ttl: number }[], soa?: { ttl: number; minimum: number }): Uint8Array {
  const p = new Packet();
  p.header.qr = 1;
  p.header.rcode = rcode;
  p.questions.push(new Packet.Question('a.b', 1, 1));
  for (const a of answers)
    p.answers.push(new Packet.Resource({ name: 'a.b', type: 1, class: 1, ttl: a.ttl, address: '10.0.0.1' }));
  if (soa)
    p.authorities.push(
      new Packet.Resource({
        name: 'b',
        type: 6,
        class: 1,
        ttl: soa.ttl,
        primary: 'ns.b',
        admin: 'h.b',
        serial: 1,
        refresh: 1,
        retry: 1,
        expiration: 1,
        minimum: soa.minimum,
      }),
    );
  const b = p.toBuffer();
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const ttlOf = (m: Uint8Array) => Packet.parse(Buffer.from(m)).answers[0]?.ttl;

test('a positive answer lives for its smallest TTL and its TTLs count down', (t) => {
  const c = new AnswerCache({ maxTtl: 300, negativeTtl: 30, maxEntries: 10 });
  t.is(c.put('k', response(0, [{ ttl: 10 }, { ttl: 4 }]), 1000), 4);
  t.is(ttlOf(c.get('k', 2500) as Uint8Array), 9);
  t.truthy(c.get('k', 4999));
  t.is(c.get('k', 5000), undefined);
});

test('TTLs are capped by maxTtl', (t) => {
  const c = new AnswerCache({ maxTtl: 60, negativeTtl: 30, maxEntries: 10 });
  t.is(c.put('k', response(0, [{ ttl: 86400 }]), 0), 60);
  t.is(ttlOf(c.get('k', 0) as Uint8Array), 60);
});

test('NXDOMAIN and NODATA are cached for min(SOA TTL, MINIMUM) capped by negativeTtl (RFC 2308 §5)', (t) => {
  const c = new AnswerCache({ maxTtl: 300, negativeTtl: 30, maxEntries: 10 });
  t.is(c.put('nx', response(3, [], { ttl: 20, minimum: 5 }), 0), 5);
  t.is(c.put('nodata', response(0, [], { ttl: 3, minimum: 600 }), 0), 3);
  t.is(c.put('nosoa', response(3, []), 0), 30);
  t.is(c.put('long', response(3, [], { ttl: 900, minimum: 900 }), 0), 30);
});

test('SERVFAIL, zero TTLs and malformed messages are not cached', (t) => {
  const c = new AnswerCache();
  t.is(c.put('a', response(2, []), 0), 0);
  t.is(c.put('b', response(0, [{ ttl: 0 }]), 0), 0);
  t.is(c.put('c', new Uint8Array([1, 2, 3]), 0), 0);
  t.is(c.size, 0);
});

test('the oldest entry is evicted at maxEntries; get returns independent copies', (t) => {
  const c = new AnswerCache({ maxTtl: 300, negativeTtl: 30, maxEntries: 2 });
  c.put('1', response(0, [{ ttl: 9 }]), 0);
  c.put('2', response(0, [{ ttl: 9 }]), 0);
  c.put('3', response(0, [{ ttl: 9 }]), 0);
  t.is(c.get('1', 0), undefined);
  const a = c.get('2', 0) as Uint8Array;
  a[0] = 99;
  t.not((c.get('2', 0) as Uint8Array)[0], 99);
});

test('truncated answers (TC) are never cached', (t) => {
  const c = new AnswerCache();
  const m = response(0, [{ ttl: 30 }]);
  m[2] = (m[2] as number) | 0x02;
  t.is(c.put('tc', m, 0), 0);
});

test('a Buffer view into a larger buffer is stored and served as independent copies with aged TTLs', (t) => {
  // Tunnel answers arrive as Buffer views into a frame; Buffer#slice would share their memory.
  const m = response(0, [{ ttl: 10 }]);
  const frame = Buffer.alloc(m.length + 64, 0xee);
  frame.set(m, 32);
  const c = new AnswerCache({ maxTtl: 300, negativeTtl: 30, maxEntries: 10 });
  t.is(c.put('k', frame.subarray(32, 32 + m.length), 0), 10);
  frame.fill(0);
  const a = c.get('k', 3000) as Uint8Array;
  const b = c.get('k', 3000) as Uint8Array;
  a[0] = 99;
  t.not(b[0], 99, 'two hits never share memory (a reply patched for one query must not change another)');
  t.is(ttlOf(b), 7);
});
