// devnet's promises against other cluster tenants and compromised pods
// (docs/security.md), end to end on a cluster through the harness's
// cluster-neutral methods. The owner (the admin context) connects with the
// gateway in namespace `dev`, where the restricted developer — another
// tenant, with their own credentials — can reach it too, and intercepts a
// Service in `demo`, where that developer has no rights.
import { join } from 'node:path';
import test from 'ava';
import { encodeMessage } from '../src/tunnel/control.ts';
import { encodeControl, FrameType } from '../src/tunnel/frame.ts';
import { E2E, ROOT } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('sec');
const GW_NS = 'dev';
const peer = join(ROOT, 'test/support/tunnel-peer.ts');
let client = ''; // a pod in demo: the cluster's own clients of the Service

const curl = async (...args: string[]) =>
  (await e.inPod('demo', client, ['curl', '-s', '--max-time', '5', ...args])).stdout;
const gatewayPod = async () =>
  JSON.parse(
    await e.kubectl('get', 'pods', '-n', GW_NS, '-l', 'app.kubernetes.io/name=devnet-gateway', '-o', 'json'),
  ).items.find((p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp) as {
    metadata: { name: string };
    status: { podIP: string };
  };
const interceptPod = async () =>
  (
    await e.kubectl(
      'get',
      'pods',
      '-n',
      'demo',
      '-l',
      'app.kubernetes.io/name=devnet-intercept',
      '-o',
      'jsonpath={.items[0].metadata.name} {.items[0].status.podIP}',
    )
  ).split(' ') as [string, string];

test.before(async () => {
  if (!isRoot) return;
  await e.start();
  const c = await e.devnet(
    'connect',
    '--context',
    e.context,
    '-n',
    'demo',
    '--gateway-namespace',
    GW_NS,
    '--dns-mode',
    'none',
  );
  if (c.code !== 0) throw new Error(`connect failed: ${c.stdout}${c.stderr}`);
  e.laptopServer(9000, 'owner');
  client = await e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app=hello', '-o', 'jsonpath={.items[0].metadata.name}');
  const i = await e.devnet('intercept', 'hello', '--port', '9000', '--name', 'web');
  if (i.code !== 0) throw new Error(`intercept failed: ${i.stdout}${i.stderr}`);
});

test.after.always(async () => {
  if (isRoot) await e.cleanup();
});

rootTest('devnet list names the owner as the cluster knows them', async (t) => {
  const whoami = await e.kubectl('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');
  t.truthy(whoami);
  const list = JSON.parse((await e.devnet('list', '-o', 'json')).stdout) as {
    name: string;
    owner: string;
    mine: boolean;
  }[];
  t.like(
    list.find((l) => l.name === 'web'),
    { owner: whoami, mine: true },
  );
});

rootTest('another tenant cannot take, withdraw or read an intercept, even while its owner reconnects', async (t) => {
  t.regex(await curl('http://hello.demo/'), /^laptop owner GET \//);
  // The other tenant hammers the gateway with registrations of the owner's intercept under their own key…
  const thief = e.onLaptop(
    process.execPath,
    [peer, e.devContext, GW_NS, 'steal', 'demo.hello.web', '9000', '25'],
    60_000,
  );
  await new Promise((r) => setTimeout(r, 3000));
  // …while the owner's tunnel goes down and comes back (the gateway pod is replaced).
  await e.kubectl('delete', 'pod', '-n', GW_NS, (await gatewayPod()).metadata.name, '--wait=false');
  const answers: string[] = [];
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    answers.push(await curl('http://hello.demo/'));
    await new Promise((r) => setTimeout(r, 500));
  }
  const result = JSON.parse((await thief).stdout) as {
    registered: number;
    withdrew: string;
    channels: number;
    error?: string;
  };
  t.falsy(result.error);
  t.true(result.registered > 0, 'the gateway accepted the tenant’s registrations — under their own key only');
  t.is(result.withdrew, 'own only: true');
  t.is(result.channels, 0, 'the tenant never received a connection of the intercept');
  t.false(
    answers.some((a) => a.includes('stolen')),
    answers.join('|'),
  );
  // The owner's reconnected session has its intercept back.
  let back = '';
  for (let i = 0; i < 40 && !/^laptop owner/.test(back); i++) {
    back = await curl('http://hello.demo/');
    if (!/^laptop owner/.test(back)) await new Promise((r) => setTimeout(r, 500));
  }
  t.regex(back, /^laptop owner GET \//);
});

rootTest(
  "the intercept pod's own credentials can read its Service but not change it (externalIPs, type)",
  async (t) => {
    const [pod] = await interceptPod();
    const request = (method: string, body = '') => `
    const fs = require('fs'), https = require('https');
    const d = '/var/run/secrets/kubernetes.io/serviceaccount/';
    const r = https.request({
      host: 'kubernetes.default.svc', port: 443, method: '${method}',
      path: '/api/v1/namespaces/demo/services/hello', ca: fs.readFileSync(d + 'ca.crt'),
      headers: { authorization: 'Bearer ' + fs.readFileSync(d + 'token', 'utf8').trim(),
                 'content-type': 'application/merge-patch+json' },
    }, (res) => { console.log(res.statusCode); res.resume(); });
    r.on('error', (e) => console.log('error ' + e.message));
    r.end(${JSON.stringify(body)});`;
    const read = await e.inPod('demo', pod, ['node', '-e', request('GET')]);
    t.is(read.stdout.trim(), '200', read.stderr);
    for (const patch of [{ spec: { externalIPs: ['203.0.113.9'] } }, { spec: { type: 'LoadBalancer' } }]) {
      const w = await e.inPod('demo', pod, ['node', '-e', request('PATCH', JSON.stringify(patch))]);
      t.is(w.stdout.trim(), '403', `${JSON.stringify(patch)}: ${w.stderr}`);
    }
    t.is(await e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'jsonpath={.spec.externalIPs}'), '');
  },
);

rootTest('a pod in another namespace cannot use the gateway or an intercept pod as a proxy', async (t) => {
  const gw = (await gatewayPod()).status.podIP;
  // The tunnel listener is on the gateway pod's loopback: nothing in the cluster reaches it.
  const tunnel = await e.inPod('demo', client, ['curl', '-s', '--max-time', '3', `telnet://${gw}:8300`]);
  t.not(tunnel.code, 0);
  // The intercept relay (routable) wants a token derived per Service: a guessed one gets GOAWAY, not WELCOME.
  const hello = encodeControl(
    FrameType.HELLO,
    0,
    encodeMessage(FrameType.HELLO, {
      minVersion: 1,
      maxVersion: 99,
      token: 'a-guess',
      clientId: 'demo.hello',
      clientName: 'a pod',
      initialChannelWindow: 65536,
      initialSessionWindow: 65536,
    }),
  );
  const probe = `
    const s = require('net').connect(8302, '${gw}', () => s.write(Buffer.from('${hello.toString('base64')}', 'base64')));
    s.once('data', (d) => { console.log(d[0].toString(16)); s.destroy(); });
    s.on('error', (e) => console.log('error ' + e.message));
    setTimeout(() => { console.log('no answer'); process.exit(0); }, 3000).unref();`;
  const relay = await e.inPod('demo', client, ['node', '-e', probe]);
  t.is(relay.stdout.trim(), FrameType.GOAWAY.toString(16), relay.stderr);
  // An intercept pod forwards only to its Service's owner or original endpoints, never where a client asks.
  const [, ipod] = await interceptPod();
  const target = await e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'jsonpath={.spec.ports[0].targetPort}');
  const viaProxy = await curl('-x', `http://${ipod}:${target}`, 'http://kubernetes.default.svc/version');
  t.notRegex(viaProxy, /gitVersion/);
  const connect = await e.inPod('demo', client, [
    'curl',
    '-s',
    '--max-time',
    '3',
    '-p',
    '-x',
    `http://${ipod}:${target}`,
    'https://kubernetes.default.svc/version',
  ]);
  t.notRegex(connect.stdout, /gitVersion/);
});

rootTest('the gateway dials neither link-local metadata addresses nor its own pod', async (t) => {
  const gw = (await gatewayPod()).status.podIP;
  for (const [host, port] of [
    ['169.254.169.254', '80'],
    ['fd00:ec2::254', '80'],
    [gw, '8301'],
    ['127.0.0.1', '8301'],
  ] as const) {
    const r = await e.onLaptop(process.execPath, [peer, e.context, GW_NS, 'open', host, port], 60_000);
    t.like(JSON.parse(r.stdout), { ok: false, reason: 'forbidden' }, `${host}:${port} ${r.stdout}${r.stderr}`);
  }
  // Through the laptop's own routes too: the gateway pod's metrics are not reachable over the tunnel.
  const metrics = await e.onLaptop('curl', ['-s', '--max-time', '3', `http://${gw}:8301/metrics`]);
  t.notRegex(metrics.stdout, /devnet_gateway/);
});
