// The installed kubectl (v1.32) against the sandbox API server: the
// commands devnet users and the sandbox docs rely on, with server-side
// Tables, discovery and OpenAPI v3 (for apply's server-side validation).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import test from 'ava';
import { parse, parseAllDocuments } from 'yaml';
import { writeKubeconfig } from '../src/sandbox/apiserver/index.ts';
import { startTestCluster, type TestCluster } from './sandbox-apiserver-support.ts';

const run = promisify(execFile);
const KUBECTL = '/usr/bin/kubectl';
let cluster: TestCluster;
let kubeconfig: string;

test.before(async () => {
  cluster = await startTestCluster();
  kubeconfig = join(cluster.root, 'kubeconfig');
  writeKubeconfig(kubeconfig, {
    url: cluster.server.url,
    caCertPem: cluster.server.caCertPem,
    tokens: cluster.server.tokens,
  });
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
  const pod = await core.createNamespacedPod({
    namespace: 'demo',
    body: {
      metadata: { name: 'web-1', labels: { app: 'web' } },
      spec: {
        nodeName: 'sandbox-node',
        containers: [{ name: 'web', image: 'demo:1', ports: [{ containerPort: 8080 }] }],
      },
    },
  });
  await core.replaceNamespacedPodStatus({
    name: 'web-1',
    namespace: 'demo',
    body: {
      ...pod,
      status: {
        phase: 'Running',
        podIP: '10.244.0.5',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [
          {
            name: 'web',
            ready: true,
            restartCount: 0,
            image: 'demo:1',
            imageID: '',
            state: { running: { startedAt: new Date() } },
          },
        ],
      },
    },
  });
  await core.createNamespacedService({
    namespace: 'demo',
    body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } },
  });
  await core.createNamespacedPod({
    namespace: 'default',
    body: { metadata: { name: 'pending' }, spec: { containers: [{ name: 'c', image: 'unknown:1' }] } },
  });
});
test.after.always(async () => {
  await cluster?.close();
});

function kubectlArgs(args: string[], context: string): string[] {
  return ['--kubeconfig', kubeconfig, '--context', context, '--cache-dir', join(cluster.root, 'kcache'), ...args];
}

function kubectlEnv(): NodeJS.ProcessEnv {
  return { ...process.env, HOME: cluster.root, KUBECONFIG: '' };
}

