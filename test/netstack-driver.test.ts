// StackDriver over the in-memory ChannelTun: packets in become replies out,
// upstream events are flushed without a further packet, and the one timer
// armed from pollAt fires retransmissions on the real clock.
import test from 'ava';
import { StackDriver } from '../src/dataplane/stack-driver.ts';
import { ChannelTun } from '../src/tun/channel.ts';
import {
  emitIpv4,
  emitTcp,
  IpProtocol,
  parseAddress,
  TcpFlags,
  type TcpRepr,
  tcpHeaderLen,
} from '../src/wire/index.ts';
import { parse, type Sent, TestUpstream } from './support/netstack-harness.ts';

const A = parseAddress('10.0.0.1') as Uint8Array;
const B = parseAddress('10.1.0.1') as Uint8Array;

function segment(r: Partial<TcpRepr>, payload = new Uint8Array(0)): Uint8Array {
  const t: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1, ack: 0, flags: TcpFlags.ACK, window: 65535, ...r };
  const hl = tcpHeaderLen(t);
  const b = new Uint8Array(20 + hl + payload.length);
  emitIpv4({ src: A, dst: B, protocol: IpProtocol.Tcp, payloadLen: hl + payload.length, ttl: 64 }, b, 0);
  b.set(payload, 20 + hl);
  emitTcp(t, b, 20, A, B, [payload]);
  return b;
}

function syn(srcPort = 40000): Uint8Array {
  return segment({ srcPort, seq: 1, flags: TcpFlags.SYN, mss: 1460 });
}

function rig(up: TestUpstream, initialRto = 1000) {
  const tun = new ChannelTun({ mtu: 1500, queueLimit: 20_000 });
  const got: Sent[] = [];
  const waiters: Array<() => void> = [];
  tun.consume((batch) => {
    for (const p of batch) got.push(parse(p));
    for (const w of waiters.splice(0)) w();
  });
  const driver = new StackDriver(tun, { upstream: up, secret: new Uint8Array(8), mtu: 1500, tcp: { initialRto } });
  const next = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} packets`)), 3000);
      const check = () => {
        if (got.length >= n) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { tun, got, driver, next };
}

test('driver: a SYN read from the device is answered once the upstream accepts later', async (t) => {
  const up = new TestUpstream(false);
  const { tun, got, driver, next } = rig(up);
  tun.inject([syn()]);
  await new Promise((r) => setTimeout(r, 20));
  t.is(up.streams.length, 1);
  t.is(got.length, 0);
  up.last.stack.accept(up.last); // an upstream event outside any packet batch
  up.last.stack.grant(1 << 16);
  await next(1);
  t.is(got[0]?.tcp?.flags, TcpFlags.SYN | TcpFlags.ACK);
  driver.close();
  tun.close();
});

test('driver: the timer armed from pollAt retransmits the SYN-ACK', async (t) => {
  const up = new TestUpstream(true);
  const { tun, got, driver, next } = rig(up, 50);
  tun.inject([syn()]);
  await next(2);
  t.is(got[0]?.tcp?.seq, got[1]?.tcp?.seq);
  t.is(got[1]?.tcp?.flags, TcpFlags.SYN | TcpFlags.ACK);
  driver.close();
  tun.close();
});

test('driver: close resets every connection towards the app and the upstream', async (t) => {
  const up = new TestUpstream(true);
  const { tun, got, driver, next } = rig(up);
  tun.inject([syn()]);
  await next(1);
  driver.close();
  await next(2);
  t.is(got[1]?.tcp?.flags, TcpFlags.RST | TcpFlags.ACK);
  t.true(up.last.wasReset);
  tun.close();
});

test('driver: an upstream that throws for one flow resets that flow only; the driver and other flows live on', async (t) => {
  // A throw escaping the driver would cross the TUN callback and end the daemon with every session flow.
  const up = new TestUpstream(true);
  const { tun, got, driver, next } = rig(up);
  tun.inject([syn(40000), syn(40001)]);
  await next(2);
  const [bad, good] = up.streams;
  if (!bad || !good) throw new Error('two flows expected');
  bad.write = () => {
    throw new Error('upstream bug');
  };
  const synAck = (port: number) => got.find((s) => s.tcp?.dstPort === port)?.tcp?.seq ?? 0;
  const data = (port: number) =>
    segment(
      { srcPort: port, seq: 2, ack: (synAck(port) + 1) >>> 0, flags: TcpFlags.ACK | TcpFlags.PSH },
      Buffer.from('hi'),
    );
  tun.inject([data(40000), data(40001)]);
  await next(4);
  const toBad = got.filter((s) => s.tcp?.dstPort === 40000).map((s) => s.tcp?.flags);
  t.true(toBad.includes(TcpFlags.RST | TcpFlags.ACK), 'the failing flow is reset towards the app');
  t.true(bad.wasReset, 'and towards the upstream');
  t.is(good.text, 'hi');
  t.deepEqual(
    [...driver.stack.connections()].map((c) => [c.remotePort, c.state]),
    [[40001, 'established']],
  );
  tun.inject([syn(40002)]);
  await next(got.length + 1);
  t.is(got.at(-1)?.tcp?.flags, TcpFlags.SYN | TcpFlags.ACK);
  driver.close();
  tun.close();
});

test('driver: close resets every connection, however many bursts that takes', async (t) => {
  const up = new TestUpstream(true);
  const { tun, got, driver, next } = rig(up);
  tun.inject(Array.from({ length: 3000 }, (_, i) => syn(20000 + i)));
  await next(3000);
  driver.close();
  await next(6000);
  const rsts = new Set(got.filter((s) => s.tcp?.flags === (TcpFlags.RST | TcpFlags.ACK)).map((s) => s.tcp?.dstPort));
  t.is(rsts.size, 3000);
  t.is(driver.stack.tcpConnections, 0);
  tun.close();
});
