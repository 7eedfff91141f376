// NetStack: the catch-all userspace stack between the TUN and the upstream.
// Every TCP SYN, UDP datagram or ICMP echo to any routed address becomes a
// flow offered to the upstream (connect, then accept: ARCHITECTURE.md
// decision 4). The stack is pure and clock-free, shaped like smoltcp's
// Interface: process(now, packet) for each packet read from the TUN,
// dispatch(now, emit) for everything due to be sent, pollAt(now) for when
// to call dispatch next. Upstream calls happen between these and are acted
// on at the next dispatch; options.wake says when one is wanted.
import { type ChecksumFn, sum16 } from '../wire/checksum.ts';
import { emitIcmp, ICMP_HEADER_LEN, IcmpMessage, IcmpType, parseIcmp, UnreachableCode } from '../wire/icmp.ts';
import { formatAddress, IpProtocol, type IpVersion, u32 } from '../wire/ip.ts';
import { emitIpv4, IPV4_HEADER_LEN, Ipv4Packet } from '../wire/ipv4.ts';
import { emitIpv6, IPV6_FRAG_HEADER_LEN, IPV6_HEADER_LEN, Ipv6Packet, type Ipv6Repr } from '../wire/ipv6.ts';
import { emitTcp, parseTcp, TCP_HEADER_LEN, TcpFlags, type TcpRepr, TcpSegment, tcpHeaderLen } from '../wire/tcp.ts';
import { emitUdp, UDP_HEADER_LEN, UdpDatagram } from '../wire/udp.ts';
import { DatagramFlow, type DatagramHost } from './datagram-flow.ts';
import { DeadlineQueue } from './deadline-queue.ts';
import { type FragmentLimits, Reassembler } from './fragments.ts';
import { initialSequence } from './isn.ts';
import type { OutPacket } from './packet.ts';
import { type TcpConfig, TcpConnection, type TcpCounters, type TcpHost, type TcpState } from './tcp-connection.ts';
import type { Flow, RejectReason, Upstream } from './upstream.ts';

export { MAX_PACKET_PARTS, type OutPacket } from './packet.ts';

/** StackOptions configure a NetStack; only upstream and secret are required. */
export interface StackOptions {
  upstream: Upstream;
  /** secret keys the RFC 6528 ISN function (at least 8 random bytes). */
  secret: Uint8Array;
  /** mtu of the TUN (default 65520); it clamps the MSS and decides UDP fragmentation. */
  mtu?: number;
  /** checksum is the 16-bit one's-complement sum to use (default pure JS; the driver passes the native one). */
  checksum?: ChecksumFn;
  /** verifyChecksums checks received checksums (default true); the local kernel over memory never corrupts them. */
  verifyChecksums?: boolean;
  tcp?: Partial<TcpConfig>;
  /** udpIdleTimeout and icmpIdleTimeout end quiet datagram flows (ms; defaults 60 s and 10 s). */
  udpIdleTimeout?: number;
  icmpIdleTimeout?: number;
  /** maxFlows bounds TCP connections plus datagram flows (default 200,000); beyond it opens are refused. */
  maxFlows?: number;
  /**
   * burst is about how many packets one dispatch emits (default 1,024): once
   * reached, connections still due wait for the next dispatch, which pollAt
   * asks for at once, so the caller reads in between.
   */
  burst?: number;
  fragments?: Partial<FragmentLimits>;
  /** wake is called when an upstream call made output or timers due, so the caller schedules a dispatch. */
  wake?: () => void;
  /**
   * onFault hears of a throw while one flow was processed (from its upstream,
   * or a bug here); the stack has already aborted that flow, and only it.
   */
  onFault?: (flow: Flow, err: unknown) => void;
}

/** FlowView is a read-only snapshot of one live flow in the stack's tables (for status, diagnostics and tests). */
export interface FlowView {
  readonly key: string;
  readonly flow: Flow;
  /** state is the TCP state, or a datagram flow's ('opening', 'open'). */
  readonly state: TcpState | 'open';
  /** deadline is when the flow next needs its timer (ms; Infinity: none). */
  readonly deadline: number;
  /** timerAt is when the stack's timer queue will poll the flow (Infinity: not queued); never later than deadline. */
  readonly timerAt: number;
  /** buffered is, for TCP, the bytes waiting for the app's acknowledgment. */
  readonly buffered: number;
}

