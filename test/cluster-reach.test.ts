// An API server that cannot be reached is named with its URL and the cause,
// with what to check: refused, timeout, TLS and DNS, each from a real socket
// on loopback (DNS from the error shape fetch gives, so the machine's
// resolver is never asked).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { probeApiServer, unreachableError } from '../src/cluster/reach.ts';
import { loadOrCreatePki } from '../src/sandbox/apiserver/pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'devnet-reach-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function kubeFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: false }],
    users: [{ name: 'u', token: 'secret' }],
    contexts: [{ name: 'work', cluster: 'c', user: 'u' }],
    currentContext: 'work',
  });
  return kc;
}

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

async function probeError(server: string, timeoutMs = 3000): Promise<Error> {
  const err = await probeApiServer(kubeFor(server), { server, context: 'work' }, timeoutMs).then(
    () => undefined,
    (e: Error) => e,
  );
  if (!err) throw new Error(`the probe of ${server} succeeded`);
  return err;
}

test('refused: the URL, "connection refused" and what to check', async (t) => {
  const s = createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  const err = await probeError(`https://127.0.0.1:${port}`);
  t.is(err.message, `cannot reach the API server https://127.0.0.1:${port} (context "work"): connection refused`);
  t.regex((err as { hint?: string }).hint ?? '', /is the cluster running.*--context.*kubectl cluster-info/);
});

test('timeout: a server that accepts and never answers is reported once the deadline passes', async (t) => {
  const sockets: Socket[] = [];
  const s = createServer((c) => sockets.push(c));
  const port = await listen(s);
  t.teardown(() => {
    for (const c of sockets) c.destroy();
    s.close();
  });
  const err = await probeError(`https://127.0.0.1:${port}`, 500);
  t.regex(err.message, /https:\/\/127\.0\.0\.1:\d+ \(context "work"\): no answer \(timeout\)/);
  t.regex((err as { hint?: string }).hint ?? '', /within 0.5 s.*VPN/);
});

test('TLS: a certificate the kubeconfig does not trust', async (t) => {
  const pki = loadOrCreatePki(dir);
  const s = createHttps({ cert: pki.certPem, key: pki.keyPem }, (_req, res) => res.end('{}'));
  const port = await listen(s as unknown as Server);
  t.teardown(() => s.close());
  const err = await probeError(`https://127.0.0.1:${port}`);
  t.regex(err.message, /\(context "work"\): the TLS handshake failed$/);
  t.regex((err as { hint?: string }).hint ?? '', /certificate-authority/);
});

test('an HTTP answer, even 401, means the server is reachable', async (t) => {
  mkdirSync(join(dir, 'ok'));
  const pki = loadOrCreatePki(join(dir, 'ok'));
  const s = createHttps({ cert: pki.certPem, key: pki.keyPem }, (_req, res) => {
    res.statusCode = 401;
    res.end('{"kind":"Status","code":401}');
  });
  const port = await listen(s as unknown as Server);
  t.teardown(() => s.close());
  const server = `https://127.0.0.1:${port}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, caData: Buffer.from(pki.caCertPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'secret' }],
    contexts: [{ name: 'work', cluster: 'c', user: 'u' }],
    currentContext: 'work',
  });
  await t.notThrowsAsync(probeApiServer(kc, { server, context: 'work' }));
});

test('DNS: the name that does not resolve, from the error fetch gives', (t) => {
  const cause = Object.assign(new Error('getaddrinfo ENOTFOUND api.corp.example'), { code: 'ENOTFOUND' });
  const err = unreachableError(
    { server: 'https://api.corp.example:6443', context: 'corp' },
    new TypeError('fetch failed', { cause }),
  );
  t.is(
    err?.message,
    'cannot reach the API server https://api.corp.example:6443 (context "corp"): its name does not resolve (DNS)',
  );
  t.regex(err?.hint ?? '', /api\.corp\.example:6443 does not resolve.*VPN/);
  t.is(unreachableError({ server: 'x', context: 'y' }, new Error('Forbidden')), undefined, 'not a network failure');
});
