// src/wire: golden bytes captured from the Linux kernel through a TUN, and
// property tests (fast-check) that parse(emit(x)) = x and that random or
// truncated bytes never throw.
import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import fc from 'fast-check';
import {
  emitIcmp,
  emitIpv4,
  emitIpv6,
  emitTcp,
  emitUdp,
  finish,
  formatAddress,
  IcmpMessage,
  type IcmpRepr,
  IpProtocol,
  Ipv4Packet,
  type Ipv4Repr,
  Ipv6Packet,
  type Ipv6Repr,
  icmpLen,
  ipv6HeaderLen,
  parseAddress,
  parseIcmp,
  parseIpv4,
  parseIpv6,
  parseTcp,
  parseUdp,
  pseudoSum,
  sum16,
  sumParts,
  TcpFlags,
  type TcpRepr,
  TcpSegment,
  tcpHeaderLen,
  UdpDatagram,
} from '../src/wire/index.ts';

/** same compares reprs structurally (fast-check builds null-prototype records). */
const same = (a: unknown, b: unknown) => isDeepStrictEqual(structuredClone(a), structuredClone(b));
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

// Captured from Linux 6.x through a TUN (checksums computed by the kernel).
const GOLDEN = {
  syn4: '4500003cc886400040065b8a0ad500010ad50101e4120050107ce56800000000a002faf06b850000020405b40402080a24c9cbca000000000103030a',
  syn6: '6002984700280640fd210003000000000000000000000001fd210003000100000000000000000001b5500050cec5d8a900000000a002fd20ad860000020405a00402080a24762197000000000103030a',
  udp4: '450000210b9d4000401118840ad500010ad50101d9420035000dcbde68656c6c6f',
  udp6: '600392b5000d1140fd210003000000000000000000000001fd21000300010000000000000000000185ae0035000d3bd268656c6c6f',
  ping4: '45000024d3a94000400150840ad500010ad5010108008f665c8800010001020304050607',
  ping6:
    '600a885b00103a40fd210003000000000000000000000001fd21000300010000000000000000000180001c5c5cfb00010001020304050607',
};

test('wire: a kernel IPv4 SYN parses with its options and checksums', (t) => {
  const ip = Ipv4Packet.check(hex(GOLDEN.syn4));
  if (!ip) return t.fail('ipv4 view');
  t.true(ip.verifyChecksum());
  t.is(formatAddress(ip.src), '10.213.0.1');
  t.is(formatAddress(ip.dst), '10.213.1.1');
  t.is(ip.protocol, IpProtocol.Tcp);
  t.true(ip.dontFrag);
  const seg = TcpSegment.check(ip.payload);
  if (!seg) return t.fail('tcp view');
  t.true(seg.verifyChecksum(ip.src, ip.dst));
  t.deepEqual(parseTcp(seg), {
    srcPort: 0xe412,
    dstPort: 80,
    seq: 0x107ce568,
    ack: 0,
    flags: TcpFlags.SYN,
    window: 64240,
    mss: 1460,
    sackPermitted: true,
    timestamp: { value: 0x24c9cbca, echo: 0 },
    wscale: 10,
  });
});

test('wire: a kernel IPv6 SYN parses and its checksum verifies', (t) => {
  const ip = Ipv6Packet.check(hex(GOLDEN.syn6));
  if (!ip) return t.fail('ipv6 view');
  t.is(formatAddress(ip.src), 'fd21:3::1');
  t.is(formatAddress(ip.dst), 'fd21:3:1::1');
  t.is(ip.protocol, IpProtocol.Tcp);
  const seg = TcpSegment.check(ip.payload);
  if (!seg) return t.fail('tcp view');
  t.true(seg.verifyChecksum(ip.src, ip.dst));
  t.is(parseTcp(seg)?.mss, 1440);
});

test('wire: kernel UDP datagrams parse and verify over IPv4 and IPv6', (t) => {
  for (const g of [GOLDEN.udp4, GOLDEN.udp6]) {
    const b = hex(g);
    const ip = b[0] === 0x45 ? Ipv4Packet.check(b) : Ipv6Packet.check(b);
    if (!ip) return t.fail('ip view');
    const d = UdpDatagram.check(ip.payload);
    if (!d) return t.fail('udp view');
    t.true(d.verifyChecksum(ip.src, ip.dst));
    t.deepEqual(parseUdp(d), { srcPort: d.srcPort, dstPort: 53 });
    t.is(Buffer.from(d.payload).toString(), 'hello');
  }
});