/** StackCounters are the stack's packet and event counters. */
export interface StackCounters extends TcpCounters {
  packetsIn: number;
  packetsOut: number;
  malformed: number;
  badChecksum: number;
  unsupported: number;
  resetsSent: number;
  unreachablesSent: number;
  flowLimit: number;
  datagramDrops: number;
  oversizeDatagrams: number;
  fragmentsReassembled: number;
  fragmentsDropped: number;
  /** flowFaults counts flows aborted because their processing threw (see StackOptions.onFault). */
  flowFaults: number;
}

const DEFAULT_MTU = 65520;

/** NetStack turns TUN packets into upstream flows and back. */
export class NetStack {
  readonly counters: StackCounters = {
    packetsIn: 0,
    packetsOut: 0,
    malformed: 0,
    badChecksum: 0,
    unsupported: 0,
    resetsSent: 0,
    unreachablesSent: 0,
    flowLimit: 0,
    datagramDrops: 0,
    oversizeDatagrams: 0,
    fragmentsReassembled: 0,
    fragmentsDropped: 0,
    flowFaults: 0,
    retransmits: 0,
    fastRetransmits: 0,
    rtoExpiries: 0,
    challengeAcks: 0,
    outOfOrder: 0,
    creditViolations: 0,
  };
  readonly #up: Upstream;
  readonly #secret: Uint8Array;
  readonly #mtu: number;
  readonly #cs: ChecksumFn;
  readonly #verify: boolean;
  readonly #tcp4: TcpConfig;
  readonly #tcp6: TcpConfig;
  readonly #udpIdle: number;
  readonly #icmpIdle: number;
  readonly #maxFlows: number;
  readonly #burst: number;
  readonly #wakeCb: (() => void) | undefined;
  readonly #onFault: ((flow: Flow, err: unknown) => void) | undefined;
  readonly #conns = new Map<string, TcpConnection>();
  readonly #dgrams = new Map<string, DatagramFlow>();
  readonly #timers = new DeadlineQueue<TcpConnection | DatagramFlow>();
  readonly #dirty = new Set<TcpConnection>();
  readonly #frags: Reassembler;
  #out: OutPacket[] = [];
  #ident = 1;
  #inside = false; // within process or dispatch: no wake needed
  #wakeSent = false;
  readonly #tcpHost: TcpHost;
  readonly #dgramHost: DatagramHost;

  constructor(opts: StackOptions) {
    this.#up = opts.upstream;
    this.#secret = opts.secret;
    this.#mtu = opts.mtu ?? DEFAULT_MTU;
    this.#cs = opts.checksum ?? sum16;
    this.#verify = opts.verifyChecksums ?? true;
    const base: TcpConfig = {
      mss: 0,
      sendBuffer: 4 << 20,
      maxWindow: 4 << 20,
      openTimeout: 15_000,
      timeWait: 2_000,
      initialRto: 1_000,
      minRto: 200,
      maxRto: 60_000,
      maxRetries: 12,
      initialCwnd: 10,
      keepaliveIdle: 60_000,
      keepaliveInterval: 10_000,
      keepaliveProbes: 3,
      finWait2Timeout: 60_000,
      clockEpoch: 0,
      ...opts.tcp,
    };
    // MSS = MTU − IP header − TCP header (RFC 9293 §3.7.1, RFC 8200 §5).
    this.#tcp4 = { ...base, mss: Math.min(opts.tcp?.mss ?? 65535, this.#mtu - IPV4_HEADER_LEN - TCP_HEADER_LEN) };
    this.#tcp6 = { ...base, mss: Math.min(opts.tcp?.mss ?? 65535, this.#mtu - IPV6_HEADER_LEN - TCP_HEADER_LEN) };
    this.#udpIdle = opts.udpIdleTimeout ?? 60_000;
    this.#icmpIdle = opts.icmpIdleTimeout ?? 10_000;
    this.#maxFlows = opts.maxFlows ?? 200_000;
    this.#burst = opts.burst ?? 1024;
    this.#wakeCb = opts.wake;
    this.#onFault = opts.onFault;
    this.#frags = new Reassembler({ maxBytes: 4 << 20, maxDatagrams: 256, timeout: 15_000, ...opts.fragments });
    this.#tcpHost = {
      send: (c, r, payload) => this.#sendTcp(c, r, payload),
      sendReject: (c, reason) => this.#rejectTcp(c, reason),
      wake: (c) => {
        this.#dirty.add(c);
        this.#wake();
      },
      closed: (c) => {
        if (this.#conns.get(c.key) === c) this.#conns.delete(c.key);
        this.#dirty.delete(c);
        this.#timers.cancel(c);
      },
    };
    this.#dgramHost = {
      deliver: (f, d) => this.#deliverDatagram(f, d),
      rejected: (f, reason) => this.#rejectDatagram(f, reason),
      wake: (f) => {
        this.#timers.schedule(f);
        this.#wake();
      },
      closed: (f) => {
        if (this.#dgrams.get(f.key) === f) this.#dgrams.delete(f.key);
        this.#timers.cancel(f);
      },
    };
  }

