// The gateway process against real servers in a network namespace. The
// gateway runs inside the namespace exactly as in its pod (tunnel listener on
// 127.0.0.1:8300, the namespace's own resolv.conf); the test reaches it the
// way the kubelet's port-forward does — a byte stream to the pod's loopback —
// here `socat STDIO TCP:127.0.0.1:8300` run inside the namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Duplex } from 'node:stream';
import test from 'ava';
import dns2 from 'dns2';
import {
  connectSession,
  type DatagramChannel,
  GoAwayCode,
  HandshakeError,
  type Session,
  type StreamChannel,
} from '../src/tunnel/index.ts';
import { deleteAllNetns, Netns, vethPair } from './support/netns.ts';
import { rootTest } from './support/root.ts';
import { pattern } from './support/tunnel-pattern.ts';

const root = resolve(import.meta.dirname, '..');
const node = process.execPath;
const TOKEN = 'netns-test-token-5b1f0c';
const TARGET = '10.250.0.1';
const NFT = '/usr/sbin/nft'; // by path: node_modules/.bin has an unrelated `nft`
const { Packet } = dns2;

let ns: Netns | undefined;
/** far holds the targets: the gateway refuses its own pod's addresses, so they live one hop away, as a cluster's pods do. */
let far: Netns | undefined;
let dir = '';
let gateway: ChildProcess | undefined;
let targets: ChildProcess | undefined;
let gatewayLog = '';
const carriers: ChildProcess[] = [];

/** carrier opens a byte stream to the gateway's loopback listener inside the namespace. */
function carrier(): Duplex {
  const p = spawn('ip', ['netns', 'exec', ns!.name, 'socat', 'STDIO', 'TCP:127.0.0.1:8300'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  carriers.push(p);
  return Duplex.from({ readable: p.stdout!, writable: p.stdin! });
}

function connect(token = TOKEN): Promise<Session> {
  return connectSession(carrier(), { token, clientId: 'netns-test' });
}

async function waitFor(p: ChildProcess, stream: 'stdout' | 'stderr', re: RegExp, onText?: (s: string) => void) {
  let buf = '';
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`timed out waiting for ${re}: ${buf}`)), 15_000);
    p[stream]!.on('data', (d: Buffer) => {
      buf += d.toString();
      onText?.(d.toString());
      if (re.test(buf)) {
        clearTimeout(timer);
        ok();
      }
    });
    p.once('exit', (code) => fail(new Error(`process exited (${code}) before ${re}: ${buf}`)));
  });
}

