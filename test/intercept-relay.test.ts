// The gateway's intercept relay: an intercept pod's session (derived token)
// reaches only the laptops holding intercepts of its own Service, and only
// their registered ports; the bytes run through both channels.
import { type AddressInfo, connect } from 'node:net';
import test from 'ava';
import { pino } from 'pino';
import { InterceptRelay } from '../src/gateway/intercept-relay.ts';
import { InterceptRegistry } from '../src/gateway/intercepts.ts';
import { podToken } from '../src/intercept/model.ts';
import {
  acceptSession,
  channelDuplex,
  connectSession,
  MemoryCarrier,
  type Session,
  SessionIdentity,
  type StreamChannel,
} from '../src/tunnel/index.ts';

const TOKEN = 'gateway-secret';
const OWNER = SessionIdentity.generate();
const log = pino({ level: 'silent' });

async function setup(t: import('ava').ExecutionContext) {
  const registry = new InterceptRegistry();
  const [a, b] = MemoryCarrier.pair();
  const [gwSide, laptop] = await Promise.all([
    acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined }),
    connectSession(a, { token: TOKEN, clientId: 'laptop-1', identity: OWNER }),
  ]);
  gwSide.interceptHandler = {
    register: (r) => registry.register(gwSide, r),
    unregister: (id) => registry.unregister(gwSide, id),
  };
  t.true((await laptop.registerIntercept('demo.hello.alice', [9000])).ok);
  laptop.on('open', (ch) => {
    ch.accept();
    const d = channelDuplex(ch as StreamChannel);
    d.on('error', () => undefined);
    d.on('data', (x: Buffer) => d.write(Buffer.from(`laptop:${x}`)));
    d.on('end', () => d.end());
  });
  const relay = new InterceptRelay({ token: TOKEN, registry, logger: log });
  const server = await relay.listen('127.0.0.1', 0);
  const port = (server.address() as AddressInfo).port;
  const pods: Session[] = [];
  const pod = async (key: string, token = podToken(TOKEN, key)) => {
    const sock = connect({ host: '127.0.0.1', port });
    await new Promise((r) => sock.once('connect', r));
    const s = await connectSession(sock, { token, clientId: key });
    pods.push(s);
    return s;
  };
  t.teardown(() => {
    for (const p of pods) p.destroy();
    relay.close();
    laptop.destroy();
    gwSide.destroy();
  });
  return { pod };
}

const open = (s: Session, interceptId: string, port: number) =>
  s.open({
    protocol: 'tcp',
    host: '127.0.0.1',
    port,
    interceptId,
    ownerKey: OWNER.id,
    sourceHost: '10.244.0.9',
    sourcePort: 5555,
  });

test('an intercept pod reaches its Service’s laptop; bytes flow through both channels', async (t) => {
  const { pod } = await setup(t);
  const s = await pod('demo.hello');
  const r = await open(s, 'demo.hello.alice', 9000);
  t.true(r.ok);
  if (!r.ok) return;
  const d = channelDuplex(r.channel as StreamChannel);
  d.on('error', () => undefined);
  d.write('ping');
  const got = await new Promise<string>((res) => d.once('data', (x: Buffer) => res(x.toString())));
  t.is(got, 'laptop:ping');
  d.end();
});

test('another Service’s intercept, an unregistered port or intercept are refused', async (t) => {
  const { pod } = await setup(t);
  const other = await pod('demo.other');
  t.like(await open(other, 'demo.hello.alice', 9000), { ok: false, reason: 'forbidden' });
  const s = await pod('demo.hello');
  t.like(await open(s, 'demo.hello.alice', 22), { ok: false, reason: 'forbidden' });
  t.like(await open(s, 'demo.hello.bob', 9000), { ok: false, reason: 'unreachable' });
});

test('a token derived for another Service, or the raw gateway token, is refused', async (t) => {
  const { pod } = await setup(t);
  await t.throwsAsync(pod('demo.hello', podToken(TOKEN, 'demo.other')));
  await t.throwsAsync(pod('demo.hello', TOKEN));
  await t.throwsAsync(pod('not a key', podToken(TOKEN, 'not a key')));
});