  /** tcpConnections and datagramFlows are the live flow counts. */
  get tcpConnections(): number {
    return this.#conns.size;
  }
  get datagramFlows(): number {
    return this.#dgrams.size;
  }
  /** fragmentBytes is the memory held by partial fragments. */
  get fragmentBytes(): number {
    return this.#frags.bytes;
  }

  /** flows returns a snapshot of the flow tables: every live TCP connection and datagram flow. */
  flows(): FlowView[] {
    const out: FlowView[] = [];
    for (const c of this.#conns.values()) {
      out.push({
        key: c.key,
        flow: structuredFlow(c.flow),
        state: c.state,
        deadline: c.deadline,
        timerAt: c.queuedAt,
        buffered: c.buffered,
      });
    }
    for (const f of this.#dgrams.values()) {
      out.push({
        key: f.key,
        flow: structuredFlow(f.flow),
        state: f.state === 'opening' ? 'opening' : 'open',
        deadline: f.deadline,
        timerAt: f.queuedAt,
        buffered: 0,
      });
    }
    return out;
  }

  /** connections lists the live TCP connections (for diagnostics and tests). */
  connections(): IterableIterator<TcpConnection> {
    return this.#conns.values();
  }

  /**
   * process handles one IP packet read from the TUN; bad packets are counted
   * and dropped, never thrown. Call dispatch after a batch: replies are only
   * queued here (and options.wake is not called from inside process).
   */
  process(now: number, packet: Uint8Array): void {
    this.counters.packetsIn++;
    this.#inside = true;
    try {
      const v = packet.length > 0 ? (packet[0] as number) >> 4 : 0;
      if (v === 4) this.#ipv4(now, packet);
      else if (v === 6) this.#ipv6(now, packet);
      else this.counters.malformed++;
    } finally {
      this.#inside = false;
    }
  }