/** streaming runs a long-lived kubectl (-w, -f) and waits for patterns in its output. */
function streaming(args: string[]) {
  const child = spawn(KUBECTL, kubectlArgs(args, 'devnet-sandbox'), { env: kubectlEnv() });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  return {
    out: () => out,
    async waitFor(re: RegExp): Promise<void> {
      const end = Date.now() + 10_000;
      while (!re.test(out)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no ${re} in ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    kill: () => child.kill(),
  };
}

function kubectl(args: string[], context = 'devnet-sandbox') {
  return run(KUBECTL, kubectlArgs(args, context), { timeout: 20_000, env: kubectlEnv() });
}

async function kubectlFails(args: string[], context?: string): Promise<string> {
  try {
    await kubectl(args, context);
  } catch (err) {
    return (err as { stderr: string }).stderr;
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded`);
}

function rows(out: string): string[][] {
  return out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));
}

test.before(() => {
  if (!existsSync(KUBECTL)) throw new Error('kubectl is not installed at /usr/bin/kubectl');
});

test('kubectl get pods -A prints the server-side table', async (t) => {
  const { stdout } = await kubectl(['get', 'pods', '-A']);
  const r = rows(stdout);
  t.deepEqual(r[0], ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
  const web = r.find((x) => x[1] === 'web-1');
  t.deepEqual(web?.slice(0, 5), ['demo', 'web-1', '1/1', 'Running', '0']);
  t.regex(web?.[5] ?? '', /^\d+s$/);
  t.deepEqual(r.find((x) => x[1] === 'pending')?.slice(0, 5), ['default', 'pending', '0/1', 'Pending', '0']);
  const wide = rows((await kubectl(['get', 'pods', '-n', 'demo', '-o', 'wide'])).stdout);
  t.deepEqual(wide[0]?.slice(0, 7), ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE']);
  t.deepEqual(wide[1]?.slice(5, 7), ['10.244.0.5', 'sandbox-node']);
});

test('kubectl get svc -n demo -o yaml prints a v1 List of full Services', async (t) => {
  const { stdout } = await kubectl(['get', 'svc', '-n', 'demo', '-o', 'yaml']);
  const doc = parse(stdout);
  t.is(doc.kind, 'List');
  t.is(doc.items.length, 1);
  t.is(doc.items[0].kind, 'Service');
  t.is(doc.items[0].apiVersion, 'v1');
  t.regex(doc.items[0].spec.clusterIP, /^10\./);
  t.is(doc.items[0].spec.ports[0].targetPort, 8080);
  const table = rows((await kubectl(['get', 'svc', '-n', 'demo'])).stdout);
  t.deepEqual(table[0], ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
  t.deepEqual(table[1]?.slice(0, 5), ['web', 'ClusterIP', doc.items[0].spec.clusterIP, '<none>', '80/TCP']);
});

test('kubectl describe pod shows the pod and its (empty) events', async (t) => {
  const { stdout } = await kubectl(['describe', 'pod', 'web-1', '-n', 'demo']);
  t.regex(stdout, /^Name:\s+web-1$/m);
  t.regex(stdout, /^Namespace:\s+demo$/m);
  t.regex(stdout, /^Status:\s+Running$/m);
  t.regex(stdout, /^IP:\s+10\.244\.0\.5$/m);
  t.regex(stdout, /^Events:\s+<none>$/m);
});

const MANIFEST = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: demo
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: demo:1
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: demo
spec:
  selector: {app: api}
  ports:
  - port: 80
    targetPort: 8080
`;

async function applyManifest(text: string, verb: 'apply' | 'delete') {
  const file = join(cluster.root, `manifest-${Date.now()}.yaml`);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, text);
  return kubectl([verb, '-f', file]);
}

test.serial('kubectl apply -f and delete -f of a Deployment and a Service', async (t) => {
  t.is(parseAllDocuments(MANIFEST(1)).length, 2);
  const created = await applyManifest(MANIFEST(1), 'apply');
  t.deepEqual(created.stdout.trim().split('\n'), ['deployment.apps/api created', 'service/api created']);
  const again = await applyManifest(MANIFEST(1), 'apply');
  t.deepEqual(again.stdout.trim().split('\n'), ['deployment.apps/api unchanged', 'service/api unchanged']);
  const changed = await applyManifest(MANIFEST(3), 'apply');
  t.deepEqual(changed.stdout.trim().split('\n'), ['deployment.apps/api configured', 'service/api unchanged']);
  const deploy = rows((await kubectl(['get', 'deploy', '-n', 'demo'])).stdout);
  t.deepEqual(deploy[0], ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);
  t.deepEqual(deploy[1]?.slice(0, 4), ['api', '0/3', '0', '0']);
  const deleted = await applyManifest(MANIFEST(3), 'delete');
  t.deepEqual(deleted.stdout.trim().split('\n'), ['deployment.apps "api" deleted', 'service "api" deleted']);
  const gone = await kubectlFails(['get', 'deploy', 'api', '-n', 'demo']);
  t.is(gone.trim(), 'Error from server (NotFound): deployments.apps "api" not found');
});

test.serial('kubectl get pods -w prints new rows as pods change', async (t) => {
  const watch = streaming(['get', 'pods', '-n', 'demo', '-w']);
  try {
    await watch.waitFor(/web-1\s+1\/1\s+Running/);
    const core = cluster.kc().makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace: 'demo',
      body: { metadata: { name: 'watched' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
    });
    await watch.waitFor(/watched\s+0\/1\s+Pending\s+0/);
    await core.deleteNamespacedPod({ name: 'watched', namespace: 'demo' });
    await watch.waitFor(/watched[^\n]*\n[\s\S]*watched/);
    t.is(rows(watch.out())[0]?.join(' '), 'NAME READY STATUS RESTARTS AGE', 'one header only');
  } finally {
    watch.kill();
  }
});

test('kubectl tables for deployments, statefulsets, namespaces, nodes and endpointslices', async (t) => {
  const header = async (what: string, ns = true) =>
    rows((await kubectl(['get', what, ...(ns ? ['-A'] : [])])).stdout)[0] ?? [];
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNode({
    body: {
      metadata: { name: 'sandbox-node', labels: { 'node-role.kubernetes.io/control-plane': '' } },
      status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.4' } as never },
    },
  });
  const nodes = rows((await kubectl(['get', 'nodes'])).stdout);
  t.deepEqual(nodes[0], ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
  t.deepEqual(
    [nodes[1]?.[0], nodes[1]?.[1], nodes[1]?.[2], nodes[1]?.[4]],
    ['sandbox-node', 'Ready', 'control-plane', 'v1.32.4'],
  );
  const ns = rows((await kubectl(['get', 'ns'])).stdout);
  t.deepEqual(ns[0], ['NAME', 'STATUS', 'AGE']);
  t.true(ns.some((r) => r[0] === 'dev' && r[1] === 'Active'));
  await core.createNamespace({ body: { metadata: { name: 'tables' } } });
  await applyManifest(
    `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: tables}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "db:1"}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: db-abc, namespace: tables, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
ports: [{name: pg, port: 5432}]
endpoints: [{addresses: ["10.244.0.7"]}]
`,
    'apply',
  );
  const sts = rows((await kubectl(['get', 'sts', '-n', 'tables'])).stdout);
  t.deepEqual(sts[0], ['NAME', 'READY', 'AGE']);
  t.deepEqual(sts[1]?.slice(0, 2), ['db', '0/2']);
  const eps = rows((await kubectl(['get', 'endpointslices', '-n', 'tables'])).stdout);
  t.deepEqual(eps[0], ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE']);
  t.deepEqual(eps[1]?.slice(0, 4), ['db-abc', 'IPv4', '5432', '10.244.0.7']);
  t.deepEqual(await header('sts'), ['NAMESPACE', 'NAME', 'READY', 'AGE']);
});

test('the dev context is confined to its namespace with real Forbidden errors', async (t) => {
  const denied = await kubectlFails(['get', 'pods', '-n', 'demo'], 'devnet-sandbox-dev');
  t.is(
    denied.trim(),
    'Error from server (Forbidden): pods is forbidden: User "dev" cannot list resource "pods" in API group "" in the namespace "demo"',
  );
  const { stdout, stderr } = await kubectl(['get', 'pods'], 'devnet-sandbox-dev');
  t.is(stdout, '');
  t.is(stderr.trim(), 'No resources found in dev namespace.');
});

test('kubectl create (protobuf bodies) works for namespaces, configmaps, secrets and service accounts; auth can-i answers', async (t) => {
  t.is((await kubectl(['create', 'namespace', 'made-by-kubectl'])).stdout.trim(), 'namespace/made-by-kubectl created');
  await kubectl(['create', 'configmap', 'cm', '-n', 'made-by-kubectl', '--from-literal=a=b']);
  await kubectl(['create', 'secret', 'generic', 'pw', '-n', 'made-by-kubectl', '--from-literal=pw=hunter2']);
  await kubectl(['create', 'serviceaccount', 'robot', '-n', 'made-by-kubectl']);
  const cm = JSON.parse((await kubectl(['get', 'cm', 'cm', '-n', 'made-by-kubectl', '-o', 'json'])).stdout);
  t.deepEqual(cm.data, { a: 'b' });
  const secret = JSON.parse((await kubectl(['get', 'secret', 'pw', '-n', 'made-by-kubectl', '-o', 'json'])).stdout);
  t.is(Buffer.from(secret.data.pw, 'base64').toString(), 'hunter2');
  t.is(secret.type, 'Opaque');
  t.is(
    (await kubectl(['get', 'sa', 'robot', '-n', 'made-by-kubectl', '-o', 'name'])).stdout.trim(),
    'serviceaccount/robot',
  );
  const can = await kubectl(['auth', 'can-i', 'create', 'pods/portforward'], 'devnet-sandbox-dev');
  t.is(can.stdout.trim(), 'yes');
  const cannot = await kubectl(
    ['auth', 'can-i', 'create', 'pods/portforward', '-n', 'demo'],
    'devnet-sandbox-dev',
  ).catch((err: { stdout: string; code: number }) => err);
  t.is(cannot.stdout.trim(), 'no');
});

test('kubectl scale goes through the scale subresource', async (t) => {
  // The Deployment only: other tests count the Services in demo.
  const deploymentOnly = MANIFEST(1).split('---')[0]!;
  await applyManifest(
    deploymentOnly.replace(/name: api/g, 'name: scaled').replace(/app: api/g, 'app: scaled'),
    'apply',
  );
  t.is(
    (await kubectl(['scale', 'deployment', 'scaled', '-n', 'demo', '--replicas=4'])).stdout.trim(),
    'deployment.apps/scaled scaled',
  );
  const d = JSON.parse((await kubectl(['get', 'deployment', 'scaled', '-n', 'demo', '-o', 'json'])).stdout);
  t.is(d.spec.replicas, 4);
  t.is(d.metadata.generation, 2);
  const stale = await kubectlFails([
    'scale',
    'deployment',
    'scaled',
    '-n',
    'demo',
    '--replicas=1',
    '--resource-version=1',
  ]);
  t.regex(stale, /Expected resource version to be 1/);
  const scale = JSON.parse(
    (await kubectl(['get', '--raw', '/apis/apps/v1/namespaces/demo/deployments/scaled/scale'])).stdout,
  );
  t.deepEqual(
    [scale.kind, scale.apiVersion, scale.spec.replicas, scale.status.selector],
    ['Scale', 'autoscaling/v1', 4, 'app=scaled'],
  );
});

test('kubectl logs reads the pod output the kubelet keeps, with --tail and -f', async (t) => {
  const { mkdirSync, writeFileSync, appendFileSync } = await import('node:fs');
  const waiting = await kubectlFails(['logs', 'web-1', '-n', 'demo']);
  t.is(
    waiting.trim(),
    'Error from server (BadRequest): container "web" in pod "web-1" is waiting to start: ContainerCreating',
  );
  const dir = join(cluster.runDir, 'pods', 'demo', 'web-1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pod.log'), 'one\ntwo\nthree\n');
  t.is((await kubectl(['logs', 'web-1', '-n', 'demo'])).stdout, 'one\ntwo\nthree\n');
  t.is((await kubectl(['logs', 'web-1', '-n', 'demo', '--tail=1'])).stdout, 'three\n');
  t.regex(
    await kubectlFails(['logs', 'web-1', '-n', 'demo', '-c', 'nope']),
    /container nope is not valid for pod web-1/,
  );
  const follow = streaming(['logs', '-f', 'web-1', '-n', 'demo', '--tail=1']);
  try {
    await follow.waitFor(/three/);
    appendFileSync(join(dir, 'pod.log'), 'four\n');
    await follow.waitFor(/four/);
    t.is(follow.out(), 'three\nfour\n');
  } finally {
    follow.kill();
  }
});
