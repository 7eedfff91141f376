// Framing on golden bytes: the 12-byte header, WINDOW, control frames; the
// reader across every chunk split; DATA payloads by reference both ways.
import test from 'ava';
import { decodeMessage, encodeMessage } from '../src/tunnel/control.ts';
import {
  encodeControl,
  encodeHeader,
  encodeWindow,
  FrameReader,
  type FrameSink,
  FrameType,
  frameTypeName,
} from '../src/tunnel/frame.ts';
import { acceptSession, connectSession, MemoryCarrier, type StreamChannel } from '../src/tunnel/index.ts';

const LIMITS = { maxDataPayload: 1 << 16, maxControlPayload: 1 << 12 };

function recorder(): { sink: FrameSink; events: string[] } {
  const events: string[] = [];
  let partial = '';
  const sink: FrameSink = {
    // Pieces of one DATA frame are joined, so the events do not depend on how the input was split.
    data: (ch, piece, last) => {
      partial += piece.toString('hex');
      if (!last) return;
      events.push(`data ${ch} ${partial}`);
      partial = '';
    },
    window: (ch, inc) => events.push(`window ${ch} ${inc}`),
    control: (type, ch, p) => events.push(`${frameTypeName(type)} ${ch} ${p.toString('hex')}`),
    invalid: (m) => events.push(`invalid ${m}`),
  };
  return { sink, events };
}

test('golden bytes: header, WINDOW and a control frame', (t) => {
  t.is(encodeHeader(FrameType.DATA, 0, 7, 3).toString('hex'), '000000000000000700000003');
  t.is(encodeWindow(0, 65536).toString('hex'), '01000000000000000000000400010000');
  const ping = encodeControl(FrameType.PING, 0, encodeMessage(FrameType.PING, { id: 5 }));
  t.is(ping.toString('hex'), '130000000000000000000002' + '0805');
  t.deepEqual(decodeMessage(FrameType.PING, ping.subarray(12)), { id: 5 });
});

test('the reader yields the same frames however the stream is split', (t) => {
  const stream = Buffer.concat([
    encodeHeader(FrameType.DATA, 0, 1, 3),
    Buffer.from([1, 2, 3]),
    encodeWindow(1, 10),
    encodeControl(FrameType.CLOSE, 1, new Uint8Array(0)),
    encodeHeader(FrameType.DATA, 0, 3, 0),
    encodeControl(FrameType.PONG, 0, encodeMessage(FrameType.PONG, { id: 300 })),
  ]);
  for (let cut = 0; cut <= stream.length; cut++) {
    for (const step of [1, 5, 13, stream.length]) {
      const { sink, events } = recorder();
      const r = new FrameReader(LIMITS, sink);
      r.push(stream.subarray(0, cut));
      for (let off = cut; off < stream.length; off += step) r.push(stream.subarray(off, off + step));
      t.deepEqual(
        events,
        ['data 1 010203', 'window 1 10', 'CLOSE 1 ', 'data 3 ', 'PONG 0 08ac02'],
        `cut ${cut} step ${step}`,
      );
    }
  }
});

test('DATA pieces are subarrays of the input, not copies', (t) => {
  const input = Buffer.concat([encodeHeader(FrameType.DATA, 0, 9, 5000), Buffer.alloc(5000, 1)]);
  const pieces: Buffer[] = [];
  const r = new FrameReader(LIMITS, { ...recorder().sink, data: (_c, p) => pieces.push(p) });
  r.push(input);
  t.is(pieces.length, 1);
  t.is(pieces[0]!.buffer, input.buffer);
  t.is(pieces[0]!.byteOffset, input.byteOffset + 12);
});

test('framing errors: unknown type, reserved bits, zero WINDOW, oversize, DATA on channel 0', (t) => {
  const cases: [Buffer, RegExp][] = [
    [Buffer.from('GET / HTTP/1.1\r\n'), /unknown frame type 0x47/],
    [Buffer.from([0x13, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), /reserved header bits/],
    [encodeWindow(3, 0), /zero increment/],
    [encodeHeader(FrameType.WINDOW, 0, 3, 8), /WINDOW frame payload must be 4/],
    [encodeHeader(FrameType.DATA, 0, 1, (1 << 16) + 1), /exceeds the maximum/],
    [encodeHeader(FrameType.DATA, 0, 0, 1), /DATA frame on channel 0/],
  ];
  for (const [bytes, re] of cases) {
    const { sink, events } = recorder();
    const r = new FrameReader(LIMITS, sink);
    r.push(bytes);
    r.push(bytes); // ignored after the first error
    t.is(events.length, 1);
    t.regex(events[0]!, re);
  }
  const { sink, events } = recorder();
  new FrameReader({ ...LIMITS, allowedTypes: new Set([FrameType.HELLO]) }, sink).push(encodeWindow(0, 1));
  t.regex(events[0]!, /not allowed here/);
});

test('DATA is written by reference: the payload buffer itself reaches the carrier', async (t) => {
  const [a, b] = MemoryCarrier.pair();
  const gwP = acceptSession(b, { gatewayName: 'g', authenticate: () => undefined });
  const client = await connectSession(a, { token: 't', clientId: 'c' });
  const gw = await gwP;
  t.teardown(() => {
    client.destroy();
    gw.destroy();
  });
  gw.on('open', (ch) => ch.accept());
  const r = await client.open({ protocol: 'tcp', host: '10.0.0.1', port: 1 });
  if (!r.ok) return t.fail();
  // Swap a capturing write path in front of the client's carrier.
  const cap = { chunks: [] as Buffer[] };
  const origWrite = a.write.bind(a);
  a.write = ((chunk: Buffer, ...rest: never[]) => {
    cap.chunks.push(chunk);
    return origWrite(chunk, ...rest);
  }) as typeof a.write;
  const payload = Buffer.alloc(100_000, 7);
  (r.channel as StreamChannel).write(payload);
  t.true(cap.chunks.includes(payload));
  t.deepEqual(cap.chunks[cap.chunks.indexOf(payload) - 1], encodeHeader(FrameType.DATA, 0, r.channel.id, 100_000));
});