  /** dispatch runs due timers and pending upstream events and emits every packet ready to go. */
  dispatch(now: number, emit: (p: OutPacket) => void): void {
    this.#inside = true;
    this.#wakeSent = false;
    try {
      for (const item of this.#timers.due(now)) {
        if (item instanceof TcpConnection) this.#dirty.add(item);
        else {
          try {
            item.poll(now);
          } catch (err) {
            this.#fault(item, err);
          }
          this.#timers.schedule(item);
        }
      }
      if (this.#frags.nextDeadline() <= now) this.#frags.expire(now);
      // Polling may wake further connections (e.g. a reset reaching a peer); loop until quiet, but
      // stop once a burst's worth of packets is out: the rest stay pending, pollAt says now, and the
      // caller reads the TUN before dispatching again (the answers each packet draws need room there).
      for (let round = 0; this.#dirty.size > 0 && round < 4 && this.#out.length < this.#burst; round++) {
        const batch = [...this.#dirty];
        this.#dirty.clear();
        for (let i = 0; i < batch.length; i++) {
          const c = batch[i] as TcpConnection;
          if (this.#out.length >= this.#burst) {
            for (let j = i; j < batch.length; j++) this.#dirty.add(batch[j] as TcpConnection);
            break;
          }
          try {
            c.poll(now);
          } catch (err) {
            this.#fault(c, err);
          }
          if (c.state !== 'closed') this.#timers.schedule(c);
        }
      }
      const out = this.#out;
      this.#out = [];
      this.counters.packetsOut += out.length;
      for (const p of out) emit(p);
    } finally {
      this.#inside = false;
    }
    if (this.#dirty.size > 0) this.#wake();
  }

  /** pollAt is when dispatch should next run: now if work is pending, a timer's time, or Infinity. */
  pollAt(now: number): number {
    if (this.#dirty.size > 0 || this.#out.length > 0) return now;
    return Math.min(this.#timers.next(), this.#frags.nextDeadline());
  }

  /** close resets every TCP connection (RST to the app, reset to the upstream) and ends every datagram flow; dispatch sends the RSTs. */
  close(): void {
    for (const c of [...this.#conns.values()]) c.shutdown();
    for (const f of [...this.#dgrams.values()]) f.shutdown();
  }

  // ---- input ----

  #ipv4(now: number, packet: Uint8Array): void {
    const ip = Ipv4Packet.check(packet);
    if (!ip) {
      this.counters.malformed++;
      return;
    }
    if (this.#verify && !ip.verifyChecksum()) {
      this.counters.badChecksum++;
      return;
    }
    let payload = ip.payload;
    if (ip.isFragment) {
      const key = `4:${u32(ip.src, 0)}:${u32(ip.dst, 0)}:${ip.protocol}:${ip.ident}`;
      const whole = this.#frags.add(now, key, ip.fragOffset, ip.moreFrags, payload);
      this.#syncFragCounters();
      if (!whole) return;
      payload = whole;
    }
    this.#transport(now, 4, ip.protocol, ip.src, ip.dst, payload, ip.buf);
  }

  #ipv6(now: number, packet: Uint8Array): void {
    const ip = Ipv6Packet.check(packet);
    if (!ip) {
      this.counters.malformed++;
      return;
    }
    let payload = ip.payload;
    if (ip.isFragment) {
      const key = `6:${hex(ip.src)}:${hex(ip.dst)}:${ip.fragIdent}`;
      const whole = this.#frags.add(now, key, ip.fragOffset, ip.moreFrags, payload);
      this.#syncFragCounters();
      if (!whole) return;
      payload = whole;
    }
    this.#transport(now, 6, ip.protocol, ip.src, ip.dst, payload, ip.buf);
  }

  #syncFragCounters(): void {
    const c = this.#frags.counters;
    this.counters.fragmentsReassembled = c.reassembled;
    this.counters.fragmentsDropped = c.overlaps + c.overLimit + c.expired;
  }

  #transport(
    now: number,
    v: IpVersion,
    proto: number,
    src: Uint8Array,
    dst: Uint8Array,
    payload: Uint8Array,
    packet: Uint8Array,
  ): void {
    if (proto === IpProtocol.Tcp) this.#tcpIn(now, v, src, dst, payload, packet);
    else if (proto === IpProtocol.Udp) this.#udpIn(now, v, src, dst, payload, packet);
    else if ((v === 4 && proto === IpProtocol.Icmp) || (v === 6 && proto === IpProtocol.Icmpv6))
      this.#icmpIn(now, v, src, dst, payload, packet);
    else this.counters.unsupported++;
  }

  #tcpIn(now: number, v: IpVersion, src: Uint8Array, dst: Uint8Array, bytes: Uint8Array, packet: Uint8Array): void {
    const seg = TcpSegment.check(bytes);
    if (!seg) {
      this.counters.malformed++;
      return;
    }
    if (this.#verify && !seg.verifyChecksum(src, dst, this.#cs)) {
      this.counters.badChecksum++;
      return;
    }
    const r = parseTcp(seg);
    if (!r) {
      this.counters.malformed++;
      return;
    }
    const key = flowKey(IpProtocol.Tcp, src, r.srcPort, dst, r.dstPort);
    const payload = seg.payload;
    let c = this.#conns.get(key);
    if (c && c.state === 'time-wait' && r.flags & TcpFlags.SYN && !(r.flags & TcpFlags.ACK) && c.acceptsNewSyn(r)) {
      // TIME-WAIT reuse: a new SYN for the same tuple replaces the old connection (RFC 6191); an old
      // duplicate goes to the connection, which acknowledges it.
      this.#conns.delete(key);
      this.#dirty.delete(c);
      this.#timers.cancel(c);
      c = undefined;
    }
    if (c) {
      try {
        c.onSegment(now, r, payload);
      } catch (err) {
        this.#fault(c, err);
      }
      if (c.state !== 'closed') this.#timers.schedule(c);
      return;
    }
    const f = r.flags;
    if (f & TcpFlags.RST) return;
    if (!(f & TcpFlags.SYN) || f & (TcpFlags.ACK | TcpFlags.FIN)) {
      // No connection: answer per RFC 9293 §3.10.7.1 (CLOSED state).
      this.#rstFor(v, src, dst, r, payload.length);
      return;
    }
    if (r.dstPort === 0 || r.srcPort === 0) {
      this.counters.malformed++;
      return;
    }
    const flow: Flow = {
      protocol: 'tcp',
      version: v,
      src: { address: formatAddress(src), port: r.srcPort },
      dst: { address: formatAddress(dst), port: r.dstPort },
    };
    if (this.#conns.size + this.#dgrams.size >= this.#maxFlows) {
      this.counters.flowLimit++;
      this.#rstFor(v, src, dst, r, payload.length);
      return;
    }
    const cfg = v === 4 ? this.#tcp4 : this.#tcp6;
    const iss = initialSequence(now, this.#secret, dst, r.dstPort, src, r.srcPort);
    const addrs = { local: dst.slice(), remote: src.slice() };
    const conn = new TcpConnection(this.#tcpHost, cfg, this.counters, flow, addrs, key, now, iss, r);
    conn.synHead = quotedHead(v, packet);
    this.#conns.set(key, conn);
    this.#timers.schedule(conn);
    try {
      this.#up.openStream(flow, conn);
    } catch (err) {
      this.#fault(conn, err);
    }
  }

  #udpIn(now: number, v: IpVersion, src: Uint8Array, dst: Uint8Array, bytes: Uint8Array, packet: Uint8Array): void {
    const d = UdpDatagram.check(bytes);
    if (!d) {
      this.counters.malformed++;
      return;
    }
    if (this.#verify && !d.verifyChecksum(src, dst, this.#cs)) {
      this.counters.badChecksum++;
      return;
    }
    if (d.dstPort === 0) {
      this.counters.malformed++;
      return;
    }
    const key = flowKey(IpProtocol.Udp, src, d.srcPort, dst, d.dstPort);
    const f = this.#datagramFlow(now, key, v, 'udp', src, d.srcPort, dst, d.dstPort, packet);
    if (f) this.#fromApp(f, d.payload);
  }

  #icmpIn(now: number, v: IpVersion, src: Uint8Array, dst: Uint8Array, bytes: Uint8Array, packet: Uint8Array): void {
    const m = IcmpMessage.check(bytes);
    if (!m) {
      this.counters.malformed++;
      return;
    }
    if (
      this.#verify &&
      !(v === 4 ? m.verifyChecksum(undefined, undefined, this.#cs) : m.verifyChecksum(src, dst, this.#cs))
    ) {
      this.counters.badChecksum++;
      return;
    }
    const r = parseIcmp(m, v);
    if (r.kind !== 'echoRequest') {
      // Errors from the app about our packets, NDP and the rest are not for us to act on.
      this.counters.unsupported++;
      return;
    }
    const key = `icmp:${flowKey(IpProtocol.Icmp, src, r.ident, dst, 0)}`;
    const f = this.#datagramFlow(now, key, v, 'icmp', src, r.ident, dst, 0, packet);
    if (f) this.#fromApp(f, m.buf);
  }

  #fromApp(f: DatagramFlow, datagram: Uint8Array): void {
    try {
      f.fromApp(datagram);
    } catch (err) {
      this.#fault(f, err);
    }
  }

  #datagramFlow(
    now: number,
    key: string,
    v: IpVersion,
    protocol: 'udp' | 'icmp',
    src: Uint8Array,
    sport: number,
    dst: Uint8Array,
    dport: number,
    packet: Uint8Array,
  ): DatagramFlow | undefined {
    const existing = this.#dgrams.get(key);
    if (existing) return existing;
    if (this.#conns.size + this.#dgrams.size >= this.#maxFlows) {
      this.counters.flowLimit++;
      return undefined;
    }
    const flow: Flow = {
      protocol,
      version: v,
      src: { address: formatAddress(src), port: sport },
      dst: { address: formatAddress(dst), port: dport },
    };
    const idle = protocol === 'udp' ? this.#udpIdle : this.#icmpIdle;
    const addrs = { local: dst.slice(), remote: src.slice() };
    const f = new DatagramFlow(this.#dgramHost, flow, addrs, key, now, idle, this.#tcp4.openTimeout);
    f.firstHead = quotedHead(v, packet);
    this.#dgrams.set(key, f);
    this.#timers.schedule(f);
    try {
      this.#up.openDatagram(flow, f);
    } catch (err) {
      this.#fault(f, err);
    }
    return f.state === 'closed' ? undefined : f;
  }

  /** #fault aborts the one flow whose processing threw and reports it; the stack and other flows go on. */
  #fault(f: TcpConnection | DatagramFlow, err: unknown): void {
    this.counters.flowFaults++;
    f.fail();
    try {
      this.#onFault?.(f.flow, err);
    } catch {
      // A failing reporter must not undo the isolation.
    }
  }

  // ---- output ----

  #wake(): void {
    if (this.#inside || this.#wakeSent) return;
    this.#wakeSent = true;
    this.#wakeCb?.();
  }

  #push(p: OutPacket): void {
    this.#out.push(p);
    this.#wake();
  }

  /** #ipHeader allocates a buffer for an IP header plus extra bytes and writes the IP header. */
  #ipHeader(
    v: IpVersion,
    src: Uint8Array,
    dst: Uint8Array,
    proto: number,
    payloadLen: number,
    extra: number,
  ): Uint8Array {
    if (v === 4) {
      const b = new Uint8Array(IPV4_HEADER_LEN + extra);
      emitIpv4({ src, dst, protocol: proto, payloadLen, ttl: 64, ident: this.#nextIdent(), dontFrag: true }, b, 0);
      return b;
    }
    const b = new Uint8Array(IPV6_HEADER_LEN + extra);
    emitIpv6({ src, dst, protocol: proto, payloadLen, hopLimit: 64 }, b, 0);
    return b;
  }

  #nextIdent(): number {
    this.#ident = (this.#ident + 1) & 0xffff;
    return this.#ident;
  }

  #sendTcp(c: TcpConnection, r: TcpRepr, payload: readonly Uint8Array[]): void {
    const a = c.addrs;
    r.srcPort = c.localPort;
    r.dstPort = c.remotePort;
    if (r.flags & TcpFlags.RST) this.counters.resetsSent++;
    this.#emitTcpPacket(c.flow.version, a.local, a.remote, r, payload);
  }

  #emitTcpPacket(v: IpVersion, src: Uint8Array, dst: Uint8Array, r: TcpRepr, payload: readonly Uint8Array[]): void {
    const thl = tcpHeaderLen(r);
    let plen = 0;
    for (const p of payload) plen += p.length;
    const h = this.#ipHeader(v, src, dst, IpProtocol.Tcp, thl + plen, thl);
    emitTcp(r, h, v === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN, src, dst, payload, this.#cs);
    this.#push(payload.length === 0 ? h : [h, ...payload]);
  }

  /** #rstFor answers a segment that has no connection (RFC 9293 §3.10.7.1). */
  #rstFor(v: IpVersion, src: Uint8Array, dst: Uint8Array, r: TcpRepr, dataLen: number): void {
    this.counters.resetsSent++;
    const segLen = dataLen + (r.flags & TcpFlags.SYN ? 1 : 0) + (r.flags & TcpFlags.FIN ? 1 : 0);
    const rst: TcpRepr =
      r.flags & TcpFlags.ACK
        ? { srcPort: r.dstPort, dstPort: r.srcPort, seq: r.ack, ack: 0, flags: TcpFlags.RST, window: 0 }
        : {
            srcPort: r.dstPort,
            dstPort: r.srcPort,
            seq: 0,
            ack: (r.seq + segLen) >>> 0,
            flags: TcpFlags.RST | TcpFlags.ACK,
            window: 0,
          };
    this.#emitTcpPacket(v, dst.slice(), src.slice(), rst, []);
  }

  #rejectTcp(c: TcpConnection, reason: RejectReason): void {
    const a = c.addrs;
    if (reason === 'refused' || reason === 'limit' || !c.synHead) {
      // Refused: RST|ACK for the SYN, so connect() fails with ECONNREFUSED at once.
      this.counters.resetsSent++;
      const synSeq = seqOfSyn(c.synHead, c.flow.version);
      const r: TcpRepr = {
        srcPort: c.localPort,
        dstPort: c.remotePort,
        seq: 0,
        ack: (synSeq + 1) >>> 0,
        flags: TcpFlags.RST | TcpFlags.ACK,
        window: 0,
      };
      this.#emitTcpPacket(c.flow.version, a.local, a.remote, r, []);
      return;
    }
    this.#unreachable(c.flow.version, a.local, a.remote, reason, c.synHead);
  }