test('wire: kernel ICMP echo requests parse and verify (ICMPv6 with the pseudo-header)', (t) => {
  const ip4 = Ipv4Packet.check(hex(GOLDEN.ping4));
  const m4 = ip4 && IcmpMessage.check(ip4.payload);
  if (!m4) return t.fail('icmp view');
  t.true(m4.verifyChecksum());
  t.like(parseIcmp(m4, 4), { kind: 'echoRequest', ident: 0x5c88, seq: 1 });
  const ip6 = Ipv6Packet.check(hex(GOLDEN.ping6));
  const m6 = ip6 && IcmpMessage.check(ip6.payload);
  if (!ip6 || !m6) return t.fail('icmpv6 view');
  t.true(m6.verifyChecksum(ip6.src, ip6.dst));
  t.like(parseIcmp(m6, 6), { kind: 'echoRequest', ident: 0x5cfb, seq: 1 });
});

test('wire: re-emitting the golden packets reproduces their bytes', (t) => {
  // IPv4 + TCP SYN.
  const g = hex(GOLDEN.syn4);
  const ip = Ipv4Packet.check(g) as Ipv4Packet;
  const seg = TcpSegment.check(ip.payload) as TcpSegment;
  const r = parseTcp(seg) as TcpRepr;
  const out = new Uint8Array(g.length);
  emitIpv4({ ...parseIpv4(ip), payloadLen: seg.buf.length }, out, 0);
  // Option order differs from Linux's (MSS, SACK-perm, TS, NOP, WS), so compare what is order-free.
  emitTcp(r, out, 20, ip.src, ip.dst, []);
  t.deepEqual(out.subarray(0, 20), g.subarray(0, 20));
  t.deepEqual(parseTcp(TcpSegment.check(out.subarray(20)) as TcpSegment), r);
  t.true((TcpSegment.check(out.subarray(20)) as TcpSegment).verifyChecksum(ip.src, ip.dst));
  // UDP over IPv6 is byte-identical.
  const u = hex(GOLDEN.udp6);
  const ip6 = Ipv6Packet.check(u) as Ipv6Packet;
  const d = UdpDatagram.check(ip6.payload) as UdpDatagram;
  const o6 = new Uint8Array(u.length);
  emitIpv6(parseIpv6(ip6), o6, 0);
  o6.set(u.subarray(1, 4), 1); // flow label and traffic class are not emitted
  emitUdp(parseUdp(d), o6, 40, ip6.src, ip6.dst, [d.payload]);
  o6.set(d.payload, 48);
  t.deepEqual(o6, u);
  // ICMPv4 echo is byte-identical.
  const p = hex(GOLDEN.ping4);
  const ip4 = Ipv4Packet.check(p) as Ipv4Packet;
  const m = parseIcmp(IcmpMessage.check(ip4.payload) as IcmpMessage, 4);
  const o4 = new Uint8Array(p.length);
  o4.set(p.subarray(0, 20));
  emitIcmp(m, 4, o4, 20);
  t.deepEqual(o4, p);
});

test('wire: the IPv4 header checksum matches the RFC 1071 example', (t) => {
  // A classic example header with checksum 0xb861.
  const h = hex('45000073000040004011b861c0a80001c0a800c7');
  t.is(sum16(h), 0xffff);
  h[10] = 0;
  h[11] = 0;
  t.is(finish(sum16(h)), 0xb861);
});

function refSum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += ((b[i] as number) << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

test('wire: sum16 (aligned fast path) and sumParts (odd splits) agree with a byte-wise reference', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(8), fc.nat(3000), (bytes, shift, cut) => {
      const buf = new Uint8Array(bytes.length + shift);
      buf.set(bytes, shift);
      const b = buf.subarray(shift);
      const ref = refSum(bytes);
      const c = Math.min(cut, b.length);
      const folded = (x: number) => (x === 0xffff ? 0 : x);
      return folded(sum16(b)) === folded(ref) && folded(sumParts([b.subarray(0, c), b.subarray(c)])) === folded(ref);
    }),
  );
  t.pass();
});

