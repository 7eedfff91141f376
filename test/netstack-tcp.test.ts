// TCP transitions of the netstack, one per test, with a fake clock and a
// fake app (the test builds the app's segments with src/wire). The stack is
// always the passive side: the app connects to a routed address.
import test from 'ava';
import { TcpFlags } from '../src/wire/index.ts';
import { APP_ISS, Harness, TestUpstream } from './support/netstack-harness.ts';

const { SYN, ACK, FIN, RST, PSH } = TcpFlags;

test('tcp: a SYN opens an upstream flow and nothing is sent before accept (connect-then-accept)', (t) => {
  const h = new Harness(new TestUpstream(false));
  h.syn();
  t.is(h.up.streams.length, 1);
  t.like(h.up.last.flow, {
    protocol: 'tcp',
    version: 4,
    src: { address: '10.0.0.1', port: 40000 },
    dst: { address: '10.1.0.1', port: 80 },
  });
  t.deepEqual(h.take(), []);
  t.is(h.conn?.state, 'opening');
});

test('tcp: accept sends the SYN-ACK with MSS clamped to the MTU and the window scale answered', (t) => {
  const h = new Harness(new TestUpstream(false));
  h.syn({ mss: 9000 });
  h.up.last.stack.accept(h.up.last);
  h.up.last.stack.grant(1 << 20);
  h.dispatch();
  const [s] = h.tcpOut();
  t.is(s?.flags, SYN | ACK);
  t.is(s?.ack, APP_ISS + 1);
  t.is(s?.mss, 1460);
  t.is(s?.wscale, 7);
  t.is(s?.window, 65535);
  t.is(h.conn?.state, 'syn-received');
});

test('tcp: without a window-scale option in the SYN the SYN-ACK carries none', (t) => {
  const h = new Harness();
  h.syn({ wscale: undefined });
  const [s] = h.tcpOut();
  t.is(s?.wscale, undefined);
});

test('tcp: a refused open answers the SYN with RST|ACK', (t) => {
  const h = new Harness(new TestUpstream(false));
  h.syn();
  h.up.last.stack.reject('refused');
  h.dispatch();
  const [s] = h.tcpOut();
  t.is(s?.flags, RST | ACK);
  t.is(s?.ack, APP_ISS + 1);
  t.is(h.stack.tcpConnections, 0);
});

test('tcp: an unreachable open answers with ICMP host unreachable quoting the SYN', (t) => {
  const h = new Harness(new TestUpstream(false));
  h.syn();
  h.up.last.stack.reject('unreachable');
  h.dispatch();
  const [s] = h.take();
  t.like(s?.icmp, { kind: 'dstUnreachable', code: 1 });
  t.is(h.stack.counters.unreachablesSent, 1);
});

test('tcp: an open the upstream never answers times out with ICMP unreachable, and a late accept is reset', (t) => {
  const h = new Harness(new TestUpstream(false), { tcp: { openTimeout: 3000 } });
  h.syn();
  h.advance(2999);
  t.deepEqual(h.take(), []);
  h.advance(1);
  t.like(h.take()[0]?.icmp, { kind: 'dstUnreachable' });
  h.up.last.stack.accept(h.up.last);
  t.true(h.up.last.wasReset);
});

test('tcp: a duplicate SYN while the upstream dials is ignored', (t) => {
  const h = new Harness(new TestUpstream(false));
  h.syn();
  h.syn();
  t.is(h.up.streams.length, 1);
  t.deepEqual(h.take(), []);
});

test('tcp: the ACK of the SYN-ACK establishes the connection; the next ACK carries the scaled window', (t) => {
  const h = new Harness();
  h.syn();
  const [sa] = h.tcpOut();
  h.appAck = ((sa?.seq ?? 0) + 1) >>> 0;
  h.segment({});
  t.is(h.conn?.state, 'established');
  t.deepEqual(h.tcpOut(), []); // the SYN-ACK's 65535 is more than a segment: no update needed yet
  h.segment({ payload: 'x' });
  // The SYN-ACK's window is unscaled (at most 65535); the credit left is 1 MiB − 1 byte.
  t.is(h.tcpOut()[0]?.window, ((1 << 20) - 1) >> 7);
});

