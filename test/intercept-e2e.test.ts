// `devnet intercept` end to end on the cluster the e2e harness gives (the real
// Kubernetes by default, or a sandbox of its own), through the real CLI on a
// "laptop" namespace (test/support/e2e.ts). Requests come from inside a
// cluster pod (`kubectl exec`), as the cluster's own clients would send them.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { uninstallGateway } from '../src/cluster/gateway.ts';
import { VERSION } from '../src/version.ts';
import { E2E } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('ic');
let client = ''; // a pod in demo that sends the requests
let originalSelector = '';

const curl = async (...args: string[]) =>
  (await e.inPod('demo', client, ['curl', '-s', '--max-time', '5', ...args])).stdout;
const selector = () => e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'jsonpath={.spec.selector}');
/** whoami is the admin context's user name as the cluster knows it (what devnet records as an intercept's owner). */
const whoami = () => e.kubectl('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');
const interceptPods = () =>
  e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app.kubernetes.io/name=devnet-intercept', '-o', 'name');
/** interceptPodsLeft waits (up to a pod's grace period) until no intercept pod is listed, and returns what is still listed. */
async function interceptPodsLeft(): Promise<string> {
  let left = await interceptPods();
  for (let i = 0; i < 60 && left !== ''; i++) {
    await new Promise((r) => setTimeout(r, 500));
    left = await interceptPods();
  }
  return left;
}

