// Fuzzing both ends of the tunnel for a bounded time with a seeded generator:
// random, truncated and oversize frames, unknown types, bad reserved bits,
// wrong versions and raw garbage, before and after the handshake. Each case
// must end in a clean close or a session that still works — never a throw
// (ava fails on uncaught exceptions), a hang, or buffering beyond the limits.
import test from 'ava';
import pino from 'pino';
import { denyList } from '../src/gateway/config.ts';
import { GatewayMetrics } from '../src/gateway/metrics.ts';
import { GatewayServer } from '../src/gateway/server.ts';
import { mulberry32 } from '../src/tun/fault.ts';
import { encodeMessage } from '../src/tunnel/control.ts';
import { encodeControl, encodeHeader, encodeWindow, FrameReader, FrameType } from '../src/tunnel/frame.ts';
import { acceptSession, connectSession, DEFAULT_LIMITS, MemoryCarrier, type Session } from '../src/tunnel/index.ts';

const TOKEN = 'fuzz-token';
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 1500);
const KNOWN = Object.values(FrameType) as number[];

type Rnd = () => number;
const int = (rnd: Rnd, n: number): number => Math.floor(rnd() * n);
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[int(rnd, xs.length)]!;
const bytes = (rnd: Rnd, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rnd, 256)));

/** fields makes plausible-but-random protobuf fields for a control frame type. */
function fields(rnd: Rnd, type: number): Record<string, unknown> {
  const s = (): string => pick(rnd, ['', '10.0.0.1', '::1', 'x'.repeat(int(rnd, 300)), 'not an ip', '1.2.3.4']);
  const n = (): number => pick(rnd, [0, 1, 2, 3, 7, 65535, 65536, 0x7fffffff, 0xffffffff]);
  switch (type) {
    case FrameType.HELLO:
      return {
        minVersion: n(),
        maxVersion: n(),
        token: pick(rnd, [TOKEN, '', s()]),
        initialChannelWindow: n(),
        initialSessionWindow: n(),
      };
    case FrameType.WELCOME:
      return { version: n(), initialChannelWindow: n(), initialSessionWindow: n(), maxChannels: n() };
    case FrameType.OPEN:
      return { protocol: int(rnd, 5), host: s(), port: n(), timeoutMs: n(), interceptId: pick(rnd, ['', 'web']) };
    case FrameType.DNS_QUERY:
      return { id: n(), message: bytes(rnd, int(rnd, 60)), useSearch: rnd() < 0.5 };
    case FrameType.INTERCEPT_REGISTER:
      return { interceptId: pick(rnd, ['web', '', 'BAD id']), ports: [n(), n()] };
    default:
      return { id: n(), code: int(rnd, 12), reason: int(rnd, 9), message: s() };
  }
}

/** encoded is encodeMessage, or undefined when the random fields do not fit the message's types. */
function encoded(type: number, f: Record<string, unknown>): Buffer | undefined {
  try {
    return Buffer.from(encodeMessage(type, f));
  } catch {
    return undefined;
  }
}

/** frame makes one random frame: mostly well-formed, sometimes subtly or grossly wrong. */
function frame(rnd: Rnd, allowHello: boolean): Buffer {
  const r = rnd();
  if (r < 0.05) return bytes(rnd, int(rnd, 40)); // raw garbage
  const type =
    r < 0.1
      ? int(rnd, 256)
      : pick(
          rnd,
          KNOWN.filter((t) => allowHello || t !== FrameType.HELLO),
        );
  const channel = pick(rnd, [0, 1, 2, 3, 4, 5, 7, 99, 0xffffffff, int(rnd, 2 ** 32)]);
  let payload: Buffer;
  if (type === FrameType.DATA) payload = bytes(rnd, int(rnd, 3000));
  else if (type === FrameType.WINDOW) payload = rnd() < 0.8 ? bytes(rnd, 4) : bytes(rnd, int(rnd, 9));
  else if (KNOWN.includes(type) && rnd() < 0.7) payload = encoded(type, fields(rnd, type)) ?? bytes(rnd, 20);
  else payload = bytes(rnd, int(rnd, 200));
  let f =
    rnd() < 0.05
      ? encodeHeader(type, int(rnd, 256), channel, int(rnd, 2 ** 32))
      : encodeControl(type, channel, payload);
  if (rnd() < 0.03) f[2] = 1 + int(rnd, 255); // reserved bits set
  if (rnd() < 0.05) f = f.subarray(0, int(rnd, f.length)); // truncated
  return f;
}

