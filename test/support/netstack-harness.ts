// A fake app and upstream around a NetStack for unit tests: the test plays
// the app's kernel (building segments with src/wire), drives a fake clock,
// and reads back what the stack emitted. No network, no timers.
import { NetStack, type OutPacket, type StackOptions } from '../../src/netstack/stack.ts';
import type {
  DatagramChannel,
  Flow,
  StackDatagrams,
  StackStream,
  StreamChannel,
  Upstream,
} from '../../src/netstack/upstream.ts';
import {
  emitIpv4,
  emitTcp,
  IcmpMessage,
  type IcmpRepr,
  IpProtocol,
  Ipv4Packet,
  Ipv6Packet,
  parseAddress,
  parseIcmp,
  parseTcp,
  TcpFlags,
  type TcpRepr,
  TcpSegment,
  tcpHeaderLen,
  UdpDatagram,
} from '../../src/wire/index.ts';

/** Sent is one packet the stack emitted, parsed. */
export interface Sent {
  tcp?: TcpRepr;
  payload: Uint8Array;
  icmp?: IcmpRepr;
  udp?: { srcPort: number; dstPort: number };
  src: Uint8Array;
  dst: Uint8Array;
}

/** StreamRecord is what the test upstream saw of one TCP flow. */
export class StreamRecord implements StreamChannel {
  readonly flow: Flow;
  readonly stack: StackStream;
  chunks: Uint8Array[] = [];
  granted = 0;
  ended = false;
  wasReset = false;
  constructor(flow: Flow, stack: StackStream) {
    this.flow = flow;
    this.stack = stack;
  }
  write(data: Uint8Array): void {
    this.chunks.push(data.slice());
  }
  grant(n: number): void {
    this.granted += n;
  }
  end(): void {
    this.ended = true;
  }
  reset(): void {
    this.wasReset = true;
  }
  /** text is everything written so far as a string. */
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

/** TestUpstream records opens; with autoAccept it accepts each stream and grants `credit`. */
export class TestUpstream implements Upstream {
  streams: StreamRecord[] = [];
  datagramFlows: Array<{ flow: Flow; stack: StackDatagrams; received: Uint8Array[]; channel: DatagramChannel }> = [];
  autoAccept: boolean;
  credit: number;
  constructor(autoAccept = true, credit = 1 << 20) {
    this.autoAccept = autoAccept;
    this.credit = credit;
  }
  openStream(flow: Flow, stack: StackStream): void {
    const r = new StreamRecord(flow, stack);
    this.streams.push(r);
    if (this.autoAccept) {
      stack.accept(r);
      stack.grant(this.credit);
    }
  }
  openDatagram(flow: Flow, stack: StackDatagrams): void {
    const received: Uint8Array[] = [];
    const channel: DatagramChannel = { send: (d) => received.push(d.slice()), close: () => undefined };
    this.datagramFlows.push({ flow, stack, received, channel });
    if (this.autoAccept) stack.accept(channel);
  }
  get last(): StreamRecord {
    return this.streams[this.streams.length - 1] as StreamRecord;
  }
}

export const APP = '10.0.0.1';
export const DST = '10.1.0.1';
export const APP_PORT = 40000;
export const DST_PORT = 80;
export const APP_ISS = 1000;

/** Harness is one stack, one fake app socket, a fake clock. */
export class Harness {
  now = 0;
  readonly stack: NetStack;
  readonly up: TestUpstream;
  out: Sent[] = [];
  /** emitted keeps every packet as the stack handed it over (parts intact), until take. */
  emitted: OutPacket[] = [];
  /** appNxt is the app's next sequence number; appAck what it acknowledges. */
  appNxt = APP_ISS;
  appAck = 0;
  appPort = APP_PORT;

  constructor(up = new TestUpstream(), opts: Partial<StackOptions> = {}) {
    this.up = up;
    this.stack = new NetStack({ upstream: up, secret: new Uint8Array(8).fill(7), mtu: 1500, ...opts });
  }

  /** raw injects one IP packet and dispatches. */
  raw(packet: Uint8Array): void {
    this.stack.process(this.now, packet);
    this.dispatch();
  }