test.before(async () => {
  if (process.getuid?.() !== 0) return;
  ns = await Netns.create('gw');
  far = await Netns.create('far');
  await vethPair(ns, '10.249.0.1/30', far, '10.249.0.2/30');
  await far.ip('addr', 'add', `${TARGET}/32`, 'dev', 'lo');
  await ns.ip('route', 'add', `${TARGET}/32`, 'via', '10.249.0.2');
  await ns.ip('route', 'add', 'unreachable', '10.251.0.0/16');
  // An on-link route to a veth whose peer owns no such address: ARP goes
  // unanswered, so a dial to 10.252/16 sees nothing for seconds (a timeout).
  await ns.ip('link', 'add', 'dnvtun0', 'type', 'veth', 'peer', 'name', 'dnvtun1');
  await ns.ip('link', 'set', 'dnvtun0', 'up');
  await ns.ip('link', 'set', 'dnvtun1', 'up');
  await ns.ip('route', 'add', '10.252.0.0/16', 'dev', 'dnvtun0');
  dir = mkdtempSync(join(tmpdir(), 'devnet-gw-'));
  writeFileSync(
    join(dir, 'resolv.conf'),
    `nameserver ${TARGET}\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  );
  targets = spawn('ip', ['netns', 'exec', far.name, node, join(root, 'test/support/tunnel-targets.ts'), TARGET], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await waitFor(targets, 'stdout', /ready/);
  gateway = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns.name,
      node,
      join(root, 'src/gateway/main.ts'),
      '--health-listen',
      '127.0.0.1:8301',
      '--resolv-conf',
      join(dir, 'resolv.conf'),
      '--drain-timeout',
      '2000',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Keepalive after 1 s of silence (60 s in a pod), so a vanished destination is seen within the test.
      env: { ...process.env, DEVNET_GATEWAY_TOKEN: TOKEN, DEVNET_GATEWAY_TCP_KEEPALIVE: '1000' },
    },
  );
  gateway.stderr!.on('data', (d: Buffer) => {
    gatewayLog += d.toString();
  });
  await waitFor(gateway, 'stdout', /health and metrics listener ready/, (s) => {
    gatewayLog += s;
  });
});

test.after.always(async () => {
  for (const c of carriers) c.kill();
  gateway?.kill('SIGKILL');
  targets?.stdin?.end();
  targets?.kill();
  await deleteAllNetns();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

rootTest('TCP through the gateway keeps data intact both ways (sha256)', async (t) => {
  const s = await connect();
  t.teardown(() => s.close());
  const up = await s.open({ protocol: 'tcp', host: TARGET, port: 7000, timeoutMs: 2000 });
  if (!up.ok) return t.fail(up.message);
  const ch = up.channel as StreamChannel;
  const data = randomBytes(8 * 1024 * 1024 + 3);
  const reply: Buffer[] = [];
  ch.on('data', (d) => {
    reply.push(Buffer.from(d));
    ch.release(d.length);
  });
  const ended = once(ch, 'end');
  for (let off = 0; off < data.length; off += 200_000) {
    if (!ch.write(data.subarray(off, off + 200_000))) await once(ch, 'drain');
  }
  ch.end();
  await ended;
  t.is(Buffer.concat(reply).toString(), createHash('sha256').update(data).digest('hex'));

  const down = await s.open({ protocol: 'tcp', host: TARGET, port: 7001 });
  if (!down.ok) return t.fail(down.message);
  const dch = down.channel as StreamChannel;
  const n = 16 * 1024 * 1024;
  const h = createHash('sha256');
  let got = 0;
  dch.on('data', (d) => {
    h.update(d);
    got += d.length;
    dch.release(d.length);
  });
  dch.write(Buffer.from(`${n}\n`));
  dch.end();
  await once(dch, 'end');
  t.is(got, n);
  t.is(h.digest('hex'), createHash('sha256').update(pattern(0, n)).digest('hex'));
});

rootTest('UDP through the gateway: datagrams echo with their boundaries', async (t) => {
  const s = await connect();
  t.teardown(() => s.close());
  const r = await s.open({ protocol: 'udp', host: TARGET, port: 7002 });
  if (!r.ok) return t.fail(r.message);
  const ch = r.channel as DatagramChannel;
  const sent = [Buffer.from('one'), randomBytes(1400), randomBytes(9000)];
  const got: Buffer[] = [];
  const all = new Promise<void>((ok) =>
    ch.on('data', (d) => {
      got.push(Buffer.from(d));
      if (got.length === sent.length) ok();
    }),
  );
  for (const d of sent) ch.send(d);
  await all;
  t.deepEqual(got.map((g) => g.toString('hex')).sort(), sent.map((g) => g.toString('hex')).sort());
});

rootTest('OPEN_REJECT reasons: refused, unreachable, timeout, forbidden, invalid', async (t) => {
  const s = await connect();
  t.teardown(() => s.close());
  const cases: [string, number, number, string][] = [
    [TARGET, 7999, 2000, 'refused'],
    ['10.251.0.1', 80, 2000, 'unreachable'],
    ['10.252.0.1', 80, 300, 'timeout'],
    ['127.0.0.1', 8300, 2000, 'forbidden'],
    ['10.249.0.1', 8301, 2000, 'forbidden'], // the gateway pod's own address
    ['not-an-ip', 80, 2000, 'invalid'],
  ];
  for (const [host, port, timeoutMs, reason] of cases) {
    const r = await s.open({ protocol: 'tcp', host, port, timeoutMs });
    t.like(r, { ok: false, reason, byPeer: true }, `${host}:${port}`);
  }
  t.like(await s.open({ protocol: 'udp', host: '127.0.0.1', port: 53 }), { ok: false, reason: 'forbidden' });
});

rootTest('ICMP echo through the gateway gets a real reply', async (t) => {
  const s = await connect();
  t.teardown(() => s.close());
  const r = await s.open({ protocol: 'icmp', host: TARGET, port: 0 });
  if (!r.ok) return t.fail(r.message);
  const ch = r.channel as DatagramChannel;
  const req = Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0, 1, ...Buffer.from('devnet ping')]);
  const [reply] = (await Promise.all([once(ch, 'data'), Promise.resolve(ch.send(req))]))[0] as [Buffer];
  t.is(reply[0], 0); // echo reply
  t.is(reply.readUInt16BE(4), 0x1234);
  t.is(reply.subarray(8).toString(), 'devnet ping');
});

function query(name: string, type = Packet.TYPE.A): Buffer {
  const p = new Packet();
  p.header.id = 4242;
  p.header.rd = 1;
  p.questions.push({ name, type, class: Packet.CLASS.IN } as unknown as (typeof p.questions)[number]);
  return p.toBuffer();
}

rootTest('DNS through the gateway uses the pod resolver, its search list and TCP fallback', async (t) => {
  const s = await connect();
  t.teardown(() => s.close());
  const short = await s.dnsQuery(query('web'), { useSearch: true });
  t.is(short.error, 'ok');
  t.is(short.resolvedName, 'web.ns1.svc.cluster.local');
  const parsed = Packet.parse(Buffer.from(short.message));
  t.is(parsed.header.id, 4242);
  t.is((parsed.answers[0] as { address?: string }).address, '10.96.0.20');

  const noSearch = await s.dnsQuery(query('web'));
  t.is(Packet.parse(Buffer.from(noSearch.message)).header.rcode, 3); // "web" alone does not exist

  const big = await s.dnsQuery(query('many.ns1.svc.cluster.local'));
  const bigParsed = Packet.parse(Buffer.from(big.message));
  t.is(bigParsed.answers.length, 60); // only possible over TCP: the UDP answer was truncated
  t.is(bigParsed.header.tc, 0);

  const missing = await s.dnsQuery(query('nothing-here'), { useSearch: true });
  t.is(missing.error, 'ok');
  t.is(Packet.parse(Buffer.from(missing.message)).header.rcode, 3);

  const garbage = await s.dnsQuery(Buffer.from([1, 2, 3]));
  t.is(garbage.error, 'malformed');
});

rootTest('bad token, wrong version and garbage are refused and logged; other sessions keep working', async (t) => {
  const good = await connect();
  t.teardown(() => good.close());
  const bad = await t.throwsAsync(connect('wrong-token'), { instanceOf: HandshakeError });
  t.is(bad?.code, GoAwayCode.UNAUTHENTICATED);
  const old = await t.throwsAsync(
    connectSession(carrier(), { token: TOKEN, clientId: 'x', versions: { min: 9, max: 9 } }),
    { instanceOf: HandshakeError },
  );
  t.is(old?.code, GoAwayCode.VERSION_MISMATCH);
  const raw = carrier();
  raw.on('error', () => {}); // the gateway hangs up on us: that is the point
  const closed = new Promise((r) => raw.once('close', r));
  raw.write('\x00\x00\x00garbage that is not a tunnel frame');
  await closed;
  await new Promise((r) => setTimeout(r, 200));
  t.regex(gatewayLog, /"code":"UNAUTHENTICATED".*tunnel connection refused/);
  t.regex(gatewayLog, /"code":"VERSION_MISMATCH".*tunnel connection refused/);
  t.regex(gatewayLog, /"code":"PROTOCOL_ERROR".*tunnel connection refused/);
  t.true((await good.ping()) > 0);
  const r = await good.open({ protocol: 'udp', host: TARGET, port: 7002 });
  t.true(r.ok);
  const metrics = await ns!.exec('curl', ['-s', 'http://127.0.0.1:8301/metrics']);
  t.regex(metrics, /devnet_gateway_sessions_total\{result="UNAUTHENTICATED"\} [1-9]/);
  t.regex(metrics, /devnet_gateway_channel_opens_total\{protocol="udp",result="ok"\} [1-9]/);
  t.is((await ns!.exec('curl', ['-s', 'http://127.0.0.1:8301/readyz'])).trim(), 'ready');
});

rootTest('a destination that vanishes without a word is found by keepalive: socket gone, channel reset', async (t) => {
  const s = await connect();
  t.teardown(() => s.close());
  const r = await s.open({ protocol: 'tcp', host: TARGET, port: 7000, timeoutMs: 2000 });
  if (!r.ok) return t.fail(r.message);
  const ch = r.channel as StreamChannel;
  const closed = once(ch, 'close');
  const sockets = () => ns!.exec('ss', ['-Htn', 'state', 'established', 'dst', `${TARGET}:7000`]);
  t.regex(await sockets(), /7000/, 'the gateway holds a socket to the destination');
  // The destination's packets stop coming (a pod gone with its node): nothing is answered, not even with RST.
  await far!.exec(NFT, ['add table inet dnt_vanish']);
  t.teardown(() => far?.exec(NFT, ['delete table inet dnt_vanish']).catch(() => undefined));
  await far!.exec(NFT, ['add chain inet dnt_vanish out { type filter hook output priority 0 ; }']);
  await far!.exec(NFT, ['add rule inet dnt_vanish out tcp sport 7000 drop']);
  // Keepalive: 1 s idle, then 10 unanswered probes 1 s apart (libuv's interval and count).
  const outcome = await Promise.race([
    closed.then(([end]) => end as { kind: string }),
    new Promise<undefined>((res) => setTimeout(() => res(undefined), 30_000)),
  ]);
  t.like(outcome, { kind: 'reset' }, 'the laptop is told, so its app gets a RST');
  t.is((await sockets()).trim(), '', 'and the gateway socket is gone');
});

rootTest('SIGTERM: GOAWAY to every session, drain, then the gateway exits 0', async (t) => {
  const s = await connect();
  const goaway = once(s, 'goaway');
  const closed = once(s, 'close');
  const exited = once(gateway!, 'exit');
  gateway!.kill('SIGTERM');
  t.is((await goaway)[0], GoAwayCode.SHUTTING_DOWN);
  await closed;
  const [code] = await exited;
  t.is(code, 0);
  gateway = undefined;
});