test('tcp: data riding on the handshake ACK is delivered', (t) => {
  const h = new Harness();
  h.syn();
  const [sa] = h.tcpOut();
  h.appAck = ((sa?.seq ?? 0) + 1) >>> 0;
  h.segment({ payload: 'early' });
  t.is(h.conn?.state, 'established');
  t.is(h.up.last.text, 'early');
});

test('tcp: a duplicate SYN in SYN-RECEIVED resends the SYN-ACK', (t) => {
  const h = new Harness();
  h.syn();
  t.is(h.tcpOut().length, 1);
  h.segment({ seq: APP_ISS, ack: 0, flags: SYN, mss: 1460 });
  const [s] = h.tcpOut();
  t.is(s?.flags, SYN | ACK);
});

test('tcp: a lost SYN-ACK is retransmitted after the initial RTO (1 s, plus up to a quarter of jitter)', (t) => {
  const h = new Harness();
  h.syn();
  const [first] = h.tcpOut();
  h.advance(999);
  t.deepEqual(h.tcpOut(), []);
  const at = firstOutputWithin(h, 250);
  t.true(at >= 1000 && at < 1250, `retransmitted at ${at} ms`);
  const [again] = h.tcpOut();
  t.is(again?.flags, SYN | ACK);
  t.is(again?.seq, first?.seq);
});

test('tcp: an ACK for the wrong sequence in SYN-RECEIVED gets a RST', (t) => {
  const h = new Harness();
  h.syn();
  h.take();
  h.segment({ ack: 12345 });
  const [s] = h.tcpOut();
  t.is(s?.flags, RST);
  t.is(s?.seq, 12345);
});

test('tcp: RST in SYN-RECEIVED closes and resets the upstream', (t) => {
  const h = new Harness();
  h.syn();
  h.take();
  h.segment({ flags: RST, ack: 0 });
  t.is(h.stack.tcpConnections, 0);
  t.true(h.up.last.wasReset);
});

test('tcp: RST from the app while the upstream dials abandons the open', (t) => {
  const h = new Harness(new TestUpstream(false));
  h.syn();
  h.segment({ flags: RST, seq: APP_ISS + 1, ack: 0 });
  t.is(h.stack.tcpConnections, 0);
  h.up.last.stack.accept(h.up.last);
  t.true(h.up.last.wasReset);
});

for (const state of ['established', 'fin-wait-1', 'fin-wait-2', 'close-wait', 'closing', 'last-ack'] as const) {
  test(`tcp: an exact RST in ${state.toUpperCase()} aborts and resets the upstream`, (t) => {
    const h = new Harness();
    h.establish();
    toState(h, state);
    t.is(h.conn?.state, state);
    h.segment({ flags: RST });
    t.is(h.stack.tcpConnections, 0);
    t.true(h.up.last.wasReset);
  });
}

test('tcp: an in-window RST with the wrong sequence gets a challenge ACK (RFC 5961)', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ flags: RST, seq: h.appNxt + 100 });
  t.is(h.conn?.state, 'established');
  const [s] = h.tcpOut();
  t.is(s?.flags, ACK);
  t.is(h.stack.counters.challengeAcks, 1);
});

test('tcp: a SYN in ESTABLISHED gets a challenge ACK, not a reset', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ flags: SYN, seq: h.appNxt + 5 });
  t.is(h.conn?.state, 'established');
  t.is(h.tcpOut()[0]?.flags, ACK);
});

test('tcp: in-order data goes upstream and is acknowledged at once', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ payload: 'hello', flags: ACK | PSH });
  t.is(h.up.last.text, 'hello');
  const [s] = h.tcpOut();
  t.is(s?.ack, APP_ISS + 1 + 5);
});

test('tcp: out-of-order data is held, answered with a duplicate ACK, and delivered once the hole fills', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ seq: APP_ISS + 1 + 5, payload: 'world' });
  t.is(h.up.last.text, '');
  t.is(h.tcpOut()[0]?.ack, APP_ISS + 1);
  h.segment({ seq: APP_ISS + 1, payload: 'hello' });
  t.is(h.up.last.text, 'helloworld');
  t.is(h.tcpOut().at(-1)?.ack, APP_ISS + 11);
});

