// Intercept ownership at the gateway (docs/security.md, "another cluster
// tenant"): an intercept's connections go only to a session that proves the
// key its owner recorded on the Service. Another user — with the gateway
// token, their own key, a copy of the owner's public key or an old proof of
// the owner's — cannot take it, not even while the owner is reconnecting,
// cannot withdraw it, and never receives a byte of it; the owner's next
// session takes it back. Real sessions over in-memory carriers, the real
// registry and relay.
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

const TOKEN = 'the-shared-gateway-token';
const ID = 'demo.hello.web';
const log = pino({ level: 'silent' });

async function world(t: import('ava').ExecutionContext) {
  const registry = new InterceptRegistry();
  const sessions: Session[] = [];
  /** laptop connects a session as `name` with an identity and answers intercept channels with its name. */
  const laptop = async (name: string, identity: SessionIdentity) => {
    const [a, b] = MemoryCarrier.pair();
    const [gw, s] = await Promise.all([
      acceptSession(b, { gatewayName: 'gw', authenticate: () => undefined }),
      connectSession(a, { token: TOKEN, clientId: name, identity }),
    ]);
    gw.interceptHandler = {
      register: (r) => registry.register(gw, r),
      unregister: (id) => registry.unregister(gw, id),
    };
    const got: string[] = [];
    s.on('open', (ch) => {
      ch.accept();
      const d = channelDuplex(ch as StreamChannel);
      d.on('error', () => undefined);
      d.on('data', (x: Buffer) => {
        got.push(x.toString());
        d.write(`${name} got ${x}`);
      });
    });
    sessions.push(s, gw);
    return { s, gw, got };
  };
  const relay = new InterceptRelay({ token: TOKEN, registry, logger: log });
  const server = await relay.listen('127.0.0.1', 0);
  const sock = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  await new Promise((r) => sock.once('connect', r));
  const pod = await connectSession(sock, { token: podToken(TOKEN, 'demo.hello'), clientId: 'demo.hello' });
  /** request is one cluster connection the intercept pod sends for the owner whose key the Service records. */
  const request = async (ownerKey: string): Promise<string> => {
    const r = await pod.open({
      protocol: 'tcp',
      host: '127.0.0.1',
      port: 8080,
      interceptId: ID,
      ownerKey,
      sourceHost: '10.244.0.9',
      sourcePort: 40000,
    });
    if (!r.ok) return `refused: ${r.message}`;
    const d = channelDuplex(r.channel as StreamChannel);
    d.on('error', () => undefined);
    d.write('GET /');
    const answer = await new Promise<string>((res) => d.once('data', (x: Buffer) => res(x.toString())));
    d.end();
    return answer;
  };
  t.teardown(() => {
    pod.destroy();
    relay.close();
    for (const s of sessions) s.destroy();
  });
  return { laptop, request };
}

test('another user cannot take an intercept, even while its owner is reconnecting; the owner gets it back', async (t) => {
  const { laptop, request } = await world(t);
  const alice = SessionIdentity.generate();
  const bob = SessionIdentity.generate();
  const a1 = await laptop('alice', alice);
  t.true((await a1.s.registerIntercept(ID, [8080])).ok);
  t.is(await request(alice.id), 'alice got GET /');

  const b = await laptop('bob', bob);
  // Bob may register the id under his own key, but the Service names Alice's key: he gets nothing.
  t.true((await b.s.registerIntercept(ID, [8080])).ok);
  t.is(await request(alice.id), 'alice got GET /');

  // Alice's tunnel drops (a reconnect). Bob registers again at once: still nothing for him.
  a1.s.destroy();
  await new Promise((r) => setImmediate(r));
  t.true((await b.s.registerIntercept(ID, [8080])).ok);
  t.regex(await request(alice.id), /^refused: the owner of intercept demo\.hello\.web is not connected/);

  // Alice's next session proves the same key and takes her intercept back.
  const a2 = await laptop('alice', alice);
  t.true((await a2.s.registerIntercept(ID, [8080])).ok);
  t.is(await request(alice.id), 'alice got GET /');
  t.deepEqual(b.got, [], 'bob never received a byte of alice’s intercept');
});

test('claiming the owner’s public key without her private key is refused, and so is replaying her proof', async (t) => {
  const { laptop, request } = await world(t);
  const alice = SessionIdentity.generate();
  const a = await laptop('alice', alice);
  t.true((await a.s.registerIntercept(ID, [8080])).ok);
  // Bob copies Alice's public key (it is on the Service) and the proof she sent on her session.
  const stolen = alice.proveRegistration(a.s.challenge, ID);
  const impostor = {
    publicKey: alice.publicKey,
    id: alice.id,
    proveRegistration: () => stolen,
  } as unknown as SessionIdentity;
  const bob = await laptop('bob', impostor);
  const r = await bob.s.registerIntercept(ID, [8080]);
  t.false(r.ok);
  t.regex(r.message, /proof does not match/);
  a.s.destroy();
  await new Promise((res) => setImmediate(res));
  t.regex(await request(alice.id), /^refused: the owner .* is not connected/);
  t.deepEqual(bob.got, []);
});

test('another user cannot withdraw an intercept: unregister only ever drops the caller’s own registration', async (t) => {
  const { laptop, request } = await world(t);
  const alice = SessionIdentity.generate();
  const a = await laptop('alice', alice);
  t.true((await a.s.registerIntercept(ID, [8080])).ok);
  const b = await laptop('bob', SessionIdentity.generate());
  const r = await b.s.unregisterIntercept(ID);
  t.false(r.ok);
  t.is(await request(alice.id), 'alice got GET /');
});

test('a session without an identity cannot register intercepts; a channel without an owner key is refused', async (t) => {
  const { request } = await world(t);
  const [c1, c2] = MemoryCarrier.pair();
  const registry = new InterceptRegistry();
  const [gw, anon] = await Promise.all([
    acceptSession(c2, { gatewayName: 'gw', authenticate: () => undefined }),
    connectSession(c1, { token: TOKEN, clientId: 'anon' }),
  ]);
  gw.interceptHandler = { register: (r) => registry.register(gw, r), unregister: (id) => registry.unregister(gw, id) };
  const r = await anon.registerIntercept(ID, [8080]);
  t.false(r.ok);
  t.regex(r.message, /need a session identity/);
  t.regex(await request(''), /^refused: an intercept channel must name its owner/);
  anon.destroy();
  gw.destroy();
});
