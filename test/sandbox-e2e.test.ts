// End to end through the real CLI: `devnet sandbox up` in temporary state
// and run dirs with a dnt-<pid> name prefix (so it never meets a
// developer's sandbox), then what a newcomer and devnet rely on: pods
// reach services and pods by IP and name, client-node lists, watches and
// port-forwards, the real kubectl works for both users, the host cannot
// reach the cluster ranges, and `down` leaves the host as it was.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CoreV1Api, KubeConfig, PortForward, Watch } from '@kubernetes/client-node';
import test from 'ava';
import { renderGatewayYaml } from '../src/cluster/gateway-manifests.ts';
import { type HostState, hostChanges, hostRouteTo, hostState, safetyRoutesPresent } from './support/host-state.ts';
import { isRoot, rootTest } from './support/root.ts';
import { run as runProgram } from './support/run.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'devnet-e2e-'));
let env: NodeJS.ProcessEnv = {};
let before: HostState | undefined;
let upOutput = '';

const run = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}) =>
  runProgram(cmd, args, opts.env ?? env, opts.timeout);

const devnet = (...args: string[]) => run(process.execPath, [join(root, 'bin/devnet.mjs'), ...args]);
const kubectl = (...args: string[]) => run('kubectl', ['--context', 'devnet-sandbox', ...args]);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test.before(async () => {
  if (!isRoot) return;
  env = {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(dir, 'state'),
    DEVNET_SANDBOX_RUN: join(dir, 'run'),
    DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-e2e`,
    DEVNET_SANDBOX_PORT: String(await freePort()),
    KUBECONFIG: join(dir, 'kubeconfig'),
  };
  before = await hostState();
  const up = await devnet('sandbox', 'up');
  upOutput = up.stdout + up.stderr;
  if (up.code !== 0) throw new Error(`sandbox up failed: ${upOutput}`);
});

test.after.always(async () => {
  if (isRoot && env.DEVNET_SANDBOX_RUN) await devnet('sandbox', 'down');
  rmSync(dir, { recursive: true, force: true });
});

async function helloPod(ns = 'demo'): Promise<string> {
  const r = await kubectl('get', 'pods', '-n', ns, '-l', 'app=hello', '-o', 'jsonpath={.items[0].metadata.name}');
  return r.stdout.trim();
}

const inPod = async (pod: string, ...cmd: string[]) =>
  (await devnet('sandbox', 'exec', '-n', 'demo', pod, '--', ...cmd)).stdout;

rootTest('up prints what it made; a second up is harmless', async (t) => {
  t.regex(upOutput, /devnet sandbox is up/);
  t.regex(upOutput, /kubeconfig/);
  const again = await devnet('sandbox', 'up');
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /already up/);
  const kc = (await devnet('sandbox', 'kubeconfig')).stdout.trim();
  t.regex(readFileSync(kc, 'utf8'), /devnet-sandbox-dev/);
  const merged = readFileSync(env.KUBECONFIG as string, 'utf8');
  t.regex(merged, /current-context: devnet-sandbox\n/);
  // A pod that got its IP a moment ago may not have its runner yet (kubelet: "N pod runners for M pods"):
  // health settles within a few seconds, so read it until it does (bounded).
  let status = JSON.parse((await devnet('sandbox', 'status', '-o', 'json')).stdout);
  for (let i = 0; i < 20 && !status.components.every((c: { healthy: boolean }) => c.healthy); i++) {
    await new Promise((r) => setTimeout(r, 500));
    status = JSON.parse((await devnet('sandbox', 'status', '-o', 'json')).stdout);
  }
  t.true(status.running);
  t.true(
    status.components.every((c: { healthy: boolean; pid: number }) => c.healthy && c.pid > 0),
    JSON.stringify(status.components),
  );
  t.is(status.nodes[0].name, 'sandbox-node');
});

rootTest('from inside a pod, services and pods answer by IP and by name', async (t) => {
  const pod = await helloPod();
  t.regex(await inPod(pod, 'curl', '-s', '--max-time', '3', 'http://hello.demo'), /^hello from hello-\S+\n$/);
  const db1 = (await kubectl('get', 'pod', '-n', 'demo', 'db-1', '-o', 'jsonpath={.status.podIP}')).stdout.trim();
  // One exec for the rest: each step prints one line, so a failure shows which.
  const script = [
    'curl -s --max-time 3 http://hello.other.svc.cluster.local',
    'curl -s --max-time 3 http://ext/headers',
    `nc -d -w 2 ${db1} 5432`,
    'nc -d -w 2 db-0.db 5432',
    'echo ping | nc -u -w 1 echo 7',
    'echo pong | nc -N -w 2 echo.demo.svc.cluster.local 7',
    'dig +short SRV _http._tcp.hello.demo.svc.cluster.local',
  ].join('; ');
  const lines = (await inPod(pod, 'sh', '-c', script)).split('\n');
  t.regex(lines[0] ?? '', /^hello from other\/hello-\S+$/);
  t.regex(lines[1] ?? '', /"host":"ext"/);
  t.deepEqual(lines.slice(2, 6), ['db-1', 'db-0', 'ping', 'pong']);
  t.is(lines[6], '0 100 80 hello.demo.svc.cluster.local.');
});

rootTest('pods reach the API server as kubernetes.default.svc with their mounted service account token', async (t) => {
  const pod = await helloPod();
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const out = await inPod(
    pod,
    'sh',
    '-c',
    `cat ${sa}/namespace; echo; curl -s --max-time 3 --cacert ${sa}/ca.crt -H "Authorization: Bearer $(cat ${sa}/token)" https://kubernetes.default.svc/api/v1/namespaces/demo/pods`,
  );
  const [ns, ...body] = out.split('\n');
  t.is(ns, 'demo');
  const status = JSON.parse(body.join('\n'));
  t.like(status, {
    kind: 'Status',
    code: 403,
    message:
      'pods is forbidden: User "system:serviceaccount:demo:default" cannot list resource "pods" in API group "" in the namespace "demo"',
  });
});