test('tcp: a duplicate segment is acknowledged again but delivered once', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ payload: 'abc' });
  h.take();
  h.segment({ payload: 'abc' });
  t.is(h.up.last.text, 'abc');
  t.is(h.tcpOut()[0]?.ack, APP_ISS + 4);
});

test('tcp: a segment overlapping delivered bytes contributes only its new part', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ payload: 'abc' });
  h.segment({ payload: 'bcdef', seq: APP_ISS + 2 });
  t.is(h.up.last.text, 'abcdef');
});

test('tcp: the receive window is the upstream credit, and data beyond it is cut', (t) => {
  const h = new Harness(new TestUpstream(true, 10 << 7));
  h.establish();
  h.segment({ payload: 'x'.repeat(2000) });
  t.is(h.up.last.text.length, 1280);
  const [s] = h.tcpOut();
  t.is(s?.ack, APP_ISS + 1 + 1280);
  t.is(s?.window, 0);
  t.is(h.conn?.receiveWindow, 0);
});

test('tcp: new upstream credit reopens a zero window with a window update', (t) => {
  const h = new Harness(new TestUpstream(true, 1280));
  h.establish();
  h.segment({ payload: 'x'.repeat(1280) });
  h.take();
  h.up.last.stack.grant(64 << 10);
  h.dispatch();
  const [s] = h.tcpOut();
  t.is(s?.flags, ACK);
  t.is(s?.window, (64 << 10) >> 7);
});

test('tcp: upstream bytes are sent with PSH, and their ACK frees buffer and grants credit again', (t) => {
  const h = new Harness();
  const iss = h.establish();
  const granted = h.up.last.granted;
  t.true(granted > 0);
  h.up.last.stack.write(Buffer.from('response'));
  h.dispatch();
  const [s] = h.tcpOut();
  t.is(s?.data, 'response');
  t.is(s?.flags, ACK | PSH);
  t.is(s?.seq, iss + 1);
  t.is(h.conn?.buffered, 8);
  h.appAck = iss + 9;
  h.segment({});
  t.is(h.conn?.buffered, 0);
});

test('tcp: writing beyond the granted credit resets the flow', (t) => {
  const h = new Harness();
  h.establish();
  h.up.last.stack.write(new Uint8Array(h.up.last.granted + 1));
  h.dispatch();
  t.is(h.tcpOut()[0]?.flags, RST | ACK);
  t.is(h.stack.counters.creditViolations, 1);
});

test('tcp: unacknowledged data is retransmitted after the RTO, with backoff', (t) => {
  const h = new Harness();
  const iss = h.establish(); // the handshake RTT is 0 on the fake clock, so RTO = minRto = 200 ms
  h.up.last.stack.write(Buffer.from('data'));
  h.dispatch();
  h.take();
  const sentAt = h.now;
  h.advance(199);
  t.deepEqual(h.tcpOut(), []);
  const first = firstOutputWithin(h, 100);
  t.true(first - sentAt >= 200 && first - sentAt < 250, `first retransmission after ${first - sentAt} ms`);
  const [r1] = h.tcpOut();
  t.is(r1?.seq, iss + 1);
  t.is(r1?.data, 'data');
  h.advance(399);
  t.deepEqual(h.tcpOut(), []);
  const second = firstOutputWithin(h, 200);
  t.true(second - first >= 400 && second - first < 500, `second after ${second - first} ms more`);
  t.is(h.tcpOut()[0]?.data, 'data');
  t.is(h.stack.counters.rtoExpiries, 2);
});

test('tcp: segments lost together are not all retransmitted in the same instant (RTO jitter)', (t) => {
  // Thousands of FINs dropped by a full queue, retransmitted in lockstep, are dropped again together.
  const h = new Harness();
  for (let i = 0; i < 200; i++) {
    h.appPort = 41000 + i;
    h.appNxt = APP_ISS;
    h.establish();
  }
  for (const s of h.up.streams) s.stack.end(); // 200 FINs leave in one dispatch, and all are lost
  h.dispatch();
  t.is(h.tcpOut().filter((s) => s.flags & FIN).length, 200);
  const instants = new Set<number>();
  for (let ms = 0; ms < 400; ms++) {
    h.advance(1);
    if (h.tcpOut().some((s) => s.flags & FIN)) instants.add(h.now);
  }
  t.true(instants.size >= 20, `200 retransmitted FINs left at ${instants.size} distinct instants`);
});