  /** segment sends a TCP segment from the app (defaults: ACK of appAck at appNxt, window 65535). */
  segment(r: Partial<TcpRepr> & { payload?: string | Uint8Array }, dispatch = true): void {
    const payload = typeof r.payload === 'string' ? Buffer.from(r.payload) : (r.payload ?? new Uint8Array(0));
    const t: TcpRepr = {
      srcPort: this.appPort,
      dstPort: DST_PORT,
      seq: this.appNxt,
      ack: this.appAck,
      flags: TcpFlags.ACK,
      window: 65535,
      ...r,
    };
    delete (t as { payload?: unknown }).payload;
    const src = parseAddress(APP) as Uint8Array;
    const dst = parseAddress(DST) as Uint8Array;
    const hl = tcpHeaderLen(t);
    const b = new Uint8Array(20 + hl + payload.length);
    emitIpv4({ src, dst, protocol: IpProtocol.Tcp, payloadLen: hl + payload.length, ttl: 64 }, b, 0);
    b.set(payload, 20 + hl);
    emitTcp(t, b, 20, src, dst, [payload]);
    this.stack.process(this.now, b);
    if (dispatch) this.dispatch();
  }

  /** syn opens a connection from the app (MSS 1460, window scale 7 unless overridden). */
  syn(extra: Partial<TcpRepr> = {}): void {
    this.segment({ seq: APP_ISS, ack: 0, flags: TcpFlags.SYN, mss: 1460, wscale: 7, ...extra });
    this.appNxt = APP_ISS + 1;
  }

  /** establish runs SYN → (accept) → SYN-ACK → ACK, discards the stack's output, and returns the stack's ISS. */
  establish(extra: Partial<TcpRepr> = {}): number {
    this.syn(extra);
    const synAck = this.take().find((s) => s.tcp && s.tcp.flags === (TcpFlags.SYN | TcpFlags.ACK));
    if (!synAck?.tcp) throw new Error('no SYN-ACK');
    this.appAck = (synAck.tcp.seq + 1) >>> 0;
    this.segment({});
    this.take();
    return synAck.tcp.seq;
  }

  dispatch(): void {
    this.stack.dispatch(this.now, (p) => {
      this.emitted.push(p);
      this.out.push(parse(p));
    });
  }

  /** advance moves the clock, dispatching at each due time on the way. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const at = this.stack.pollAt(this.now);
      if (at > end) break;
      this.now = Math.max(this.now, at);
      this.dispatch();
    }
    this.now = end;
    this.dispatch();
  }

  /** take returns and clears what was emitted. */
  take(): Sent[] {
    const o = this.out;
    this.out = [];
    this.emitted = [];
    return o;
  }

  /** tcpOut returns and clears emitted TCP segments. */
  tcpOut(): Array<TcpRepr & { data: string }> {
    return this.take()
      .filter((s) => s.tcp)
      .map((s) => ({ ...(s.tcp as TcpRepr), data: Buffer.from(s.payload).toString() }));
  }

  get conn() {
    return [...this.stack.connections()][0];
  }
}

function flatten(p: OutPacket): Uint8Array {
  if (p instanceof Uint8Array) return p;
  return new Uint8Array(Buffer.concat(p.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength))));
}

/** parse reads back an emitted packet, verifying every checksum (a bad one throws: a test failure). */
export function parse(p: OutPacket): Sent {
  const b = flatten(p);
  const v4 = b[0] === 0x45 ? Ipv4Packet.check(b) : undefined;
  const v6 = v4 ? undefined : Ipv6Packet.check(b);
  const ip = v4 ?? v6;
  if (!ip) throw new Error('stack emitted a malformed IP packet');
  if (v4 && !v4.verifyChecksum()) throw new Error('bad IPv4 header checksum');
  const proto = v4 ? v4.protocol : (v6 as Ipv6Packet).protocol;
  const out: Sent = { payload: new Uint8Array(0), src: ip.src, dst: ip.dst };
  if (proto === IpProtocol.Tcp) {
    const s = TcpSegment.check(ip.payload);
    if (!s?.verifyChecksum(ip.src, ip.dst)) throw new Error('bad TCP segment');
    out.tcp = parseTcp(s);
    out.payload = s.payload;
  } else if (proto === IpProtocol.Udp) {
    const d = UdpDatagram.check(ip.payload);
    if (!d?.verifyChecksum(ip.src, ip.dst)) throw new Error('bad UDP datagram');
    out.udp = { srcPort: d.srcPort, dstPort: d.dstPort };
    out.payload = d.payload;
  } else {
    const m = IcmpMessage.check(ip.payload);
    if (!m || !(v4 ? m.verifyChecksum() : m.verifyChecksum(ip.src, ip.dst))) throw new Error('bad ICMP message');
    out.icmp = parseIcmp(m, v4 ? 4 : 6);
  }
  return out;
}