test('wire: addresses format and parse (RFC 5952)', (t) => {
  for (const a of ['10.0.0.1', '::1', 'fd21:3:1::1', '2001:db8::1:0:0:1', '::', '1:2:3:4:5:6:7:8', '::ffff:10.1.2.3']) {
    const b = parseAddress(a);
    if (!b) return t.fail(a);
    t.deepEqual(parseAddress(formatAddress(b)), b);
  }
  t.is(formatAddress(parseAddress('2001:db8:0:0:1:0:0:1') as Uint8Array), '2001:db8::1:0:0:1');
  for (const bad of ['1.2.3', '256.1.1.1', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9']) t.is(parseAddress(bad), undefined);
});

const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

test('wire: parse(emit(x)) = x for IPv4', (t) => {
  fc.assert(
    fc.property(
      addr4,
      addr4,
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 2000 }),
      u16,
      fc.boolean(),
      (src, dst, proto, len, ident, df) => {
        const r: Ipv4Repr = {
          src,
          dst,
          protocol: proto,
          payloadLen: len,
          ttl: 64,
          ident,
          dontFrag: df,
          moreFrags: false,
          fragOffset: 0,
        };
        const b = new Uint8Array(20 + len);
        emitIpv4(r, b, 0);
        const v = Ipv4Packet.check(b);
        return v?.verifyChecksum() && same(parseIpv4(v), r);
      },
    ),
  );
  t.pass();
});

test('wire: parse(emit(x)) = x for IPv6, with and without a fragment header', (t) => {
  fc.assert(
    fc.property(
      addr6,
      addr6,
      fc.constantFrom(6, 17, 58),
      fc.integer({ min: 1, max: 2000 }),
      fc.option(
        fc.record({ offset: fc.integer({ min: 0, max: 8000 }).map((x) => x * 8), more: fc.boolean(), ident: u32 }),
      ),
      (src, dst, proto, len, frag) => {
        const r: Ipv6Repr = { src, dst, protocol: proto, payloadLen: len, hopLimit: 64 };
        if (frag) r.frag = frag;
        const b = new Uint8Array(ipv6HeaderLen(r) + len);
        emitIpv6(r, b, 0);
        const v = Ipv6Packet.check(b);
        return v !== undefined && same(parseIpv6(v), r);
      },
    ),
  );
  t.pass();
});

test('wire: parse(emit(x)) = x for TCP with options, and the checksum verifies', (t) => {
  const repr = fc.record(
    {
      srcPort: u16,
      dstPort: u16,
      seq: u32,
      ack: u32,
      flags: fc.integer({ min: 0, max: 255 }),
      window: u16,
      mss: u16,
      wscale: fc.integer({ min: 0, max: 14 }),
      sackPermitted: fc.constant(true),
      timestamp: fc.record({ value: u32, echo: u32 }),
      sack: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: ['srcPort', 'dstPort', 'seq', 'ack', 'flags', 'window'] },
  );
  fc.assert(
    fc.property(repr, addr4, addr4, fc.uint8Array({ maxLength: 100 }), (r: TcpRepr, src, dst, payload) => {
      const hl = tcpHeaderLen(r);
      const b = new Uint8Array(hl + payload.length);
      emitTcp(r, b, 0, src, dst, [payload]);
      b.set(payload, hl);
      const s = TcpSegment.check(b);
      const p = s && parseTcp(s);
      return !!s && s.verifyChecksum(src, dst) && same(p, r) && Buffer.from(s.payload).equals(payload);
    }),
  );
  t.pass();
});

test('wire: parse(emit(x)) = x for UDP and ICMP over both versions', (t) => {
  fc.assert(
    fc.property(u16, u16, addr6, addr6, fc.uint8Array({ maxLength: 200 }), (sp, dp, src, dst, payload) => {
      const b = new Uint8Array(8 + payload.length);
      emitUdp({ srcPort: sp, dstPort: dp }, b, 0, src, dst, [payload]);
      b.set(payload, 8);
      const d = UdpDatagram.check(b);
      return (
        !!d &&
        d.verifyChecksum(src, dst) &&
        d.srcPort === sp &&
        d.dstPort === dp &&
        Buffer.from(d.payload).equals(payload)
      );
    }),
  );
  const icmp = fc.oneof(
    fc.record({
      kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const),
      ident: u16,
      seq: u16,
      data: fc.uint8Array({ maxLength: 64 }),
    }),
    fc.record({
      kind: fc.constant('dstUnreachable' as const),
      code: fc.integer({ min: 0, max: 4 }),
      data: fc.uint8Array({ maxLength: 64 }),
    }),
  );
  fc.assert(
    fc.property(icmp, fc.constantFrom(4 as const, 6 as const), addr6, addr6, (r: IcmpRepr, v, src, dst) => {
      const b = new Uint8Array(icmpLen(r));
      emitIcmp(r, v, b, 0, src, dst);
      const m = IcmpMessage.check(b);
      const ok = !!m && (v === 4 ? m.verifyChecksum() : m.verifyChecksum(src, dst));
      return ok && same(parseIcmp(m as IcmpMessage, v), r);
    }),
  );
  t.pass();
});