test('tcp: the retransmission limit aborts the connection with RST and resets the upstream', (t) => {
  const h = new Harness(new TestUpstream(), { tcp: { maxRetries: 3 } });
  h.establish();
  h.up.last.stack.write(Buffer.from('data'));
  h.dispatch();
  h.advance(60_000);
  t.is(h.tcpOut().at(-1)?.flags, RST | ACK);
  t.is(h.stack.tcpConnections, 0);
  t.true(h.up.last.wasReset);
});

test('tcp: three duplicate ACKs trigger a fast retransmit of the first unacknowledged segment', (t) => {
  const h = new Harness();
  const iss = h.establish();
  h.up.last.stack.write(new Uint8Array(1460 * 5).fill(65));
  h.dispatch();
  t.is(h.tcpOut().length, 5);
  h.appAck = iss + 1 + 1460;
  h.segment({});
  for (let i = 0; i < 3; i++) h.segment({});
  const out = h.tcpOut();
  t.is(out.length, 1);
  t.is(out[0]?.seq, iss + 1 + 1460);
  t.is(h.stack.counters.fastRetransmits, 1);
});

test('tcp: a zero window stops sending; a probe follows the RTO; a window update resumes', (t) => {
  const h = new Harness();
  const iss = h.establish({ window: 0, wscale: 0 });
  h.segment({ window: 0 });
  h.up.last.stack.write(Buffer.from('waiting'));
  h.dispatch();
  t.deepEqual(h.tcpOut(), []);
  h.advance(1000);
  const [probe] = h.tcpOut();
  t.is(probe?.seq, iss); // SND.UNA − 1
  t.is(probe?.data, '');
  h.segment({ window: 1000 });
  t.is(h.tcpOut()[0]?.data, 'waiting');
});

test('tcp: the app FIN ends the upstream, moves to CLOSE-WAIT and is acknowledged', (t) => {
  const h = new Harness();
  h.establish();
  h.segment({ flags: FIN | ACK });
  t.true(h.up.last.ended);
  t.is(h.conn?.state, 'close-wait');
  t.is(h.tcpOut()[0]?.ack, APP_ISS + 2);
});

test('tcp: after CLOSE-WAIT the upstream end sends FIN (LAST-ACK) and its ACK closes', (t) => {
  const h = new Harness();
  const iss = h.establish();
  h.segment({ flags: FIN | ACK });
  h.appNxt++;
  h.take();
  h.up.last.stack.end();
  h.dispatch();
  t.is(h.tcpOut()[0]?.flags, FIN | ACK);
  t.is(h.conn?.state, 'last-ack');
  h.appAck = iss + 2;
  h.segment({});
  t.is(h.stack.tcpConnections, 0);
});

test('tcp: closing first: FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT, which expires', (t) => {
  const h = new Harness(new TestUpstream(), { tcp: { timeWait: 500 } });
  const iss = h.establish();
  h.up.last.stack.write(Buffer.from('bye'));
  h.up.last.stack.end();
  h.dispatch();
  const [s] = h.tcpOut();
  t.is(s?.flags, ACK | PSH | FIN);
  t.is(h.conn?.state, 'fin-wait-1');
  h.appAck = iss + 5;
  h.segment({});
  t.is(h.conn?.state, 'fin-wait-2');
  h.segment({ flags: FIN | ACK });
  t.is(h.conn?.state, 'time-wait');
  t.true(h.up.last.ended);
  h.advance(500);
  t.is(h.stack.tcpConnections, 0);
});

test('tcp: simultaneous close goes through CLOSING to TIME-WAIT', (t) => {
  const h = new Harness();
  const iss = h.establish();
  h.up.last.stack.end();
  h.dispatch();
  h.take();
  h.segment({ flags: FIN | ACK }); // crosses our FIN: does not acknowledge it
  t.is(h.conn?.state, 'closing');
  h.appNxt++;
  h.appAck = iss + 2;
  h.segment({});
  t.is(h.conn?.state, 'time-wait');
});

test('tcp: a retransmitted FIN in TIME-WAIT is acknowledged again', (t) => {
  const h = new Harness();
  h.establish();
  toState(h, 'time-wait');
  t.is(h.conn?.state, 'time-wait');
  h.take();
  h.segment({ flags: FIN | ACK, seq: h.appNxt - 1 }); // the same FIN again: our ACK was lost
  t.is(h.tcpOut()[0]?.ack, APP_ISS + 2);
  t.is(h.conn?.state, 'time-wait');
});

