// Pod port-forward through the sandbox API server with client-node's
// PortForward and raw WebSockets, over a real unix-socket shim relaying to
// a loopback TCP server: framing, subprotocol choice, data both ways, the
// kubelet's error-channel messages and close behaviour, and refusals.
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { CoreV1Api, PortForward } from '@kubernetes/client-node';
import test from 'ava';
import WebSocket from 'ws';
import { startTestCluster, startTestShim, type TestCluster, type TestShim } from './sandbox-apiserver-support.ts';

let cluster: TestCluster;
let shim: TestShim;
let echo: Server;
let echoPort: number;
const echoSockets = new Set<Socket>();
let podUid = '';

test.before(async () => {
  cluster = await startTestCluster();
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
  const pod = await core.createNamespacedPod({
    namespace: 'demo',
    body: { metadata: { name: 'gw' }, spec: { nodeName: 'sandbox-node', containers: [{ name: 'gw', image: 'gw:1' }] } },
  });
  podUid = pod.metadata!.uid!;
  await core.createNamespacedPod({
    namespace: 'demo',
    body: {
      metadata: { name: 'stopped' },
      spec: { nodeName: 'sandbox-node', containers: [{ name: 'c', image: 'x:1' }] },
    },
  });
  await core.createNamespacedPod({
    namespace: 'demo',
    body: { metadata: { name: 'unscheduled' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  });
  shim = await startTestShim(cluster.runDir, 'demo', 'gw');
  // The "pod's" loopback server: echoes, and closes after the line "bye".
  echo = createServer((s) => {
    echoSockets.add(s);
    s.on('close', () => echoSockets.delete(s));
    s.on('data', (d) => {
      if (d.toString().includes('bye')) s.end('bye!');
      else s.write(d);
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});

test.after.always(async () => {
  for (const s of echoSockets) s.destroy();
  echo?.close();
  await shim?.close();
  await cluster?.close();
});

function waitClose(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve(1006);
    ws.once('close', (code) => resolve(code));
  });
}

/** Collected accumulates a stream's text so several waits can look at it. */
function collected(stream: PassThrough): {
  text: () => string;
  until: (cond: (s: string) => boolean, ms?: number) => Promise<string>;
} {
  let text = '';
  const waiters = new Set<() => void>();
  stream.on('data', (d: Buffer) => {
    text += d.toString();
    for (const w of waiters) w();
  });
  return {
    text: () => text,
    until: (cond, ms = 5000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!cond(text)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(text);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; got ${text.length} chars: ${JSON.stringify(text.slice(0, 200))}`));
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

async function collectUntil(stream: PassThrough, cond: (s: string) => boolean, ms = 5000): Promise<string> {
  return collected(stream).until(cond, ms);
}

test.serial(
  'client-node PortForward carries data both ways; the pod closing ends the WebSocket with 1000',
  async (t) => {
    const out = new PassThrough();
    const err = new PassThrough();
    const input = new PassThrough();
    const ws = (await new PortForward(cluster.kc()).portForward(
      'demo',
      'gw',
      [echoPort],
      out,
      err,
      input,
    )) as WebSocket;
    t.is(ws.protocol, 'v4.channel.k8s.io');
    const closed = waitClose(ws);
    const text = collected(out);
    input.write('hello ');
    t.is(await text.until((s) => s === 'hello '), 'hello ');
    const big = randomBytes(512 * 1024).toString('hex');
    input.write(big);
    const got = await text.until((s) => s.length >= 6 + big.length, 10_000);
    t.true(got.slice(6) === big, 'a megabyte echoes back intact');
    input.write('bye');
    t.is(await closed, 1000);
    t.true(text.text().endsWith('bye!'));
  },
);

test.serial('the client closing closes the pod connection', async (t) => {
  const before = echoSockets.size;
  const out = new PassThrough();
  const input = new PassThrough();
  const ws = (await new PortForward(cluster.kc()).portForward('demo', 'gw', [echoPort], out, null, input)) as WebSocket;
  input.write('x');
  await collectUntil(out, (s) => s === 'x');
  t.is(echoSockets.size, before + 1);
  input.end();
  await waitClose(ws);
  const deadline = Date.now() + 3000;
  while (echoSockets.size > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.is(echoSockets.size, before);
});

/** rawForward opens the WebSocket by hand to check the exact frames. */
function rawForward(pod: string, ports: string, protocols: string[], token = cluster.server.tokens.admin): WebSocket {
  return new WebSocket(
    `${cluster.server.url.replace('https', 'wss')}/api/v1/namespaces/demo/pods/${pod}/portforward?ports=${ports}`,
    protocols,
    {
      ca: cluster.server.caCertPem,
      headers: { Authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    },
  );
}

function messages(ws: WebSocket): Buffer[] {
  const got: Buffer[] = [];
  ws.on('message', (d: Buffer) => got.push(Buffer.from(d)));
  return got;
}

test.serial('kubelet framing: port prefixes on both channels, first client-offered protocol echoed', async (t) => {
  const ws = rawForward('gw', String(echoPort), ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io']);
  const got = messages(ws);
  await new Promise((r) => ws.once('open', r));
  t.is(ws.protocol, 'v4.channel.k8s.io');
  const lo = echoPort & 0xff;
  const hi = echoPort >> 8;
  ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping')]));
  const deadline = Date.now() + 3000;
  while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(got[0], Buffer.from([0, lo, hi]));
  t.deepEqual(got[1], Buffer.from([1, lo, hi]));
  t.deepEqual(got[2], Buffer.concat([Buffer.from([0]), Buffer.from('ping')]));
  ws.close();
  await waitClose(ws);
});

test.serial('a refused dial is reported on the error channel like the kubelet, then the socket closes', async (t) => {
  const spare = createServer();
  await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
  const deadPort = (spare.address() as { port: number }).port;
  await new Promise((r) => spare.close(r));
  const out = new PassThrough();
  const err = new PassThrough();
  const ws = (await new PortForward(cluster.kc()).portForward(
    'demo',
    'gw',
    [deadPort],
    out,
    err,
    new PassThrough(),
  )) as WebSocket;
  const code = waitClose(ws);
  const msg = await collectUntil(err, (s) => s.includes('refused'));
  t.is(
    msg,
    `error forwarding port ${deadPort} to pod gw, uid ${podUid}: dial tcp4 127.0.0.1:${deadPort}: connect: connection refused`,
  );
  t.is(await code, 1000);
});

test.serial('a pod without a running shim gets an error-channel message', async (t) => {
  const err = new PassThrough();
  const ws = (await new PortForward(cluster.kc()).portForward(
    'demo',
    'stopped',
    [80],
    new PassThrough(),
    err,
    new PassThrough(),
  )) as WebSocket;
  const msg = await collectUntil(err, (s) => s.includes('not running'));
  t.regex(msg, /^error forwarding port 80 to pod stopped, uid [0-9a-f-]{36}: pod is not running/);
  await waitClose(ws);
});

/** plainRequest sends a request (optionally a WebSocket upgrade) and returns the status and body of a non-101 answer. */
function plainRequest(
  path: string,
  opts: { upgrade?: boolean; token?: string; method?: string } = {},
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { Authorization: `Bearer ${opts.token ?? cluster.server.tokens.admin}` };
  if (opts.upgrade) {
    Object.assign(headers, {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': 'v4.channel.k8s.io',
    });
  }
  return new Promise((resolve, reject) => {
    const req = request(
      `${cluster.server.url}${path}`,
      { ca: cluster.server.caCertPem, headers, method: opts.method ?? 'GET' },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

test.serial(
  'refusals: no upgrade is 400, unknown pod 404, unscheduled pod 400, bad ports 400, unknown token 401',
  async (t) => {
    const noUpgrade = await plainRequest(`/api/v1/namespaces/demo/pods/gw/portforward?ports=${echoPort}`);
    t.is(noUpgrade.status, 400);
    t.is(JSON.parse(noUpgrade.body).message, 'Upgrade request required');
    const post = await plainRequest(`/api/v1/namespaces/demo/pods/gw/portforward?ports=${echoPort}`, {
      method: 'POST',
    });
    t.is(post.status, 400);
    const unknown = await plainRequest('/api/v1/namespaces/demo/pods/nope/portforward?ports=80', { upgrade: true });
    t.is(unknown.status, 404);
    t.is(JSON.parse(unknown.body).message, 'pods "nope" not found');
    const unscheduled = await plainRequest('/api/v1/namespaces/demo/pods/unscheduled/portforward?ports=80', {
      upgrade: true,
    });
    t.is(unscheduled.status, 400);
    t.is(JSON.parse(unscheduled.body).message, 'pod unscheduled does not have a host assigned');
    const badPort = await plainRequest('/api/v1/namespaces/demo/pods/gw/portforward?ports=http', { upgrade: true });
    t.is(badPort.status, 400);
    const anon = await plainRequest('/api/v1/namespaces/demo/pods/gw/portforward?ports=80', {
      upgrade: true,
      token: 'nope',
    });
    t.is(anon.status, 401);
    const rejection = await new PortForward(cluster.kc())
      .portForward('demo', 'nope', [80], new PassThrough(), null, new PassThrough())
      .then(
        () => undefined,
        (e: { message?: string }) => e,
      );
    t.regex(rejection?.message ?? '', /Unexpected server response: 404/);
  },
);

test.serial('the dev user may not port-forward outside its namespace, with the exact Forbidden message', async (t) => {
  const res = await plainRequest('/api/v1/namespaces/demo/pods/gw/portforward?ports=80', {
    upgrade: true,
    token: cluster.server.tokens.dev,
  });
  t.is(res.status, 403);
  const st = JSON.parse(res.body);
  t.is(st.reason, 'Forbidden');
  t.is(
    st.message,
    'pods "gw" is forbidden: User "dev" cannot create resource "pods/portforward" in API group "" in the namespace "demo"',
  );
  t.deepEqual(st.details, { name: 'gw', kind: 'pods' });
});