function hello(token = TOKEN): Buffer {
  return encodeControl(
    FrameType.HELLO,
    0,
    encodeMessage(FrameType.HELLO, {
      minVersion: 1,
      maxVersion: 1,
      token,
      initialChannelWindow: 65536,
      initialSessionWindow: 1 << 20,
    }),
  );
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the gateway survives random, truncated, oversize and unknown frames before and after the handshake', async (t) => {
  const gw = new GatewayServer({
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    metrics: new GatewayMetrics(),
    resolver: undefined,
    icmp: { ok: false, reason: 'fuzzing' },
    deny: denyList(['0.0.0.0/0', '::/0']), // no OPEN may reach a real address
    maxSessions: 1000,
    sessionLimits: { handshakeTimeoutMs: 100, pingIntervalMs: 50, pingTimeoutMs: 400 },
  });
  const rnd = mulberry32(SEED);
  const deadline = performance.now() + BUDGET_MS;
  let cases = 0;
  let closedByGateway = 0;
  const carriers: MemoryCarrier[] = [];
  while (performance.now() < deadline) {
    cases++;
    const [a, b] = MemoryCarrier.pair();
    carriers.push(a);
    a.on('error', () => {});
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    a.on('end', () => a.destroy());
    a.on('data', () => {}); // drain whatever the gateway answers
    gw.serve(b, `fuzz-${cases}`);
    if (rnd() < 0.6) a.write(hello());
    const n = 1 + int(rnd, 12);
    for (let i = 0; i < n; i++) a.write(frame(rnd, rnd() < 0.2));
    const outcome = await Promise.race([closed.then(() => 'closed'), settle(30).then(() => 'open')]);
    if (outcome === 'closed') closedByGateway++;
    else a.destroy();
  }
  // Every carrier ends: sessions the fuzzer left open are gone once their carriers are, and
  // nothing they opened survives them (the live tables, not counters).
  await settle(50);
  t.deepEqual(gw.tables(), { sessions: [], sockets: { tcp: 0, udp: 0 }, handshakes: 0 });
  // And the gateway still serves a well-behaved client.
  const [a, b] = MemoryCarrier.pair();
  gw.serve(b, 'good');
  const s = await connectSession(a, { token: TOKEN, clientId: 'good' });
  t.true((await s.ping()) >= 0);
  s.close();
  t.log(`${cases} cases, ${closedByGateway} closed by the gateway (seed ${SEED})`);
  t.true(cases > 20);
  t.true(closedByGateway > 0);
  await gw.shutdown(100);
});

/** plausible makes a frame that is well-formed for a session in progress, so the fuzzer reaches deep states. */
function plausible(rnd: Rnd, ids: { next: number; used: number[] }): Buffer {
  const known = ids.used.length > 0 ? pick(rnd, ids.used) : 1;
  switch (int(rnd, 9)) {
    case 0: {
      const id = ids.next;
      ids.next += 2;
      ids.used.push(id);
      const open = {
        protocol: 1 + int(rnd, 3),
        host: pick(rnd, ['10.0.0.1', '127.0.0.1', '::1']),
        port: 1 + int(rnd, 65535),
      };
      return encodeControl(FrameType.OPEN, id, encodeMessage(FrameType.OPEN, open));
    }
    case 1:
      return Buffer.concat([encodeHeader(FrameType.DATA, 0, known, 100), bytes(rnd, 100)]);
    case 2:
      return encodeWindow(pick(rnd, [0, known]), 1 + int(rnd, 1 << 20));
    case 3:
      return encodeControl(FrameType.CLOSE, known, new Uint8Array(0));
    case 4:
      return encodeControl(FrameType.RESET, known, encodeMessage(FrameType.RESET, { code: int(rnd, 8), message: 'x' }));
    case 5:
      return encodeControl(FrameType.PING, 0, encodeMessage(FrameType.PING, { id: int(rnd, 100) }));
    case 6:
      return encodeControl(
        FrameType.DNS_QUERY,
        0,
        encodeMessage(FrameType.DNS_QUERY, { id: int(rnd, 100), message: bytes(rnd, 30) }),
      );
    case 7:
      return encodeControl(
        FrameType.INTERCEPT_REGISTER,
        0,
        encodeMessage(FrameType.INTERCEPT_REGISTER, {
          interceptId: pick(rnd, ['web', 'api', 'BAD']),
          ports: [int(rnd, 70000)],
        }),
      );
    default:
      return frame(rnd, false);
  }
}