test('tcp: a new SYN for a tuple in TIME-WAIT opens a new connection (reuse)', (t) => {
  const h = new Harness();
  h.establish();
  toState(h, 'time-wait');
  t.is(h.conn?.state, 'time-wait');
  h.take();
  h.segment({ seq: APP_ISS + 100000, ack: 0, flags: SYN, mss: 1460 });
  t.is(h.up.streams.length, 2);
  t.is(h.tcpOut()[0]?.flags, SYN | ACK);
});

test('tcp: a segment for no connection gets a RST (RFC 9293 §3.10.7.1)', (t) => {
  const h = new Harness();
  h.segment({ flags: ACK, ack: 777 });
  const [s] = h.tcpOut();
  t.is(s?.flags, RST);
  t.is(s?.seq, 777);
});

test('tcp: upstream reset sends RST to the app', (t) => {
  const h = new Harness();
  h.establish();
  h.up.last.stack.reset();
  h.dispatch();
  t.is(h.tcpOut()[0]?.flags, RST | ACK);
  t.is(h.stack.tcpConnections, 0);
  t.false(h.up.last.wasReset);
});

test('tcp: stack close resets established and dialing connections on both sides', (t) => {
  const h = new Harness();
  h.establish();
  const dialing = new TestUpstream(false);
  const h2 = new Harness(dialing);
  h2.syn();
  for (const x of [h, h2]) {
    x.stack.close();
    x.dispatch();
    t.is(x.stack.tcpConnections, 0);
  }
  t.is(h.tcpOut()[0]?.flags, RST | ACK);
  t.true(h.up.last.wasReset);
  t.is(h2.tcpOut()[0]?.flags, RST | ACK);
  dialing.last.stack.accept(dialing.last);
  t.true(dialing.last.wasReset);
});

test('tcp: ISNs differ per tuple and advance with the clock (RFC 6528)', (t) => {
  const a = new Harness();
  a.syn();
  const b = new Harness();
  b.appPort = 40001;
  b.syn();
  const c = new Harness();
  c.now = 1000;
  c.syn();
  const [sa, sb, sc] = [a.tcpOut()[0]?.seq, b.tcpOut()[0]?.seq, c.tcpOut()[0]?.seq];
  t.not(sa, sb);
  t.is(((sc ?? 0) - (sa ?? 0)) >>> 0, 250_000);
});

/** firstOutputWithin advances 1 ms at a time until the stack emits something and returns that time; the output stays for take. */
function firstOutputWithin(h: Harness, ms: number): number {
  for (let i = 0; i < ms; i++) {
    h.advance(1);
    if (h.out.length > 0) return h.now;
  }
  return Number.NaN;
}

/** toState drives an established connection into state. */
function toState(h: Harness, state: string): void {
  if (!h.conn) throw new Error('no connection');
  h.take();
  const ourFin = () => {
    h.up.last.stack.end();
    h.dispatch();
    const fin = h.tcpOut().find((s) => s.flags & FIN);
    return fin ? fin.seq : 0;
  };
  switch (state) {
    case 'established':
      return;
    case 'fin-wait-1':
      ourFin();
      return;
    case 'fin-wait-2': {
      const f = ourFin();
      h.appAck = (f + 1) >>> 0;
      h.segment({});
      return;
    }
    case 'close-wait':
      h.segment({ flags: FIN | ACK });
      h.appNxt++;
      return;
    case 'closing':
      ourFin();
      h.segment({ flags: FIN | ACK });
      h.appNxt++;
      return;
    case 'last-ack':
      h.segment({ flags: FIN | ACK });
      h.appNxt++;
      ourFin();
      return;
    case 'time-wait': {
      const f = ourFin();
      h.appAck = (f + 1) >>> 0;
      h.segment({ flags: FIN | ACK });
      h.appNxt++;
      return;
    }
  }
}

