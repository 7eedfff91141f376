// devnet's kubeconfig loader (src/cluster/kubeconfig.ts) against kubectl
// itself: for the same files, environment and flags, the context, cluster
// and user devnet would use must be what `kubectl config view --minify`
// prints (--flatten where certificates are files, so both sides read them),
// and where a credential is only known once used (an exec plugin, a token
// file) both must send the same Authorization header to a recording server.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { kubeconfigSources, loadKube } from '../src/cluster/kubeconfig.ts';
import { loadOrCreatePki } from '../src/sandbox/apiserver/pki.ts';

const dir = mkdtempSync(join(tmpdir(), 'devnet-kubeconfig-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const f = (rel: string) => join(dir, rel);
const write = (rel: string, text: string) => {
  mkdirSync(join(f(rel), '..'), { recursive: true });
  writeFileSync(f(rel), text);
};

write('empty.yaml', '');
write('sub/ca.crt', 'the CA of a');
write('sub/certs/u.crt', 'the client certificate');
write('sub/certs/u.key', 'the client key');
write(
  'sub/a.yaml',
  `apiVersion: v1
kind: Config
current-context: ctx-a
clusters:
- name: c1
  cluster:
    server: https://a.example:6443
    certificate-authority: ca.crt
    proxy-url: http://proxy.example:3128
- name: c2
  cluster:
    server: https://c2.example
    tls-server-name: api.internal
    certificate-authority-data: Q0FEQVRB
users:
- name: u1
  user:
    client-certificate: certs/u.crt
    client-key: certs/u.key
- name: u2
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/plugin
      args: [get-token, --cluster, a]
      env: [{name: PLUGIN_MODE, value: "1"}]
      interactiveMode: Never
- name: u3
  user:
    auth-provider:
      name: oidc
      config: {client-id: devnet, idp-issuer-url: "https://issuer.example", id-token: abc.def.ghi}
contexts:
- name: ctx-a
  context: {cluster: c1, user: u1, namespace: ns-a}
- name: ctx-exec
  context: {cluster: c2, user: u2}
- name: ctx-oidc
  context: {cluster: c2, user: u3, namespace: team}
`,
);
write(
  'b.yaml',
  `apiVersion: v1
kind: Config
current-context: ctx-b
clusters:
- name: c1
  cluster:
    server: https://b.example:6443
    insecure-skip-tls-verify: true
- name: cb
  cluster: {server: "https://b-only.example:443", insecure-skip-tls-verify: true, proxy-url: "socks5://127.0.0.1:1080"}
users:
- name: u1
  user: {token: tok-b}
- name: ub
  user: {username: admin, password: hunter2}
contexts:
- name: ctx-a
  context: {cluster: c1, user: u1, namespace: ns-b}
- name: ctx-b
  context: {cluster: cb, user: ub}
`,
);
write('home/.kube/config', readFileSync(f('b.yaml'), 'utf8'));

function kubectl(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', args, { env, encoding: 'utf8', timeout: 20_000 }, (e, out, err) =>
      resolve({ code: e ? 1 : 0, out, err }),
    );
  });
}

/** flatten inlines file-held certificates, as `kubectl config view --flatten` does. */
function flatten(view: Record<string, unknown>): unknown {
  const doc = structuredClone(view) as {
    clusters: { cluster: Record<string, unknown> }[];
    users: { user: Record<string, unknown> }[];
  };
  const inline = (o: Record<string, unknown>, file: string, data: string) => {
    if (typeof o[file] !== 'string') return;
    o[data] = readFileSync(o[file] as string).toString('base64');
    delete o[file];
  };
  for (const c of doc.clusters) inline(c.cluster, 'certificate-authority', 'certificate-authority-data');
  for (const u of doc.users) {
    inline(u.user, 'client-certificate', 'client-certificate-data');
    inline(u.user, 'client-key', 'client-key-data');
  }
  return doc;
}

/** withExecDefaults adds the fields kubectl prints for every exec entry. */
function withExecDefaults(view: unknown): unknown {
  const doc = structuredClone(view) as { users: { user: { exec?: Record<string, unknown> } }[] };
  for (const u of doc.users) if (u.user.exec) u.user.exec = { provideClusterInfo: false, ...u.user.exec };
  return doc;
}