function parseEverything(b: Uint8Array): void {
  const v4 = Ipv4Packet.check(b);
  const v6 = Ipv6Packet.check(b);
  for (const ip of [v4, v6]) {
    if (!ip) continue;
    void ip.src;
    void ip.dst;
    void ip.payload;
  }
  if (v4) void parseIpv4(v4);
  if (v6) void parseIpv6(v6);
  const payloads = [b, v4?.payload, v6?.payload].filter((x): x is Uint8Array => x !== undefined);
  for (const p of payloads) {
    const s = TcpSegment.check(p);
    if (s) {
      parseTcp(s);
      s.verifyChecksum(new Uint8Array(4), new Uint8Array(4));
    }
    const d = UdpDatagram.check(p);
    if (d) {
      parseUdp(d);
      d.verifyChecksum(new Uint8Array(16), new Uint8Array(16));
    }
    const m = IcmpMessage.check(p);
    if (m) {
      parseIcmp(m, 4);
      parseIcmp(m, 6);
    }
  }
}

test('wire: random bytes never throw', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00), (b, first) => {
      if (b.length > 0) b[0] = first;
      parseEverything(b);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('wire: every truncation and single-byte mutation of the golden packets never throws', (t) => {
  for (const g of Object.values(GOLDEN)) {
    const b = hex(g);
    for (let n = 0; n <= b.length; n++) parseEverything(b.slice(0, n));
    for (let i = 0; i < b.length; i++) {
      for (const x of [0, 0xff, (b[i] as number) ^ 0x80]) {
        const m = b.slice();
        m[i] = x;
        parseEverything(m);
      }
    }
  }
  t.pass();
});

test('wire: the pseudo-header sum counts protocol and length (RFC 9293 §3.1)', (t) => {
  const src = parseAddress('10.0.0.1') as Uint8Array;
  const dst = parseAddress('10.0.0.2') as Uint8Array;
  const manual = sum16(new Uint8Array([10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 20]));
  t.is(pseudoSum(src, dst, 6, 20), manual);
});

test('wire: IPv4 options are skipped to find the payload', (t) => {
  // IHL 6: one 4-byte option (NOP NOP NOP EOL) before a UDP header.
  const b = new Uint8Array(24 + 8);
  b.set([0x46, 0, 0, 32, 0, 0, 0, 0, 64, IpProtocol.Udp, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 0]);
  b.set([0x13, 0x88, 0, 53, 0, 8, 0, 0], 24);
  const ip = Ipv4Packet.check(b);
  if (!ip) return t.fail('ipv4 view');
  t.is(ip.headerLen, 24);
  t.is(UdpDatagram.check(ip.payload)?.dstPort, 53);
});

test('wire: IPv6 hop-by-hop, destination-options and fragment headers are walked', (t) => {
  const src = parseAddress('fd00::1') as Uint8Array;
  const dst = parseAddress('fd00::2') as Uint8Array;
  const ext = [
    IpProtocol.Ipv6Opts,
    0,
    1,
    4,
    0,
    0,
    0,
    0, // hop-by-hop: PadN
    IpProtocol.Ipv6Frag,
    0,
    1,
    4,
    0,
    0,
    0,
    0, // destination options: PadN
    IpProtocol.Udp,
    0,
    0,
    0x10,
    0,
    0,
    0,
    42, // fragment: offset 16, last, ident 42
  ];
  const b = new Uint8Array(40 + ext.length + 8);
  emitIpv6({ src, dst, protocol: IpProtocol.HopByHop, payloadLen: ext.length + 8, hopLimit: 64 }, b, 0);
  b[6] = IpProtocol.HopByHop;
  b.set(ext, 40);
  const ip = Ipv6Packet.check(b);
  if (!ip) return t.fail('ipv6 view');
  t.is(ip.protocol, IpProtocol.Udp);
  t.is(ip.payloadOffset, 40 + ext.length);
  t.is(ip.fragOffset, 16);
  t.false(ip.moreFrags);
  t.is(ip.fragIdent, 42);
  t.true(ip.isFragment);
  // A hop-by-hop header anywhere but first is malformed (RFC 8200 §4.1).
  b[40] = IpProtocol.HopByHop;
  t.is(Ipv6Packet.check(b), undefined);
});