test('tcp: a segment cut from many small upstream writes leaves as at most 16 parts, bytes intact', (t) => {
  // Seen live: a server writing many small chunks while the app paused reading
  // made one segment of hundreds of parts, and the TUN addon threw for it.
  const h = new Harness(new TestUpstream(), { mtu: 65520 });
  const iss = h.establish({ mss: 65480 });
  const chunks: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const c = String.fromCharCode(97 + (i % 26)).repeat(1 + (i % 13));
    chunks.push(c);
    h.up.last.stack.write(Buffer.from(c));
  }
  h.dispatch();
  t.true(h.emitted.length > 0);
  for (const p of h.emitted) {
    const parts = p instanceof Uint8Array ? 1 : p.length;
    t.true(parts <= 16, `a packet of ${parts} parts`);
  }
  const sent = h.tcpOut();
  t.is(sent[0]?.seq, iss + 1);
  t.true(sent.map((s) => s.data).join('') === chunks.join(''), 'the bytes sent are the bytes written');
});

test('tcp: an RTO with a zero window and data in flight retransmits the head, so a lost window update cannot hang the flow', (t) => {
  // RFC 9293 §3.8.6.1 / RFC 1122 §4.2.2.17: keep probing a zero window, data in flight or not (Linux
  // retransmits the head segment from its retransmission timer).
  const h = new Harness();
  const iss = h.establish({ wscale: 0 });
  h.up.last.stack.write(new Uint8Array(3000).fill(66));
  h.dispatch();
  t.deepEqual(
    h.tcpOut().map((s) => s.data.length),
    [1460, 1460, 80],
  );
  // The app takes the first segment and closes its window; the rest of the flight is lost.
  h.appAck = iss + 1 + 1460;
  h.segment({ window: 0 });
  h.take();
  // The app's window update is lost too: only our timer can restart the flow.
  h.advance(5_000);
  const probes = h.tcpOut();
  t.true(probes.length > 0, 'something is sent into the zero window');
  t.true(
    probes.every((p) => p.seq === iss + 1 + 1460),
    'each probe retransmits the head',
  );
  // The app answers a probe with its open window, having dropped the probe's bytes (they lay beyond
  // its window): they go again at once, and the rest follows their ACK.
  h.segment({ window: 65535 });
  const again = h.tcpOut();
  t.is(again[0]?.seq, iss + 1 + 1460);
  t.is(again[0]?.data.length, 1460);
  h.appAck = iss + 1 + 2920;
  h.segment({ window: 65535 });
  t.deepEqual(
    h.tcpOut().map((s) => [s.seq, s.data.length]),
    [[iss + 1 + 2920, 80]],
  );
  h.appAck = iss + 1 + 3000;
  h.segment({ window: 65535 });
  t.is(h.conn?.buffered, 0);
});

test('tcp: an app that keeps answering with a zero window is probed for as long as it lives, never aborted', (t) => {
  const h = new Harness(new TestUpstream(), { tcp: { maxRetries: 3 } });
  const iss = h.establish({ wscale: 0 });
  h.up.last.stack.write(new Uint8Array(3000).fill(66));
  h.dispatch();
  h.appAck = iss + 1 + 1460;
  h.segment({ window: 0 });
  let probes = 0;
  for (let second = 0; second < 40 * 60; second++) {
    h.advance(1000);
    if (h.tcpOut().length > 0) {
      probes++;
      h.segment({ window: 0 }); // alive, still not reading: its kernel answers every probe
    }
  }
  t.true(probes > 40, `${probes} probes in 40 minutes`);
  t.is(h.conn?.state, 'established');
  t.false(h.up.last.wasReset);
});

test('tcp: a silent app behind a zero window is aborted after the retransmission limit', (t) => {
  for (const inFlight of [true, false]) {
    const h = new Harness(new TestUpstream(), { tcp: { maxRetries: 3 } });
    const iss = h.establish({ wscale: 0 });
    h.up.last.stack.write(new Uint8Array(3000).fill(66));
    h.dispatch();
    h.appAck = iss + 1 + (inFlight ? 1460 : 3000);
    h.segment({ window: 0 });
    if (!inFlight) h.up.last.stack.write(new Uint8Array(10).fill(67)); // waits behind the closed window: persist
    h.dispatch();
    h.advance(30 * 60_000);
    t.is(h.stack.tcpConnections, 0, inFlight ? 'data in flight' : 'persist');
    t.true(h.up.last.wasReset);
  }
});

