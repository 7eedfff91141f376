// Intercepts for real work (issue 16), end to end through the real CLI on a
// "laptop" namespace: a command run with the pod's environment and volumes
// (DEVNET_ROOT), ConfigMap updates, several ports, --mirror, the health of
// the local side and fallbacks, claims read through the intercept pod.
// Requests come from a pod in the cluster; the suite uses only the E2E
// harness's cluster-neutral methods.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { HELLO_GREETING } from '../src/sandbox/demo.ts';
import { E2E } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('icw');
let client = ''; // a demo pod that sends the requests
let originalSelector = '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** leaving makes a test leave its intercept even when it fails half way, so the next test starts clean. */
const leaving = (t: { teardown(fn: () => Promise<unknown>): void }, name: string) =>
  t.teardown(() => e.devnet('leave', name));

const curl = async (...args: string[]) =>
  (await e.inPod('demo', client, ['curl', '-s', '--max-time', '5', ...args])).stdout;
const selector = (svc = 'hello') => e.kubectl('get', 'svc', svc, '-n', 'demo', '-o', 'jsonpath={.spec.selector}');

// trio: one pod with three containers on 8080, 8081, 8082 behind three Service ports.
// solo: a ReadWriteOncePod claim in use by its pod. db-primary: a ClusterIP Service for db-0.
const APPS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: trio, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: trio}}
  template:
    metadata: {labels: {app: trio}}
    spec:
      containers:
      - {name: a, image: HELLO_IMAGE, env: [{name: PORT, value: "8080"}, {name: POD_NAME, value: trio-a}], ports: [{containerPort: 8080}]}
      - {name: b, image: HELLO_IMAGE, env: [{name: PORT, value: "8081"}, {name: POD_NAME, value: trio-b}], ports: [{containerPort: 8081}]}
      - {name: c, image: HELLO_IMAGE, env: [{name: PORT, value: "8082"}, {name: POD_NAME, value: trio-c}], ports: [{containerPort: 8082}]}
---
apiVersion: v1
kind: Service
metadata: {name: trio, namespace: demo}
spec:
  selector: {app: trio}
  ports:
  - {name: one, port: 80, targetPort: 8080}
  - {name: two, port: 81, targetPort: 8081}
  - {name: three, port: 82, targetPort: 8082}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: solo, namespace: demo}
spec:
  accessModes: [ReadWriteOncePod]
  resources: {requests: {storage: 16Mi}}
  volumeName: PV_NAME
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: solo, namespace: demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: solo}}
  template:
    metadata: {labels: {app: solo}}
    spec:
      containers:
      - name: solo
        image: HELLO_IMAGE
        ports: [{containerPort: 8080}]
        volumeMounts: [{name: data, mountPath: /var/lib/solo}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: solo}}]
---
apiVersion: v1
kind: Service
metadata: {name: solo, namespace: demo}
spec:
  selector: {app: solo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db-primary, namespace: demo}
spec:
  selector: {app: db, statefulset.kubernetes.io/pod-name: db-0}
  ports: [{name: postgres, port: 5432, targetPort: 5432}]
`;

async function waitRunning(label: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const phases = await e.kubectl('get', 'pods', '-n', 'demo', '-l', label, '-o', 'jsonpath={.items[*].status.phase}');
    if (phases === 'Running') return;
    await sleep(300);
  }
}

test.before(async () => {
  if (!isRoot) return;
  await e.start();
  const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
  if (c.code !== 0) throw new Error(`connect failed: ${c.stdout}${c.stderr}`);
  client = await e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app=hello', '-o', 'jsonpath={.items[0].metadata.name}');
  originalSelector = await selector();
  // The demo-hello image as this cluster names it (the real cluster tags its locally built images).
  const image = await e.kubectl(
    'get',
    'deploy',
    'hello',
    '-n',
    'demo',
    '-o',
    'jsonpath={.spec.template.spec.containers[0].image}',
  );
  writeFileSync(
    join(e.dir, 'apps.yaml'),
    APPS.replaceAll('HELLO_IMAGE', image).replace('PV_NAME', soloVolume()) + pv(),
  );
  await e.kubectl('apply', '-f', join(e.dir, 'apps.yaml'));
});

test.after.always(async () => {
  if (!isRoot) return;
  // The real cluster is shared: take this suite's objects away again.
  await e.kubectlRun('delete', '-f', join(e.dir, 'apps.yaml'), '--ignore-not-found', '--wait=false');
  await e.cleanup();
});

// solo's claim is bound to a volume of its own (pre-bound, so no provisioner is needed on either cluster).
const soloVolume = () => `devnet-test-solo-${process.pid}`;
const pv = () => `---
apiVersion: v1
kind: PersistentVolume
metadata: {name: ${soloVolume()}}
spec:
  capacity: {storage: 16Mi}
  accessModes: [ReadWriteOncePod]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local-path
  hostPath: {path: ${e.volumePath(soloVolume())}, type: DirectoryOrCreate}
  claimRef: {namespace: demo, name: solo}