  #rejectDatagram(f: DatagramFlow, reason: RejectReason): void {
    const a = f.addrs;
    if (f.firstHead) this.#unreachable(f.flow.version, a.local, a.remote, reason, f.firstHead);
  }

  /** #unreachable sends an ICMP destination unreachable quoting the head of the app's packet (RFC 792, RFC 4443 §3.1). */
  #unreachable(v: IpVersion, from: Uint8Array, to: Uint8Array, reason: RejectReason, quoted: Uint8Array): void {
    this.counters.unreachablesSent++;
    let code: number;
    if (v === 4) {
      const c = UnreachableCode.v4;
      code = reason === 'refused' ? c.port : reason === 'forbidden' ? c.adminProhibited : c.host;
    } else {
      const c = UnreachableCode.v6;
      code = reason === 'refused' ? c.port : reason === 'forbidden' ? c.adminProhibited : c.address;
    }
    const icmp = { kind: 'dstUnreachable' as const, code, data: quoted };
    const proto = v === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
    const len = ICMP_HEADER_LEN + quoted.length;
    const h = this.#ipHeader(v, from, to, proto, len, len);
    emitIcmp(icmp, v, h, v === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN, from, to, this.#cs);
    this.#push(h);
  }

  #deliverDatagram(f: DatagramFlow, d: Uint8Array): void {
    const a = f.addrs;
    const v = f.flow.version;
    if (f.flow.protocol === 'icmp') {
      const m = IcmpMessage.check(d);
      const t = v === 4 ? IcmpType.v4 : IcmpType.v6;
      if (!m || m.type !== t.echoReply || m.code !== 0) {
        this.counters.datagramDrops++;
        return;
      }
      // The upstream's identifier may differ (ping sockets choose their own): answer with the app's.
      const reply = { kind: 'echoReply' as const, ident: f.flow.src.port, seq: m.seq, data: m.data };
      const proto = v === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
      const len = ICMP_HEADER_LEN + m.data.length;
      if ((v === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN) + len > this.#mtu) {
        this.counters.oversizeDatagrams++;
        return;
      }
      const h = this.#ipHeader(v, a.local, a.remote, proto, len, len);
      emitIcmp(reply, v, h, v === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN, a.local, a.remote, this.#cs);
      this.#push(h);
      return;
    }
    this.#emitUdp(v, a.local, f.flow.dst.port, a.remote, f.flow.src.port, d);
  }

  /** #emitUdp sends one datagram, fragmenting it when it exceeds the MTU (RFC 791 §3.2, RFC 8200 §4.5). */
  #emitUdp(v: IpVersion, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, data: Uint8Array): void {
    const udpLen = UDP_HEADER_LEN + data.length;
    if (udpLen > 0xffff || (v === 4 && udpLen + IPV4_HEADER_LEN > 0xffff)) {
      this.counters.oversizeDatagrams++;
      return;
    }
    const ipLen = v === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
    if (ipLen + udpLen <= this.#mtu) {
      const h = this.#ipHeader(v, src, dst, IpProtocol.Udp, udpLen, UDP_HEADER_LEN);
      emitUdp({ srcPort: sport, dstPort: dport }, h, ipLen, src, dst, [data], this.#cs);
      this.#push([h, data]);
      return;
    }
    const udp = new Uint8Array(UDP_HEADER_LEN);
    emitUdp({ srcPort: sport, dstPort: dport }, udp, 0, src, dst, [data], this.#cs);
    const room = ((this.#mtu - ipLen - (v === 6 ? IPV6_FRAG_HEADER_LEN : 0)) & ~7) >>> 0;
    const ident = v === 4 ? this.#nextIdent() : (this.#nextIdent() << 16) | this.#nextIdent();
    for (let off = 0; off < udpLen; off += room) {
      const n = Math.min(room, udpLen - off);
      const more = off + n < udpLen;
      const parts: Uint8Array[] = [];
      if (off === 0) parts.push(udp, data.subarray(0, n - UDP_HEADER_LEN));
      else parts.push(data.subarray(off - UDP_HEADER_LEN, off - UDP_HEADER_LEN + n));
      let h: Uint8Array;
      if (v === 4) {
        h = new Uint8Array(IPV4_HEADER_LEN);
        emitIpv4(
          { src, dst, protocol: IpProtocol.Udp, payloadLen: n, ttl: 64, ident, moreFrags: more, fragOffset: off },
          h,
          0,
        );
      } else {
        const r: Ipv6Repr = {
          src,
          dst,
          protocol: IpProtocol.Udp,
          payloadLen: n,
          hopLimit: 64,
          frag: { offset: off, more, ident },
        };
        h = new Uint8Array(IPV6_HEADER_LEN + IPV6_FRAG_HEADER_LEN);
        emitIpv6(r, h, 0);
      }
      this.#push([h, ...parts]);
    }
  }
}

/** structuredFlow copies a flow, so a view cannot change the stack's own. */
function structuredFlow(f: Flow): Flow {
  return { protocol: f.protocol, version: f.version, src: { ...f.src }, dst: { ...f.dst } };
}

function ipHeaderLen(packet: Uint8Array): number {
  return ((packet[0] as number) & 0x0f) * 4;
}

/** quotedHead copies the IP header and the first 64 bytes after it, to be quoted by an ICMP error (RFC 792, RFC 4443 §2.4). */
function quotedHead(v: IpVersion, packet: Uint8Array): Uint8Array {
  return packet.slice(0, Math.min(packet.length, (v === 4 ? ipHeaderLen(packet) : IPV6_HEADER_LEN) + 64));
}

function seqOfSyn(head: Uint8Array | undefined, v: IpVersion): number {
  if (!head) return 0;
  const off = v === 4 ? ipHeaderLen(head) : IPV6_HEADER_LEN;
  return head.length >= off + 8 ? u32(head, off + 4) : 0;
}

function hex(a: Uint8Array): string {
  let s = '';
  for (let i = 0; i < a.length; i += 4) s += u32(a, i).toString(16).padStart(8, '0');
  return s;
}

/** flowKey names a flow by protocol and both endpoints. */
function flowKey(proto: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number): string {
  if (src.length === 4) return `${proto}:${u32(src, 0)}:${sport}:${u32(dst, 0)}:${dport}`;
  return `${proto}:${hex(src)}:${sport}:${hex(dst)}:${dport}`;
}