interface Case {
  title: string;
  KUBECONFIG?: string;
  args: string[];
  /** where a relative exec command comes from, for comparing kubectl's printed (unresolved) command */
  execBase?: string;
}

const cases: Case[] = [
  {
    title: 'a KUBECONFIG list with an empty and a missing file: first file wins per key and for current-context',
    KUBECONFIG: [f('empty.yaml'), f('missing.yaml'), f('sub/a.yaml'), f('b.yaml')].join(':'),
    args: [],
  },
  {
    title: 'the same list reversed: now the second file’s entries win',
    KUBECONFIG: [f('b.yaml'), f('sub/a.yaml')].join(':'),
    args: ['--context', 'ctx-a'],
  },
  {
    title: '--context picks an entry only a later file defines',
    KUBECONFIG: [f('sub/a.yaml'), f('b.yaml')].join(':'),
    args: ['--context', 'ctx-b'],
  },
  {
    title: 'an exec credential plugin with a relative command, args, env and apiVersion',
    KUBECONFIG: [f('sub/a.yaml'), f('b.yaml')].join(':'),
    args: ['--context', 'ctx-exec'],
    execBase: f('sub'),
  },
  {
    title: 'an auth-provider (oidc) user, tls-server-name and inline CA data',
    KUBECONFIG: [f('sub/a.yaml'), f('b.yaml')].join(':'),
    args: ['--context', 'ctx-oidc'],
  },
  {
    title: '--kubeconfig alone, whatever KUBECONFIG says; -n does not change the context',
    KUBECONFIG: f('sub/a.yaml'),
    args: ['--kubeconfig', f('b.yaml'), '-n', 'elsewhere'],
  },
  {
    title: 'a file listed twice is read once',
    KUBECONFIG: [f('b.yaml'), f('b.yaml'), f('sub/a.yaml')].join(':'),
    args: ['--context', 'ctx-a'],
  },
  { title: 'no KUBECONFIG: $HOME/.kube/config', args: [] },
];

for (const c of cases) {
  test(`as kubectl: ${c.title}`, async (t) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: f('home') };
    if (c.KUBECONFIG) env.KUBECONFIG = c.KUBECONFIG;
    const k = await kubectl(['config', 'view', '--minify', '--flatten', '-o', 'json', ...c.args], env);
    t.is(k.code, 0, k.err);
    const expected = JSON.parse(k.out);
    for (const u of expected.users ?? []) {
      const cmd = u.user.exec?.command;
      if (cmd && c.execBase && !isAbsolute(cmd)) u.user.exec.command = join(c.execBase, cmd);
    }
    const flag = (name: string) => {
      const i = c.args.indexOf(name);
      return i >= 0 ? c.args[i + 1] : undefined;
    };
    const kubeconfig = flag('--kubeconfig');
    const context = flag('--context');
    const namespace = flag('-n');
    const loaded = loadKube(
      kubeconfigSources(kubeconfig ? { kubeconfig } : {}, env, f('home')),
      { ...(context ? { context } : {}), ...(namespace ? { namespace } : {}) },
      KubeConfig,
    );
    t.deepEqual(withExecDefaults(flatten(loaded.view)), expected);
    // What the clients get is the same entry.
    const cluster = loaded.kc.getCurrentCluster();
    t.is(cluster?.server, expected.clusters[0].cluster.server.replace(/\/$/, ''));
    t.is(cluster?.skipTLSVerify ?? false, expected.clusters[0].cluster['insecure-skip-tls-verify'] ?? false);
    t.is(cluster?.proxyUrl, expected.clusters[0].cluster['proxy-url']);
    t.is(cluster?.tlsServerName, expected.clusters[0].cluster['tls-server-name']);
    t.is(loaded.namespace, namespace ?? expected.contexts[0].context.namespace ?? 'default');
  });
}