`;

rootTest('-- CMD runs with the pod’s environment and DEVNET_ROOT, exits with its status, then leaves', async (t) => {
  const r = await e.devnet(
    'intercept',
    'hello',
    '-n',
    'demo',
    '--port',
    '9000',
    '--',
    'sh',
    '-c',
    'echo $POD_NAMESPACE; cat $DEVNET_ROOT/etc/hello/greeting; echo; exit 7',
  );
  t.is(r.code, 7, r.stderr);
  t.is(r.stdout, `demo\n${HELLO_GREETING}\n`);
  t.regex(r.stderr, /\/etc\/hello \(configMap hello-config\)/);
  t.is(await selector(), originalSelector, 'the Service has its own selector again');
  const root = /volumes are under (\S+) \(DEVNET_ROOT\)/.exec(r.stderr)?.[1] ?? '';
  t.false(existsSync(root), 'the temporary DEVNET_ROOT is removed');
});

rootTest('a ConfigMap edit shows under the mount within 10 s; leave removes the files', async (t) => {
  const dir = mkdtempSync(join(e.dir, 'root-'));
  const r = await e.devnet('intercept', 'hello', '--port', '9000', `--mount=${dir}`);
  t.is(r.code, 0, r.stderr);
  leaving(t, 'hello');
  const file = join(dir, 'etc/hello/greeting');
  t.is(readFileSync(file, 'utf8'), HELLO_GREETING);
  await e.kubectl('patch', 'configmap', 'hello-config', '-n', 'demo', '-p', '{"data":{"greeting":"edited"}}');
  const started = Date.now();
  let seen = '';
  while (Date.now() - started < 10_000) {
    seen = readFileSync(file, 'utf8');
    if (seen === 'edited') break;
    await sleep(100);
  }
  t.log(`the edit showed after ${Date.now() - started} ms`);
  t.is(seen, 'edited');
  t.is((await e.devnet('leave', 'hello')).code, 0);
  t.deepEqual(readdirSync(dir), [], 'devnet removed what it wrote, and only that');
  await e.kubectl(
    'patch',
    'configmap',
    'hello-config',
    '-n',
    'demo',
    '-p',
    JSON.stringify({ data: { greeting: HELLO_GREETING } }),
  );
});

rootTest('two ports of one Service reach two local servers; the third still reaches the pods', async (t) => {
  await waitRunning('app=trio');
  e.laptopServer(9101, 'one');
  e.laptopServer(9102, 'two');
  await sleep(300);
  const r = await e.devnet('intercept', 'trio', '--port', '9101:80', '--port', '9102:two', '--mount=false');
  t.is(r.code, 0, r.stderr);
  leaving(t, 'trio');
  t.is(await curl('http://trio.demo:80/a'), 'laptop one GET /a x-dev=\n');
  t.is(await curl('http://trio.demo:81/b'), 'laptop two GET /b x-dev=\n');
  t.is(await curl('http://trio.demo:82/'), 'hello from trio-c\n');
  const list = await e.devnet('list');
  t.regex(list.stdout, /demo\/trio\s+trio\s+\S+ \(you\)\s+global\s+80→9101,81→9102\s+ok/);
  t.is((await e.devnet('leave', 'trio')).code, 0);
  t.is(await curl('http://trio.demo:80/'), 'hello from trio-a\n');
});

rootTest('--mirror: without a local server every request gets the pods’ answer; with one it sees each', async (t) => {
  const r = await e.devnet('intercept', 'hello', '--port', '9103', '--mirror', '--mount=false');
  t.is(r.code, 0, r.stderr);
  leaving(t, 'hello');
  t.regex(r.stderr, /warning: nothing listens on 127\.0\.0\.1:9103/);
  for (let i = 0; i < 10; i++) t.regex(await curl(`http://hello.demo/?m=${i}`), /^hello from hello-/);
  const down = await e.devnet('list');
  t.regex(down.stdout, /mirror\s+80→9103\s+no local listener \(127\.0\.0\.1:9103: ECONNREFUSED\)/);
  t.regex(down.stdout, /0 copied, 10 dropped/);
  const log = join(e.dir, 'mirror.log');
  e.laptopServer(9103, 'mirror', log);
  await sleep(500);
  for (let i = 0; i < 5; i++) t.regex(await curl(`http://hello.demo/?c=${i}`), /^hello from hello-/);
  let lines: string[] = [];
  for (let i = 0; i < 50 && lines.length < 5; i++) {
    await sleep(100);
    lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  }
  t.deepEqual(
    lines,
    [0, 1, 2, 3, 4].map((i) => `laptop mirror GET /?c=${i} x-dev=`),
  );
  t.regex((await e.devnet('list')).stdout, /5 copied, 10 dropped/);
  t.is((await e.devnet('leave', 'hello')).code, 0);
});