test('tcp: an idle connection whose app answers keepalive probes lives on (a quiet psql session is never cut)', (t) => {
  const h = new Harness();
  const iss = h.establish();
  let probes = 0;
  for (let second = 0; second < 2 * 3600; second++) {
    h.advance(1000);
    for (const s of h.tcpOut()) {
      t.is(s.flags, ACK);
      t.is(s.seq, iss); // SND.NXT − 1: the app's kernel must answer with an ACK
      t.is(s.data, '');
      probes++;
      h.segment({}); // the app's kernel answers
    }
  }
  t.true(probes >= 60 && probes <= 130, `${probes} probes in two idle hours`);
  t.is(h.conn?.state, 'established');
  t.false(h.up.last.wasReset);
});

for (const state of ['established', 'close-wait'] as const) {
  test(`tcp: in ${state.toUpperCase()}, an app that vanished without a word is collected by keepalive within 2 minutes`, (t) => {
    const h = new Harness();
    h.establish();
    toState(h, state);
    h.take();
    h.advance(120_000);
    const out = h.tcpOut();
    t.true(out.filter((s) => s.flags === ACK && s.data === '').length >= 2, 'probes went out first');
    t.is(out.at(-1)?.flags, RST | ACK);
    t.is(h.stack.tcpConnections, 0);
    t.true(h.up.last.wasReset, 'the upstream is told, so the gateway drops its socket');
  });
}

test('tcp: a keepalive probe answered with RST (the app socket is gone) aborts at once', (t) => {
  const h = new Harness();
  const iss = h.establish();
  h.advance(75_000);
  t.true(h.tcpOut().length > 0);
  h.segment({ flags: RST, seq: h.appNxt, ack: iss + 1 });
  t.is(h.stack.tcpConnections, 0);
  t.true(h.up.last.wasReset);
});

test('tcp: FIN-WAIT-2 ends 60 s after the last word from the app (as Linux tcp_fin_timeout), and words restart it', (t) => {
  const h = new Harness();
  h.establish();
  toState(h, 'fin-wait-2');
  h.advance(50_000);
  h.segment({ payload: 'still sending' }); // half-closed, the app may still talk
  t.is(h.up.last.text, 'still sending');
  h.take();
  h.advance(59_000);
  t.is(h.conn?.state, 'fin-wait-2');
  t.deepEqual(h.tcpOut(), []);
  h.advance(1_000);
  t.is(h.tcpOut().at(-1)?.flags, RST | ACK);
  t.is(h.stack.tcpConnections, 0);
  t.true(h.up.last.wasReset);
});

test('tcp: timestamps offered in the SYN are negotiated: every segment then carries TSopt echoing the app (RFC 7323 §3)', (t) => {
  const h = new Harness();
  h.now = 5000;
  h.syn({ timestamp: { value: 777, echo: 0 } });
  const [synAck] = h.tcpOut();
  t.deepEqual(synAck?.timestamp, { value: 5000, echo: 777 });
  h.appAck = ((synAck?.seq ?? 0) + 1) >>> 0;
  h.now = 5010;
  h.segment({ timestamp: { value: 780, echo: 5000 }, payload: 'hi' });
  const [ack] = h.tcpOut();
  t.deepEqual(ack?.timestamp, { value: 5010, echo: 780 });
  h.up.last.stack.write(Buffer.from('there'));
  h.now = 5020;
  h.dispatch();
  t.deepEqual(h.tcpOut()[0]?.timestamp, { value: 5020, echo: 780 });
});

test('tcp: without timestamps in the SYN no segment carries them', (t) => {
  const h = new Harness();
  h.establish();
  h.up.last.stack.write(Buffer.from('x'));
  h.dispatch();
  t.is(h.tcpOut()[0]?.timestamp, undefined);
});

test('tcp: with timestamps a full segment carries the MSS less the 12 option bytes, so it fits the MTU', (t) => {
  const h = new Harness(); // MTU 1500: MSS 1460
  h.establish({ mss: 1460, timestamp: { value: 1, echo: 0 } });
  h.up.last.stack.write(new Uint8Array(3000));
  h.dispatch();
  const sizes = h.take().map((s) => s.payload.length);
  t.deepEqual(sizes, [1448, 1448, 104]);
});

