// Datagram flows of the netstack: UDP keyed by 4-tuple with boundaries kept
// and an idle timeout, rejection as ICMP unreachable, ICMP echo to the
// upstream, and IPv4/IPv6 fragment reassembly and fragmentation.
import test from 'ava';
import {
  emitIcmp,
  emitIpv4,
  emitIpv6,
  emitUdp,
  IpProtocol,
  Ipv4Packet,
  Ipv6Packet,
  ipv6HeaderLen,
  parseAddress,
  UdpDatagram,
} from '../src/wire/index.ts';
import { Harness, TestUpstream } from './support/netstack-harness.ts';

const A4 = parseAddress('10.0.0.1') as Uint8Array;
const B4 = parseAddress('10.1.0.1') as Uint8Array;
const A6 = parseAddress('fd00::1') as Uint8Array;
const B6 = parseAddress('fd01::1') as Uint8Array;

function udp(v: 4 | 6, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const [src, dst] = v === 4 ? [A4, B4] : [A6, B6];
  const l4 = new Uint8Array(8 + payload.length);
  emitUdp({ srcPort: sport, dstPort: dport }, l4, 0, src, dst, [payload]);
  l4.set(payload, 8);
  return ip(v, IpProtocol.Udp, l4);
}

function ip(
  v: 4 | 6,
  proto: number,
  l4: Uint8Array,
  frag?: { offset: number; more: boolean; ident: number },
): Uint8Array {
  if (v === 4) {
    const b = new Uint8Array(20 + l4.length);
    emitIpv4(
      {
        src: A4,
        dst: B4,
        protocol: proto,
        payloadLen: l4.length,
        ttl: 64,
        ident: frag?.ident ?? 0,
        moreFrags: frag?.more ?? false,
        fragOffset: frag?.offset ?? 0,
      },
      b,
      0,
    );
    b.set(l4, 20);
    return b;
  }
  const r = { src: A6, dst: B6, protocol: proto, payloadLen: l4.length, hopLimit: 64, ...(frag ? { frag } : {}) };
  const b = new Uint8Array(ipv6HeaderLen(r) + l4.length);
  emitIpv6(r, b, 0);
  b.set(l4, ipv6HeaderLen(r));
  return b;
}

/** fragments splits a UDP datagram's IP payload into fragments of at most `size` bytes (a multiple of 8). */
function fragments(v: 4 | 6, payload: Uint8Array, size: number, ident: number): Uint8Array[] {
  const whole = udp(v, 5000, 53, payload);
  const l4 = whole.subarray(v === 4 ? 20 : 40);
  const out: Uint8Array[] = [];
  for (let off = 0; off < l4.length; off += size) {
    const part = l4.subarray(off, Math.min(l4.length, off + size));
    out.push(ip(v, IpProtocol.Udp, part, { offset: off, more: off + size < l4.length, ident }));
  }
  return out;
}