rootTest('health: no local listener is reported; a personal intercept falls back to the pods', async (t) => {
  const g = await e.devnet('intercept', 'trio', '--port', '9104:80', '--mount=false');
  t.is(g.code, 0, g.stderr);
  leaving(t, 'trio');
  t.regex(g.stderr, /warning: nothing listens on 127\.0\.0\.1:9104 yet \(ECONNREFUSED\)/);
  t.regex((await e.devnet('list')).stdout, /global\s+80→9104\s+no local listener \(127\.0\.0\.1:9104: ECONNREFUSED\)/);
  t.regex(
    (await e.devnet('status')).stdout,
    /trio: demo\/trio 80→127\.0\.0\.1:9104 global, unhealthy: no local listener/,
  );
  t.is((await e.devnet('leave', 'trio')).code, 0);
  const p = await e.devnet('intercept', 'hello', '--port', '9105', '--header', 'x-dev=zed', '--mount=false');
  t.is(p.code, 0, p.stderr);
  leaving(t, 'hello');
  for (let i = 0; i < 3; i++) t.regex(await curl('-H', 'x-dev: zed', 'http://hello.demo/'), /^hello from hello-/);
  // The counts come from the intercept pod, which `list` asks with a short deadline: on a loaded
  // machine one answer may miss it (list then shows no counts), so ask again, a bounded number of times.
  let listed = '';
  for (let i = 0; i < 20 && !/sent to the pods/.test(listed); i++) {
    if (i > 0) await sleep(500);
    listed = (await e.devnet('list')).stdout;
  }
  t.regex(listed, /3 sent to the pods while the laptop was down/);
  t.is((await e.devnet('leave', 'hello')).code, 0);
});

rootTest('signals reach the command; devnet exits with its status and leaves', async (t) => {
  const p = e.devnetProcess(
    'intercept',
    'hello',
    '--port',
    '9000',
    '--mount=false',
    '--',
    'sh',
    '-c',
    'trap "echo got-term; exit 3" TERM; echo ready; while true; do sleep 0.1; done',
  );
  let out = '';
  p.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  for (let i = 0; i < 300 && !out.includes('ready'); i++) await sleep(100);
  t.true(out.includes('ready'));
  p.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  t.is(code, 3);
  t.regex(out, /got-term/);
  t.is(await selector(), originalSelector);
});

rootTest(
  'claims: readable under DEVNET_ROOT where the access mode allows, else reported with the reason',
  async (t) => {
    await waitRunning('app=solo');
    const db = await e.devnet(
      'intercept',
      'db-primary',
      '--port',
      '9106',
      '--',
      'sh',
      '-c',
      'cat $DEVNET_ROOT/var/lib/db/owner',
    );
    t.is(db.code, 0, db.stderr);
    t.is(db.stdout, 'db-0\n');
    const solo = await e.devnet('intercept', 'solo', '--port', '9107', '--', 'true');
    t.is(solo.code, 0, solo.stderr);
    t.regex(
      solo.stderr,
      /\/var\/lib\/solo \(persistentVolumeClaim solo\): not available: PersistentVolumeClaim solo is ReadWriteOncePod: only one pod may mount it, and solo-\S+ does/,
    );
  },
);