rootTest(
  "sandbox exec sees the pod's resolv.conf even after the host replaced its own (connected on the host)",
  async (t) => {
    // A pod without volumes: its runner has exactly the bind `ip netns exec` made (a pod with a volume
    // under /etc, like hello's /etc/hello, carries resolv.conf in an overlay of its own instead).
    const pod = (
      await kubectl('get', 'pods', '-n', 'demo', '-l', 'app=echo', '-o', 'jsonpath={.items[0].metadata.name}')
    ).stdout.trim();
    const ip = (await kubectl('get', 'svc', '-n', 'demo', 'hello', '-o', 'jsonpath={.spec.clusterIP}')).stdout.trim();
    // What `devnet connect` (or NetworkManager) on the host does to the runner's view: renaming a new
    // /etc/resolv.conf over the old one detaches the pod's bind mount in every namespace. Undo that
    // bind inside the runner's mount namespace only, so the host's own file is never touched.
    const pid = readFileSync(join(dir, 'run', 'pods', 'demo', pod, 'runner.pid'), 'utf8').trim();
    // ("not mounted": the host already replaced its resolv.conf since the pod started, the very case.)
    const detach = await run('nsenter', [`--target=${pid}`, '--mount', 'umount', '/etc/resolv.conf']);
    t.true(detach.code === 0 || /not mounted/.test(detach.stderr), detach.stderr);
    const runnerView = await run('nsenter', [`--target=${pid}`, '--mount', 'cat', '/etc/resolv.conf']);
    t.notRegex(runnerView.stdout, /nameserver 10\.96\.0\.10/, 'the runner now sees the host resolver');

    t.regex(
      await inPod(pod, 'cat', '/etc/resolv.conf'),
      /^search demo\.svc\.cluster\.local .*\nnameserver 10\.96\.0\.10\n/m,
    );
    t.regex(
      await inPod(pod, 'getent', 'hosts', 'hello.demo'),
      new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+hello\\.demo`),
    );
    t.regex(
      await inPod(pod, 'cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace'),
      /^demo$/,
      'the pod mounts',
    );
  },
);

rootTest('the host reaches only the API server: cluster ranges are unreachable, never routed out', async (t) => {
  t.true(await safetyRoutesPresent(env.DEVNET_SANDBOX_PREFIX as string));
  // Another test's devnet TUN may briefly claim the ranges (its routes win by design); never the default route.
  for (const ip of ['10.96.0.1', '10.244.0.2']) t.regex(await hostRouteTo(ip), /^(unreachable|devnet)$/);
  if ((await hostRouteTo('10.96.0.1')) === 'unreachable') {
    const r = await run('curl', ['-s', '--max-time', '2', 'http://10.96.0.1'], { env: process.env });
    t.is(r.code, 7, 'curl: could not connect');
  }
});

rootTest('client-node lists, watches and port-forwards to a pod', async (t) => {
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG as string);
  kc.setCurrentContext('devnet-sandbox');
  const core = kc.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace: 'demo' });
  t.true(pods.items.length >= 5);
  const pod = await helloPod();

  const events: string[] = [];
  const req = await new Watch(kc).watch(
    '/api/v1/namespaces/demo/services',
    { resourceVersion: pods.metadata?.resourceVersion },
    (type, obj: { metadata: { name: string } }) => events.push(`${type} ${obj.metadata.name}`),
    () => undefined,
  );
  await core.createNamespacedService({
    namespace: 'demo',
    body: { metadata: { name: 'watched' }, spec: { ports: [{ port: 1 }] } },
  });
  await core.deleteNamespacedService({ namespace: 'demo', name: 'watched' });
  for (let i = 0; i < 50 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  req.abort();
  t.deepEqual(events.slice(0, 2), ['ADDED watched', 'DELETED watched']);

  const pf = new PortForward(kc);
  const server = createServer((sock: Socket) => {
    const err = new PassThrough();
    void pf.portForward('demo', pod, [8080], sock, err, sock).then((ws) => {
      (ws as { on(e: string, f: () => void): void }).on('close', () => sock.end());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const body = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } }).then((r) => r.text());
  server.close();
  t.is(body, `hello from ${pod}\n`);
});

rootTest('kubectl get, describe, apply, delete and watch work; the developer is confined to dev', async (t) => {
  const all = await kubectl('get', 'pods', '-A');
  t.regex(all.stdout, /demo\s+db-0\s+1\/1\s+Running/);
  t.regex(
    (await kubectl('get', 'svc', '-n', 'demo', '-o', 'yaml')).stdout,
    /externalName: hello\.demo\.svc\.cluster\.local/,
  );
  const describe = await kubectl('describe', 'pod', '-n', 'demo', 'db-0');
  t.regex(describe.stdout, /Controlled By:\s+StatefulSet\/db/);
  t.regex(describe.stdout, /Ready\s+True/);

  const watch = spawn('kubectl', ['--context', 'devnet-sandbox', 'get', 'pods', '-n', 'demo', '-w', '--no-headers'], {
    env,
  });
  let watched = '';
  watch.stdout.on('data', (d) => {
    watched += String(d);
  });
  const manifest = join(dir, 'web.yaml');
  writeFileSync(
    manifest,
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ghcr.io/devnet-dev/demo-hello:1.0
        ports: [{containerPort: 8080}]
        env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
  );
  const applied = await kubectl('apply', '-f', manifest);
  t.is(applied.code, 0, applied.stderr);
  t.regex(applied.stdout, /deployment.apps\/web created/);
  const pod = await helloPod();
  let answer = '';
  for (let i = 0; i < 50 && !answer.startsWith('hello from web-'); i++) {
    answer = await inPod(pod, 'curl', '-s', '--max-time', '1', 'http://web');
    if (!answer.startsWith('hello from web-')) await new Promise((r) => setTimeout(r, 100));
  }
  t.regex(answer, /^hello from web-/);
  t.regex(watched, /web-\S+\s+1\/1\s+Running/);
  watch.kill();
  const deleted = await kubectl('delete', '-f', manifest);
  t.is(deleted.code, 0, deleted.stderr);
  t.is((await kubectl('get', 'deploy,svc', '-n', 'demo', 'web', '--ignore-not-found')).stdout.trim(), '');

  const dev = await run('kubectl', ['--context', 'devnet-sandbox-dev', 'get', 'pods', '-n', 'demo']);
  t.regex(
    dev.stderr,
    /Error from server \(Forbidden\): pods is forbidden: User "dev" cannot list resource "pods" in API group "" in the namespace "demo"/,
  );
  const inDev = await run('kubectl', ['--context', 'devnet-sandbox-dev', 'get', 'pods']);
  t.is(inDev.code, 0, inDev.stderr);
});

rootTest(
  "the gateway image runs this checkout's gateway from its real manifests, unprivileged and Ready",
  async (t) => {
    const manifest = join(dir, 'gateway.yaml');
    writeFileSync(manifest, renderGatewayYaml({ token: 'e2e-token' }));
    const applied = await kubectl('apply', '-f', manifest);
    t.is(applied.code, 0, applied.stderr);
    let pod = '';
    for (let i = 0; i < 100 && !pod; i++) {
      const r = await kubectl(
        'get',
        'pods',
        '-n',
        'devnet',
        '-o',
        'jsonpath={.items[?(@.status.containerStatuses[0].ready==true)].metadata.name}',
      );
      pod = r.stdout.trim();
      if (!pod) await new Promise((r) => setTimeout(r, 100));
    }
    t.truthy(pod, 'the gateway pod became Ready (its /readyz probe passed)');
    const runner = readFileSync(
      join(env.DEVNET_SANDBOX_RUN as string, 'pods', 'devnet', pod, 'runner.pid'),
      'utf8',
    ).trim();
    const child = (await run('pgrep', ['-P', runner], { env: process.env })).stdout.trim().split('\n')[0] ?? '';
    t.regex(readFileSync(`/proc/${child}/status`, 'utf8'), /^Uid:\s+65532\s/m, 'runs as the manifest runAsUser');
    const sysctl = await devnet(
      'sandbox',
      'exec',
      '-n',
      'devnet',
      pod,
      '--',
      'sysctl',
      '-n',
      'net.ipv4.ping_group_range',
    );
    t.regex(sysctl.stdout, /^65532\s+65532$/m, 'the pod sysctl is set in its network namespace');
    const ports = await devnet(
      'sandbox',
      'exec',
      '-n',
      'devnet',
      pod,
      '--',
      'sysctl',
      '-n',
      'net.ipv4.ip_local_port_range',
    );
    t.regex(ports.stdout, /^1024\s+65535$/m, 'the wide ephemeral port range is set in the pod (its TIME-WAITs)');
    const log = readFileSync(
      join(env.DEVNET_SANDBOX_RUN as string, 'pods', 'devnet', pod, 'containers', 'gateway.log'),
      'utf8',
    );
    t.regex(log, /tunnel listener ready/, "the container's output is in its log file");
    await kubectl('delete', '-f', manifest);
  },
);

rootTest('an unknown image leaves its pod in ImagePullBackOff with a clear message', async (t) => {
  await kubectl('run', 'nginx', '-n', 'demo', '--image=nginx:1.27', '--restart=Never');
  let reason = '';
  for (let i = 0; i < 50 && reason !== 'ImagePullBackOff'; i++) {
    reason = (
      await kubectl(
        'get',
        'pod',
        '-n',
        'demo',
        'nginx',
        '-o',
        'jsonpath={.status.containerStatuses[0].state.waiting.reason}',
      )
    ).stdout;
    if (reason !== 'ImagePullBackOff') await new Promise((r) => setTimeout(r, 100));
  }
  t.is(reason, 'ImagePullBackOff');
  const msg = (
    await kubectl(
      'get',
      'pod',
      '-n',
      'demo',
      'nginx',
      '-o',
      'jsonpath={.status.containerStatuses[0].state.waiting.message}',
    )
  ).stdout;
  t.regex(msg, /nginx:1\.27.*known images/);
  await kubectl('delete', 'pod', '-n', 'demo', 'nginx');
});

// Registered last: ava runs serial tests in order, and this one takes the sandbox down.
rootTest(
  'after a supervisor crash, down leaves netns, links, routes and nftables as they were before up',
  async (t) => {
    const status = JSON.parse((await devnet('sandbox', 'status', '-o', 'json')).stdout);
    const pid = status.components[0].pid as number;
    process.kill(pid, 'SIGKILL');
    const down = await devnet('sandbox', 'down');
    t.is(down.code, 0, down.stderr);
    t.deepEqual(hostChanges(before as HostState, await hostState(), env.DEVNET_SANDBOX_PREFIX as string), []);
    t.notRegex(readFileSync(env.KUBECONFIG as string, 'utf8'), /devnet-sandbox/);
    const runners = await run('pgrep', ['-f', 'src/sandbox/runner.ts'], { env: process.env });
    const ours = runners.stdout
      .split('\n')
      .filter(Boolean)
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'utf8').includes(`DEVNET_SANDBOX_PREFIX=dnt-${process.pid}-e2e`);
        } catch {
          return false;
        }
      });
    t.deepEqual(ours, [], 'no pod runner of this sandbox survives');
  },
);