for (const v of [4, 6] as const) {
  test(`udp${v}: datagrams of one 4-tuple share a flow and keep their boundaries both ways`, (t) => {
    const h = new Harness();
    h.raw(udp(v, 5000, 53, Buffer.from('one')));
    h.raw(udp(v, 5000, 53, Buffer.from('two')));
    h.raw(udp(v, 5001, 53, Buffer.from('other')));
    t.is(h.up.datagramFlows.length, 2);
    const f = h.up.datagramFlows[0];
    t.like(f?.flow, { protocol: 'udp', version: v, src: { port: 5000 }, dst: { port: 53 } });
    t.deepEqual(
      f?.received.map((d) => Buffer.from(d).toString()),
      ['one', 'two'],
    );
    f?.stack.send(Buffer.from('reply'));
    h.dispatch();
    const [s] = h.take();
    t.deepEqual(s?.udp, { srcPort: 53, dstPort: 5000 });
    t.is(Buffer.from(s?.payload ?? []).toString(), 'reply');
  });

  test(`udp${v}: datagrams sent while the upstream opens are held (bounded) and passed on accept`, (t) => {
    const h = new Harness(new TestUpstream(false));
    for (let i = 0; i < 20; i++) h.raw(udp(v, 5000, 53, Buffer.from(`d${i}`)));
    const f = h.up.datagramFlows[0];
    f?.stack.accept(f.channel);
    t.is(f?.received.length, 16);
  });

  test(`udp${v}: a refused flow answers with ICMP port unreachable`, (t) => {
    const h = new Harness(new TestUpstream(false));
    h.raw(udp(v, 5000, 53, Buffer.from('x')));
    h.up.datagramFlows[0]?.stack.reject('refused');
    h.dispatch();
    const [s] = h.take();
    t.like(s?.icmp, { kind: 'dstUnreachable', code: v === 4 ? 3 : 4 });
    t.is(h.stack.datagramFlows, 0);
  });

  test(`udp${v}: an idle flow ends after the idle timeout and the upstream channel is closed`, (t) => {
    const h = new Harness(new TestUpstream(true), { udpIdleTimeout: 5000 });
    h.raw(udp(v, 5000, 53, Buffer.from('x')));
    t.is(h.stack.datagramFlows, 1);
    h.advance(30_000);
    t.is(h.stack.datagramFlows, 0);
  });

  test(`udp${v}: fragments are reassembled in any order into one datagram`, (t) => {
    const h = new Harness();
    const payload = new Uint8Array(3000).map((_, i) => i & 0xff);
    const frags = fragments(v, payload, 1200, 77);
    for (const f of [frags[2], frags[0], frags[1]]) h.raw(f as Uint8Array);
    const got = h.up.datagramFlows[0]?.received[0];
    t.deepEqual(got && Buffer.from(got), Buffer.from(payload));
    t.is(h.stack.counters.fragmentsReassembled, 1);
    t.is(h.stack.fragmentBytes, 0);
  });

  test(`udp${v}: overlapping fragments drop the datagram (RFC 5722), and partial ones expire`, (t) => {
    const h = new Harness();
    const frags = fragments(v, new Uint8Array(3000), 1200, 9);
    h.raw(frags[0] as Uint8Array);
    const overlap = fragments(v, new Uint8Array(3000), 800, 9)[1] as Uint8Array; // offset 800 overlaps 0..1200
    h.raw(overlap);
    t.is(h.up.datagramFlows.length, 0);
    t.true(h.stack.counters.fragmentsDropped >= 1);
    h.raw(frags[1] as Uint8Array);
    t.true(h.stack.fragmentBytes > 0);
    h.advance(20_000);
    t.is(h.stack.fragmentBytes, 0);
  });

  test(`udp${v}: a reply larger than the MTU leaves as fragments that reassemble to it`, (t) => {
    const h = new Harness();
    h.raw(udp(v, 5000, 53, Buffer.from('q')));
    const big = new Uint8Array(4000).map((_, i) => (i * 7) & 0xff);
    h.up.datagramFlows[0]?.stack.send(big);
    const out: Uint8Array[] = [];
    h.stack.dispatch(h.now, (p) =>
      out.push(p instanceof Uint8Array ? p : new Uint8Array(Buffer.concat(p.map((x) => Buffer.from(x))))),
    );
    t.is(out.length, 3);
    const parts: Array<{ off: number; data: Uint8Array }> = [];
    for (const p of out) {
      t.true(p.length <= 1500);
      if (v === 4) {
        const q = Ipv4Packet.check(p) as Ipv4Packet;
        parts.push({ off: q.fragOffset, data: q.payload });
      } else {
        const q = Ipv6Packet.check(p) as Ipv6Packet;
        parts.push({ off: q.fragOffset, data: q.payload });
      }
    }
    const l4 = new Uint8Array(8 + big.length);
    for (const p of parts) l4.set(p.data, p.off);
    const d = UdpDatagram.check(l4) as UdpDatagram;
    t.true(d.verifyChecksum(v === 4 ? B4 : B6, v === 4 ? A4 : A6));
    t.deepEqual(Buffer.from(d.payload), Buffer.from(big));
  });

  test(`icmp${v}: an echo request goes to the upstream and its reply returns with the app's identifier`, (t) => {
    const h = new Harness();
    const data = Buffer.from('ping!');
    const l4 = new Uint8Array(8 + data.length);
    emitIcmp({ kind: 'echoRequest', ident: 0x1234, seq: 7, data }, v, l4, 0, v === 4 ? A4 : A6, v === 4 ? B4 : B6);
    h.raw(ip(v, v === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6, l4));
    const f = h.up.datagramFlows[0];
    t.like(f?.flow, { protocol: 'icmp', src: { port: 0x1234 }, dst: { port: 0 } });
    t.is(f?.received[0]?.[0], v === 4 ? 8 : 128);
    // The upstream's ping socket answers with its own identifier.
    const reply = new Uint8Array(8 + data.length);
    emitIcmp({ kind: 'echoReply', ident: 0x9999, seq: 7, data }, v, reply, 0, v === 4 ? B4 : B6, v === 4 ? A4 : A6);
    f?.stack.send(reply);
    h.dispatch();
    t.like(h.take()[0]?.icmp, { kind: 'echoReply', ident: 0x1234, seq: 7 });
  });
}

test('udp: a datagram to port 0 and a truncated one are counted as malformed', (t) => {
  const h = new Harness();
  h.raw(udp(4, 5000, 0, Buffer.from('x')));
  h.raw(udp(4, 5000, 53, Buffer.from('hello')).subarray(0, 30));
  t.is(h.up.datagramFlows.length, 0);
  t.is(h.stack.counters.malformed, 2);
});

test('udp: a bad checksum is counted and dropped', (t) => {
  const h = new Harness();
  const p = udp(4, 5000, 53, Buffer.from('x'));
  p[p.length - 1] ^= 0xff;
  h.raw(p);
  t.is(h.stack.counters.badChecksum, 1);
  t.is(h.up.datagramFlows.length, 0);
});

test('udp: the idle timeout counts from the accept, not from the open deadline (15 s)', (t) => {
  const h = new Harness(new TestUpstream(false), { udpIdleTimeout: 2000 });
  h.raw(udp(4, 5000, 53, Buffer.from('q')));
  const f = h.up.datagramFlows[0];
  f?.stack.accept(f.channel);
  h.dispatch();
  h.advance(5000); // quiet since the accept: gone within two idle periods
  t.deepEqual(h.stack.flows(), []);
});