test('tcp: PAWS: a segment whose timestamp is older than TS.Recent is dropped and acknowledged (RFC 7323 §5.3)', (t) => {
  const h = new Harness();
  h.establish({ timestamp: { value: 1000, echo: 0 } });
  h.segment({ timestamp: { value: 2000, echo: 0 }, payload: 'new' });
  h.take();
  // An old duplicate from before a sequence wrap: right sequence number, stale timestamp.
  h.segment({ seq: h.appNxt + 3, timestamp: { value: 1500, echo: 0 }, payload: 'old' });
  t.is(h.up.last.text, 'new');
  const [ack] = h.tcpOut();
  t.is(ack?.ack, APP_ISS + 1 + 3);
  h.segment({ seq: h.appNxt + 3, timestamp: { value: 2001, echo: 0 }, payload: 'yes' });
  t.is(h.up.last.text, 'newyes');
});

test('tcp: the echoed timestamp times a retransmission too (RTTM), so a backed-off RTO recovers at once', (t) => {
  const h = new Harness();
  const iss = h.establish({ timestamp: { value: 1, echo: 0 } });
  h.up.last.stack.write(Buffer.from('a'));
  h.dispatch();
  h.advance(700); // lost: retransmitted at ~200 ms and ~600 ms, the RTO now backed off to 800 ms
  const rexmit = h.tcpOut().at(-1);
  t.is(rexmit?.data, 'a');
  // Karn's rule would take no sample from this ACK; its echoed timestamp names the retransmission.
  h.appAck = iss + 2;
  h.segment({ timestamp: { value: 2, echo: rexmit?.timestamp?.value ?? 0 } });
  h.take();
  h.up.last.stack.write(Buffer.from('b'));
  h.dispatch();
  h.take();
  const sent = h.now;
  const at = firstOutputWithin(h, 1000);
  t.true(at - sent < 300, `the next retransmission came after ${at - sent} ms: the RTO is back near 200 ms`);
});

test('tcp: a SYN with an older timestamp and sequence for a tuple in TIME-WAIT is an old duplicate (RFC 6191)', (t) => {
  const h = new Harness();
  h.establish({ timestamp: { value: 5000, echo: 0 } });
  toState(h, 'time-wait');
  h.take();
  h.segment({ seq: APP_ISS - 100, ack: 0, flags: SYN, mss: 1460, timestamp: { value: 4000, echo: 0 } });
  t.is(h.up.streams.length, 1, 'no new connection');
  t.is(h.conn?.state, 'time-wait');
  t.is(h.tcpOut()[0]?.flags, ACK);
  h.segment({ seq: APP_ISS - 100, ack: 0, flags: SYN, mss: 1460, timestamp: { value: 6000, echo: 0 } });
  t.is(h.up.streams.length, 2, 'a newer timestamp opens a new connection on the tuple');
  t.is(h.tcpOut()[0]?.flags, SYN | ACK);
});

test('tcp: a burst is paced: one dispatch emits about 1,024 packets and leaves the rest for the next', (t) => {
  // 3,000 FINs written in one go would each draw an ACK into the TUN's queue before the daemon reads again.
  const h = new Harness();
  for (let i = 0; i < 3000; i++) {
    h.appPort = 20000 + i;
    h.appNxt = APP_ISS;
    h.establish();
  }
  for (const s of h.up.streams) s.stack.end();
  h.dispatch();
  const first = h.take().length;
  t.true(first >= 1024 && first < 1100, `${first} packets in the first dispatch`);
  t.is(h.stack.pollAt(h.now), h.now, 'the rest is due at once');
  let fins = first;
  for (let i = 0; i < 10 && h.stack.pollAt(h.now) <= h.now; i++) {
    h.dispatch();
    fins += h.take().length;
  }
  t.is(fins, 3000);
});

test('tcp: a bare FIN at RCV.NXT is taken even when the window is zero (as Linux), so the close is not held up', (t) => {
  // An upstream that grants no credit (its destination reads nothing) must still see the app's close.
  const h = new Harness(new TestUpstream(true, 0));
  h.establish();
  h.segment({ flags: FIN | ACK });
  t.true(h.up.last.ended, 'the upstream hears the FIN');
  t.is(h.conn?.state, 'close-wait');
  t.is(h.tcpOut().at(-1)?.ack, APP_ISS + 2);
});