test('as kubectl: an unknown --context and a missing --kubeconfig are errors for both', async (t) => {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: f('home'), KUBECONFIG: f('b.yaml') };
  for (const args of [
    ['--context', 'nope'],
    ['--kubeconfig', f('missing.yaml')],
  ]) {
    const k = await kubectl(['config', 'view', '--minify', '-o', 'json', ...args], env);
    t.not(k.code, 0, `kubectl ${args.join(' ')}`);
    const context = args[0] === '--context' ? args[1] : undefined;
    const kubeconfig = args[0] === '--kubeconfig' ? args[1] : undefined;
    const err = t.throws(() =>
      loadKube(
        kubeconfigSources(kubeconfig ? { kubeconfig } : {}, env, f('home')),
        context ? { context } : {},
        KubeConfig,
      ),
    );
    t.regex(err?.message ?? '', context ? /no context named "nope"/ : /missing\.yaml .*does not exist/);
  }
});

/** recorder is an HTTPS API server that records each request's headers (kubectl sends credentials only over TLS). */
async function recorder(): Promise<{ url: string; caCert: string; seen: IncomingHttpHeaders[]; close(): void }> {
  const seen: IncomingHttpHeaders[] = [];
  mkdirSync(f('pki'));
  const pki = loadOrCreatePki(f('pki'));
  const server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    caCert: pki.caCertPem,
    seen,
    close: () => server.close(),
  };
}

test('as kubectl: an exec plugin (relative command, env, KUBERNETES_EXEC_INFO) and a relative tokenFile send the same credentials', async (t) => {
  const api = await recorder();
  t.teardown(() => api.close());
  write(
    'creds/bin/plugin',
    `#!/bin/sh
# prints a token made of what it was given, so both clients must give the same
info=$(printf '%s' "$KUBERNETES_EXEC_INFO" | tr -d ' \\n')
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s-%s-%s"}}' "$PLUGIN_MODE" "$1" "$(printf '%s' "$info" | md5sum | cut -c1-8)"
`,
  );
  chmodSync(f('creds/bin/plugin'), 0o755);
  write('creds/token', 'token-from-file\n');
  write('creds/ca.crt', api.caCert);
  write(
    'creds/config',
    `apiVersion: v1
kind: Config
current-context: exec
clusters:
- name: local
  cluster: {server: "${api.url}", certificate-authority: ca.crt}
users:
- name: plugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/plugin, args: [tok], env: [{name: PLUGIN_MODE, value: m1}], interactiveMode: Never}
- name: file
  user: {tokenFile: token}
contexts:
- name: exec
  context: {cluster: local, user: plugin}
- name: file
  context: {cluster: local, user: file}
`,
  );
  for (const context of ['exec', 'file']) {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: f('home'), KUBECONFIG: f('creds/config') };
    const k = await kubectl(['--context', context, 'get', '--raw', '/api'], env);
    t.is(k.code, 0, k.err);
    const kubectlAuth = api.seen.at(-1)?.authorization;
    const loaded = loadKube(kubeconfigSources({}, env, f('home')), { context }, KubeConfig);
    await loaded.kc
      .makeApiClient(CoreV1Api)
      .getAPIResources()
      .catch(() => undefined);
    const devnetAuth = api.seen.at(-1)?.authorization;
    t.truthy(kubectlAuth, context);
    t.is(devnetAuth, kubectlAuth, context);
  }
});

test('as kubectl: no credentials go to a plain-http server', async (t) => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createHttpServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'APIResourceList', groupVersion: 'v1', resources: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => server.close());
  write(
    'plain/config',
    `apiVersion: v1
kind: Config
current-context: plain
clusters: [{name: plain, cluster: {server: "http://127.0.0.1:${(server.address() as AddressInfo).port}"}}]
users: [{name: me, user: {token: secret-over-http}}]
contexts: [{name: plain, context: {cluster: plain, user: me}}]
`,
  );
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: f('home'), KUBECONFIG: f('plain/config') };
  const k = await kubectl(['get', '--raw', '/api/v1'], env);
  t.is(k.code, 0, k.err);
  t.true(
    seen.every((h) => h.authorization === undefined),
    'kubectl',
  );
  const before = seen.length;
  const loaded = loadKube(kubeconfigSources({}, env, f('home')), {}, KubeConfig);
  await loaded.kc
    .makeApiClient(CoreV1Api)
    .getAPIResources()
    .catch(() => undefined);
  t.true(seen.length > before, 'devnet asked');
  t.true(
    seen.every((h) => h.authorization === undefined),
    'devnet',
  );
});
