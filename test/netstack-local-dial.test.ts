// LocalDial, the upstream that dials real sockets on this machine, driven
// through fake stack ends over loopback: accept and credit, refusal, policy
// rejection, half-close, and UDP datagrams.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import test from 'ava';
import { LocalDial } from '../src/dataplane/local-dial.ts';
import type { Flow, RejectReason, StackDatagrams, StackStream, StreamChannel } from '../src/netstack/upstream.ts';

const flow = (port: number, protocol: Flow['protocol'] = 'tcp'): Flow => ({
  protocol,
  version: 4,
  src: { address: '10.0.0.1', port: 40000 },
  dst: { address: '127.0.0.1', port },
});

/** FakeStream records what the dialer does to the stack's end of a flow. */
class FakeStream implements StackStream {
  channel: StreamChannel | undefined;
  rejected: RejectReason | undefined;
  credit = 0;
  got: Buffer[] = [];
  ended = false;
  wasReset = false;
  readonly settled: Promise<void>;
  #settle!: () => void;
  constructor() {
    this.settled = new Promise((r) => {
      this.#settle = r;
    });
  }
  accept(channel: StreamChannel): void {
    this.channel = channel;
    this.#settle();
  }
  reject(reason: RejectReason): void {
    this.rejected = reason;
    this.#settle();
  }
  grant(n: number): void {
    this.credit += n;
  }
  write(data: Uint8Array): void {
    this.got.push(Buffer.from(data));
  }
  end(): void {
    this.ended = true;
  }
  reset(): void {
    this.wasReset = true;
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

test('local-dial: a connected stream carries bytes both ways within credit, and half-closes', async (t) => {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => s.write(`echo:${d}`));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dial = new LocalDial({ window: 1000 });
  const st = new FakeStream();
  dial.openStream(flow((server.address() as net.AddressInfo).port), st);
  await st.settled;
  t.truthy(st.channel);
  t.is(st.credit, 1000);
  st.channel?.grant(1 << 16);
  st.channel?.write(Buffer.from('hi'));
  await until(() => st.got.length > 0 && st.credit === 1002);
  t.is(Buffer.concat(st.got).toString(), 'echo:hi');
  t.is(st.credit, 1002); // the 2 bytes were written to the socket: credit returned
  st.channel?.end();
  await until(() => st.ended);
  t.true(st.ended);
  dial.close();
  server.close();
});

test('local-dial: bytes beyond the granted credit wait until more is granted', async (t) => {
  const server = net.createServer((s) => s.end(Buffer.alloc(5000, 7)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dial = new LocalDial();
  const st = new FakeStream();
  dial.openStream(flow((server.address() as net.AddressInfo).port), st);
  await st.settled;
  st.channel?.grant(1000);
  await new Promise((r) => setTimeout(r, 100));
  t.is(Buffer.concat(st.got).length, 1000);
  t.false(st.ended);
  st.channel?.grant(10_000);
  await until(() => st.ended);
  t.is(Buffer.concat(st.got).length, 5000);
  dial.close();
  server.close();
});

test('local-dial: a closed port is rejected as refused, a resolver veto as forbidden', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  const dial = new LocalDial({
    resolve: (f) => (f.dst.port === 1 ? undefined : { host: '127.0.0.1', port: f.dst.port }),
  });
  const refused = new FakeStream();
  dial.openStream(flow(port), refused);
  await refused.settled;
  t.is(refused.rejected, 'refused');
  const vetoed = new FakeStream();
  dial.openStream(flow(1), vetoed);
  t.is(vetoed.rejected, 'forbidden');
  dial.close();
});

test('local-dial: UDP flows keep datagram boundaries; ICMP is refused as forbidden', async (t) => {
  const server = dgram.createSocket('udp4');
  server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('re:'), m]), r.port, r.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const dial = new LocalDial();
  const got: string[] = [];
  let channel: Parameters<StackDatagrams['accept']>[0] | undefined;
  let icmpReason: RejectReason | undefined;
  const datagrams = (onReject?: (r: RejectReason) => void): StackDatagrams => ({
    accept: (c) => {
      channel = c;
    },
    reject: (r) => onReject?.(r),
    send: (d) => got.push(Buffer.from(d).toString()),
    close: () => undefined,
  });
  dial.openDatagram(flow(server.address().port, 'udp'), datagrams());
  await until(() => channel !== undefined);
  channel?.send(Buffer.from('a'));
  channel?.send(Buffer.from('bb'));
  await until(() => got.length === 2);
  t.deepEqual(got.sort(), ['re:a', 're:bb']);
  dial.openDatagram(
    flow(0, 'icmp'),
    datagrams((r) => {
      icmpReason = r;
    }),
  );
  t.is(icmpReason, 'forbidden');
  dial.close();
  server.close();
});