/** diagnose returns what explains a failed intercept: the pod's status and log. */
async function diagnose(): Promise<string> {
  const names = (await interceptPods()).split('\n').filter(Boolean);
  let out = `intercept pods: ${names.join(' ') || 'none'}\n`;
  for (const n of names) {
    const name = n.replace(/^pod\//, '');
    out += `${name}: ${await e.kubectl('get', 'pod', '-n', 'demo', name, '-o', 'jsonpath={.status}')}\n`;
    out += `${(await e.podLog('demo', name)).slice(-2000)}\n`;
  }
  return out;
}

test.before(async () => {
  if (!isRoot) return;
  await e.start();
  const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
  if (c.code !== 0) throw new Error(`connect failed: ${c.stdout}${c.stderr}`);
  e.laptopServer(9000, 'global');
  e.laptopServer(9001, 'alice');
  e.laptopServer(9002, 'bob');
  client = await e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app=hello', '-o', 'jsonpath={.items[0].metadata.name}');
  originalSelector = await selector();
  // The app for the --env-file test starts while the other tests run.
  writeFileSync(join(e.dir, 'web.yaml'), ENV_APP);
  await e.kubectl('apply', '-f', join(e.dir, 'web.yaml'));
  await new Promise((r) => setTimeout(r, 300));
});

test.after.always(async () => {
  if (!isRoot) return;
  await e.kubectlRun('delete', '-f', join(e.dir, 'web.yaml'), '--ignore-not-found', '--wait=false');
  await e.cleanup();
});

rootTest('global intercept: the cluster reaches the laptop; leave restores the selector', async (t) => {
  const started = Date.now();
  const r = await e.devnet('intercept', 'hello', '--port', '9000');
  t.is(r.code, 0, r.stderr);
  t.log(`devnet intercept returned after ${Date.now() - started} ms: ${r.stderr.trim().split('\n').pop()}`);
  t.regex(r.stdout, /curl http:\/\/hello\.demo\//);
  let first = '';
  while (Date.now() - started < 15_000) {
    first = await curl('http://hello.demo');
    if (first.startsWith('laptop')) break;
  }
  t.log(`devnet intercept → first intercepted request: ${Date.now() - started} ms`);
  t.is(first, 'laptop global GET / x-dev=\n');
  t.is(await curl('http://hello.demo/x'), 'laptop global GET /x x-dev=\n');
  const list = await e.devnet('list');
  t.regex(list.stdout, /demo\/hello\s+hello\s+\S+ \(you\)\s+global\s+80→9000\s+ok/);
  const status = await e.devnet('status');
  t.regex(status.stdout, /Intercept\s+hello: demo\/hello 80→127\.0\.0\.1:9000 global, healthy/);
  const l = await e.devnet('leave', 'hello');
  t.is(l.code, 0, l.stderr);
  t.is(await selector(), originalSelector);
  t.regex(await curl('http://hello.demo'), /^hello from hello-/);
  t.is(await interceptPodsLeft(), '');
});

const ENV_APP = `
apiVersion: v1
kind: ConfigMap
metadata: {name: webcfg, namespace: demo}
data: {LOG_LEVEL: debug, FEATURE: "on"}
---
apiVersion: v1
kind: Secret
metadata: {name: websec, namespace: demo}
stringData: {password: "s3cr'et"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
      - name: web
        image: ghcr.io/devnet-dev/demo-hello:${VERSION}
        imagePullPolicy: IfNotPresent
        ports: [{name: http, containerPort: 8080}]
        resources: {limits: {cpu: 500m, memory: 64Mi}}
        envFrom: [{configMapRef: {name: webcfg}}]
        env:
        - {name: GREETING, value: "hi-$(LOG_LEVEL)"}
        - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: websec, key: password}}}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
        - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`;

rootTest('--env-file writes the pod’s environment as the app sees it', async (t) => {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (
      (await e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app=web', '-o', 'jsonpath={.items[*].status.phase}')) ===
      'Running'
    )
      break;
    await new Promise((r) => setTimeout(r, 300));
  }
  const envFile = join(e.dir, 'web.env.json');
  // -E: Node itself reads `--env-file MISSING` anywhere in its argv and exits (nodejs/node#54232).
  const r = await e.devnet('intercept', 'web', '--port', '9000', '-E', envFile, '--env-syntax', 'json');
  t.is(r.code, 0, r.stderr);
  const env = JSON.parse(readFileSync(envFile, 'utf8'));
  const pod = await e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}');
  const webIP = await e.kubectl('get', 'svc', 'web', '-n', 'demo', '-o', 'jsonpath={.spec.clusterIP}');
  const helloIP = await e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'jsonpath={.spec.clusterIP}');
  const kubernetesIP = await e.kubectl('get', 'svc', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP}');
  t.like(env, {
    LOG_LEVEL: 'debug',
    FEATURE: 'on',
    GREETING: 'hi-debug',
    DB_PASSWORD: "s3cr'et",
    POD_NAME: pod,
    TIER: 'front',
    MEM_MI: '64',
    WEB_SERVICE_HOST: webIP,
    WEB_SERVICE_PORT: '80',
    WEB_SERVICE_PORT_HTTP: '80',
    HELLO_SERVICE_HOST: helloIP,
    HELLO_PORT_80_TCP: `tcp://${helloIP}:80`,
    KUBERNETES_SERVICE_HOST: kubernetesIP,
  });
  // Exactly what the app's own process sees (`kubectl exec POD -- env`), less what the
  // runtime adds per container: HOSTNAME, HOME and the image's own PATH.
  const inPod = await e.inPod('demo', pod, ['env']);
  t.is(inPod.code, 0, inPod.stderr);
  const podEnv = Object.fromEntries(
    inPod.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  for (const k of ['HOSTNAME', 'HOME', 'PATH']) delete podEnv[k];
  t.deepEqual(env, podEnv);
  const seen: string[] = [];
  for (let i = 0; i < 10; i++) {
    const c = await e.inPod('demo', client, ['curl', '-sS', '--max-time', '5', 'http://web.demo']);
    seen.push(`${c.code}:${c.stdout.trim()}${c.stderr.trim()}`);
    if (c.stdout.startsWith('laptop global GET /')) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  t.regex(seen.at(-1) ?? '', /^0:laptop global GET \//, seen.join('\n'));
  t.is((await e.devnet('leave', 'web')).code, 0);
});

rootTest('personal intercepts: only requests with the header reach their owner; others reach the pods', async (t) => {
  const a = await e.devnet('intercept', 'hello', '--port', '9001', '--name', 'alice', '--header', 'x-dev=alice');
  t.is(a.code, 0, a.code === 0 ? '' : `${a.stderr}\n${await diagnose()}`);
  t.regex(a.stdout, /curl -H 'x-dev: alice' http:\/\/hello\.demo\//);
  const b = await e.devnet('intercept', 'hello', '--port', '9002', '--name', 'bob', '--header', 'x-dev=bob');
  t.is(b.code, 0, b.stderr);
  t.is(await curl('-H', 'x-dev: alice', 'http://hello.demo/a'), 'laptop alice GET /a x-dev=alice\n');
  t.is(await curl('-H', 'x-dev: bob', 'http://hello.demo/b'), 'laptop bob GET /b x-dev=bob\n');
  t.regex(await curl('http://hello.demo'), /^hello from hello-/);
  t.regex(await curl('-H', 'x-dev: carol', 'http://hello.demo'), /^hello from hello-/);
  // A chunked POST and Expect: 100-continue reach the laptop with their bodies.
  t.is(
    await curl(
      '-H',
      'x-dev: alice',
      '-H',
      'Transfer-Encoding: chunked',
      '--data-binary',
      'abc',
      'http://hello.demo/up',
    ),
    'laptop alice POST /up x-dev=alice body=abc\n',
  );
  t.is(
    await curl('-H', 'x-dev: bob', '-H', 'Expect: 100-continue', '--data-binary', 'xyz', 'http://hello.demo/c'),
    'laptop bob POST /c x-dev=bob body=xyz\n',
  );
  // A global intercept on a Service with personal ones is refused, naming the owner.
  const g = await e.devnet('intercept', 'hello', '--port', '9000', '--name', 'all');
  t.not(g.code, 0);
  // The owner is named as the cluster knows them (a SelfSubjectReview), not as a laptop calls itself.
  const owner = (await whoami()).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  t.regex(g.stderr, new RegExp(`already has a personal intercept \\w+ by ${owner}\\b`));
});

rootTest('one keep-alive connection mixing matching and other requests is routed per request', async (t) => {
  const out = await curl(
    '-w',
    '[%{num_connects}]\n',
    '-H',
    'x-dev: alice',
    'http://hello.demo/1',
    '--next',
    '-s',
    '-w',
    '[%{num_connects}]\n',
    'http://hello.demo/',
    '--next',
    '-s',
    '-w',
    '[%{num_connects}]\n',
    '-H',
    'x-dev: bob',
    'http://hello.demo/3',
  );
  const lines = out.trim().split('\n');
  t.is(lines[0], 'laptop alice GET /1 x-dev=alice');
  t.is(lines[1], '[1]');
  t.regex(lines[2] ?? '', /^hello from hello-/);
  t.is(lines[3], '[0]', 'the second request reused the connection');
  t.is(lines[4], 'laptop bob GET /3 x-dev=bob');
  t.is(lines[5], '[0]');
});

rootTest('a malformed request gets 400 from the intercept pod; other connections carry on', async (t) => {
  const ip = await e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'jsonpath={.spec.clusterIP}');
  const bad = await e.inPod('demo', client, [
    'sh',
    '-c',
    `printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nno colon here\\r\\n\\r\\n' | nc -w 3 ${ip} 80`,
  ]);
  t.regex(bad.stdout, /^HTTP\/1\.1 400 Bad Request/);
  t.is(await curl('-H', 'x-dev: alice', 'http://hello.demo/ok'), 'laptop alice GET /ok x-dev=alice\n');
});

rootTest(
  'kill -9 of every devnet process: within 30 s the pods serve again; the next connect restores the Service',
  async (t) => {
    t.not(await selector(), originalSelector);
    await e.killDevnet();
    const started = Date.now();
    let served = false;
    // The intercept pod cannot change the Service (its Role only reads it): once the leases run out
    // by its own clock it sends every request to the original endpoints.
    while (Date.now() - started < 30_000) {
      if (/^hello from hello-/.test(await curl('-H', 'x-dev: alice', 'http://hello.demo'))) {
        served = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    t.log(`the pods served again ${Date.now() - started} ms after kill -9`);
    if (!served) t.log(await diagnose());
    t.true(served);
    // The owner's next connect on this machine removes what the crashed session left, with the owner's credentials.
    const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
    t.is(c.code, 0, c.stderr);
    t.regex(c.stderr + c.stdout, /removed intercepts a crashed session left: demo\/hello:alice, demo\/hello:bob/);
    t.is(await selector(), originalSelector);
    for (let i = 0; i < 60 && (await interceptPods()) !== ''; i++) await new Promise((r) => setTimeout(r, 250));
    t.is(await interceptPods(), '');
    t.is((await e.devnet('quit')).code, 0);
    const svc = JSON.parse(await e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'json'));
    t.deepEqual(
      Object.keys(svc.metadata.annotations ?? {}).filter((k: string) => k.includes('devnet')),
      [],
    );
    t.is(await e.kubectl('get', 'svc', '-n', 'demo', '-o', 'name', '-l', 'app.kubernetes.io/managed-by=devnet'), '');
  },
);

rootTest('gateway uninstall restores every intercepted Service before removing the gateway', async (t) => {
  const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
  t.is(c.code, 0, c.stderr);
  const r = await e.devnet('intercept', 'hello', '--port', '9001', '--name', 'alice', '--header', 'x-dev=alice');
  t.is(r.code, 0, r.stderr);
  t.not(await selector(), originalSelector);
  const kc = new KubeConfig();
  kc.loadFromFile(e.sandboxEnv.KUBECONFIG as string);
  kc.setCurrentContext(e.context);
  const removed = await uninstallGateway(
    { kc, core: kc.makeApiClient(CoreV1Api), progress: () => undefined },
    'devnet',
  );
  t.is(removed[0], 'intercepts on Service demo/hello');
  t.is(await selector(), originalSelector);
  t.is(await interceptPodsLeft(), '');
  t.is(await e.kubectl('get', 'deploy', '-n', 'devnet', '-o', 'name'), '');
});