test('the gateway stays consistent under long, mostly well-formed sessions', async (t) => {
  const gw = new GatewayServer({
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    metrics: new GatewayMetrics(),
    resolver: undefined,
    icmp: { ok: false, reason: 'fuzzing' },
    deny: denyList(['0.0.0.0/0', '::/0']),
    maxSessions: 1000,
    sessionLimits: { handshakeTimeoutMs: 100, maxChannels: 8 },
  });
  const rnd = mulberry32(SEED + 2);
  const deadline = performance.now() + BUDGET_MS;
  let cases = 0;
  let framesSurvived = 0;
  let maxChannelsSeen = 0;
  while (performance.now() < deadline) {
    cases++;
    const [a, b] = MemoryCarrier.pair();
    a.on('error', () => {});
    a.on('data', () => {});
    let closed = false;
    a.once('close', () => {
      closed = true;
    });
    gw.serve(b, `stateful-${cases}`);
    a.write(hello());
    const ids = { next: 1, used: [] as number[] };
    for (let i = 0; i < 200 && !closed; i++) {
      a.write(plausible(rnd, ids));
      if (i % 20 === 19) {
        await settle(1);
        // Whatever the frames did, one session never holds more channels than its limit.
        for (const s of gw.tables().sessions) maxChannelsSeen = Math.max(maxChannelsSeen, s.channels.length);
      }
      if (!closed) framesSurvived++;
    }
    a.destroy();
  }
  await settle(50);
  t.deepEqual(gw.tables(), { sessions: [], sockets: { tcp: 0, udp: 0 }, handshakes: 0 });
  t.true(maxChannelsSeen <= 8, `a session held ${maxChannelsSeen} channels`);
  t.log(`${cases} sessions, ${framesSurvived} frames accepted before a close (seed ${SEED + 2})`);
  t.true(framesSurvived > cases * 5); // the fuzzer got past the first frames, into the state machine
  await gw.shutdown(100);
});

test('the client survives a gateway that answers with random frames', async (t) => {
  const rnd = mulberry32(SEED + 1);
  const deadline = performance.now() + BUDGET_MS;
  let cases = 0;
  let established = 0;
  while (performance.now() < deadline) {
    cases++;
    const [a, b] = MemoryCarrier.pair();
    b.on('error', () => {});
    b.on('data', () => {});
    const started = connectSession(a, {
      token: TOKEN,
      clientId: 'fuzz',
      limits: { handshakeTimeoutMs: 100, pingIntervalMs: 50, pingTimeoutMs: 400 },
    }).then(
      (s) => s,
      () => undefined,
    );
    if (rnd() < 0.6) {
      const welcome = {
        version: 1,
        gatewayName: 'fuzz',
        sessionId: 'x',
        initialChannelWindow: 65536,
        initialSessionWindow: 1 << 20,
        maxChannels: 10,
      };
      b.write(encodeControl(FrameType.WELCOME, 0, encodeMessage(FrameType.WELCOME, welcome)));
    }
    const n = 1 + int(rnd, 12);
    for (let i = 0; i < n; i++) b.write(frame(rnd, false));
    const s = (await started) as Session | undefined;
    if (s) {
      established++;
      if (!s.closed) {
        // Use the session while it lives: opens, DNS and pings must settle, not hang.
        const ops = Promise.all([
          s.open({ protocol: 'tcp', host: '10.0.0.1', port: 1, timeoutMs: 50 }),
          s.dnsQuery(Buffer.alloc(12), { timeoutMs: 50 }),
        ]);
        await Promise.race([ops, settle(200)]);
        s.destroy();
      }
      t.true(s.closed);
      // A closed session keeps nothing: no channel, no pending OPEN, DNS query or intercept request.
      t.like(s.tables(), { channels: [], opening: [], dnsQueries: 0, interceptRequests: 0 });
    }
    b.destroy();
  }
  t.log(`${cases} cases, ${established} handshakes completed (seed ${SEED + 1})`);
  t.true(cases > 20);
});

test('oversize lengths are refused at the header, before any payload is buffered', (t) => {
  const errors: string[] = [];
  const sink = { data() {}, window() {}, control() {}, invalid: (m: string) => errors.push(m) };
  const limits = { maxDataPayload: DEFAULT_LIMITS.maxDataPayload, maxControlPayload: DEFAULT_LIMITS.maxControlPayload };
  const r1 = new FrameReader(limits, sink);
  r1.push(encodeHeader(FrameType.DATA, 0, 1, 0xffffffff));
  const r2 = new FrameReader(limits, sink);
  r2.push(encodeHeader(FrameType.OPEN, 0, 1, 100 * 1024 * 1024));
  t.is(errors.length, 2);
  t.regex(errors[0]!, /DATA frame of 4294967295 bytes exceeds/);
  t.regex(errors[1]!, /OPEN frame of 104857600 bytes exceeds/);
  t.true(r1.failed && r2.failed);
  r1.push(Buffer.alloc(1024 * 1024)); // ignored once failed: nothing is kept
});

test('a HELLO split into single bytes still works; one byte short waits, then the handshake times out', async (t) => {
  const [a, b] = MemoryCarrier.pair();
  const gw = acceptSession(b, { gatewayName: 'g', authenticate: () => undefined });
  const h = hello();
  for (const byte of h) a.write(Buffer.from([byte]));
  const s = await gw;
  t.is(s.version, 1);
  s.destroy();
  const [c, d] = MemoryCarrier.pair();
  const gw2 = acceptSession(d, { gatewayName: 'g', authenticate: () => undefined, limits: { handshakeTimeoutMs: 80 } });
  c.write(h.subarray(0, h.length - 1));
  await t.throwsAsync(gw2, { message: /no valid HELLO/ });
  t.true(d.writableEnded); // GOAWAY sent and the stream ended
});
