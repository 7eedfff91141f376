// What only a real cluster can show (test/k8s, DEVNET_TEST_CLUSTER=k8s): the
// cluster itself is the pinned release, Ready, running locally built images,
// with exec and logs working through the kubelet; the host reaches the API
// server and nothing else, and pods have no way off the machine; the real
// PodSecurity admission takes devnet's gateway and intercept pods in
// namespaces that enforce `restricted`; and the real RBAC refuses the
// restricted user with texts devnet passes on, naming verb and resource.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { VERSION } from '../src/version.ts';
import { paths } from './k8s/layout.ts';
import { E2E, run } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('kc');
const realCluster = e.cluster === 'k8s';
const k8sTest = realCluster
  ? rootTest
  : (title: string) => test.skip(`${title} [DEVNET_TEST_CLUSTER=sandbox: real cluster only]`, () => undefined);

test.before(async () => {
  if (isRoot && realCluster) await e.start();
});

test.after.always(async () => {
  if (!isRoot || !realCluster) return;
  await e.kubectlRun('delete', 'namespace', 'psa-restricted', '--ignore-not-found', '--wait=false');
  await e.cleanup();
});

/** pinnedRelease is the Kubernetes version test/k8s builds. */
function pinnedRelease(): string {
  const mod = readFileSync(join(import.meta.dirname, 'k8s/kubernetes/go.mod'), 'utf8');
  return (/k8s\.io\/kubernetes (v[\d.]+)/.exec(mod) as RegExpExecArray)[1] as string;
}

k8sTest(
  'the cluster is the pinned release with one Ready node, and every pod runs a locally imported image',
  async (t) => {
    const version = JSON.parse(await e.kubectl('version', '-o', 'json'));
    t.is(version.serverVersion.gitVersion, pinnedRelease());
    const nodes = JSON.parse(await e.kubectl('get', 'nodes', '-o', 'json')).items;
    t.is(nodes.length, 1);
    t.true(
      nodes[0].status.conditions.some(
        (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
      ),
    );
    const pods = JSON.parse(await e.kubectl('get', 'pods', '-A', '-o', 'json')).items as {
      metadata: { namespace: string; name: string };
      status: { phase: string; containerStatuses?: { image: string }[] };
    }[];
    for (const ns of ['kube-system', 'demo', 'other'])
      t.true(
        pods.some((p) => p.metadata.namespace === ns),
        `pods in ${ns}`,
      );
    const build = JSON.parse(readFileSync(join(paths().state, 'build.json'), 'utf8')) as { bin: string };
    const sock = join(paths().containerdState, 'containerd.sock');
    const local = execFileSync(join(build.bin, 'ctr'), ['--address', sock, '-n', 'k8s.io', 'images', 'ls', '-q'], {
      encoding: 'utf8',
    }).split('\n');
    for (const p of pods) {
      t.is(p.status.phase, 'Running', `${p.metadata.namespace}/${p.metadata.name}`);
      for (const c of p.status.containerStatuses ?? []) t.true(local.includes(c.image), `${c.image} was imported here`);
    }
  },
);

k8sTest('kubectl exec and kubectl logs reach a demo pod through the kubelet', async (t) => {
  const pod = await e.kubectl(
    'get',
    'pods',
    '-n',
    'demo',
    '-l',
    'app=hello',
    '-o',
    'jsonpath={.items[0].metadata.name}',
  );
  const dns = await e.kubectl('get', 'svc', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}');
  const resolv = await e.inPod('demo', pod, ['cat', '/etc/resolv.conf']);
  t.is(resolv.code, 0, resolv.stderr);
  t.regex(resolv.stdout, new RegExp(`nameserver ${dns.replaceAll('.', '\\.')}`));
  t.regex(
    (await e.inPod('demo', pod, ['curl', '-s', '--max-time', '5', 'http://hello.other'])).stdout,
    /^hello from other\//,
  );
  const logs = await e.kubectlRun('logs', '-n', 'demo', pod);
  t.is(logs.code, 0, logs.stderr);
  t.regex(logs.stdout, /listening on :8080/);
});

k8sTest('the host reaches the API server and nothing else; pods have no way off the machine', async (t) => {
  const dns = await e.kubectl('get', 'svc', '-n', 'kube-system', 'kube-dns', '-o', 'jsonpath={.spec.clusterIP}');
  const podIP = await e.kubectl(
    'get',
    'pods',
    '-n',
    'demo',
    '-l',
    'app=hello',
    '-o',
    'jsonpath={.items[0].status.podIP}',
  );
  const server = /server:\s*https:\/\/([\d.]+):(\d+)/.exec(readFileSync(paths().kubeconfig, 'utf8')) as RegExpExecArray;
  const curl = (url: string) =>
    run('curl', ['-sk', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', url], process.env);
  // Unreachable at once (exit 7), not a timeout (28): the host's last-resort routes and the node's firewall.
  t.is((await curl(`http://${podIP}:8080/`)).code, 7, 'a pod from the host');
  t.is((await curl(`http://${dns}:53/`)).code, 7, 'a Service from the host');
  t.is((await curl(`https://${server[1]}:10250/healthz`)).code, 7, "the node's kubelet from the host");
  t.is((await curl(`https://${server[1]}:${server[2]}/version`)).stdout, '200', 'the API server answers');
  const pod = await e.kubectl(
    'get',
    'pods',
    '-n',
    'demo',
    '-l',
    'app=hello',
    '-o',
    'jsonpath={.items[0].metadata.name}',
  );
  const out = await e.inPod('demo', pod, ['sh', '-c', 'nc -w 2 192.0.2.1 53 </dev/null; echo rc=$?']);
  t.regex(out.stdout, /rc=1/, 'a pod cannot reach an address off the machine');
  t.notRegex(await run('ip', ['-n', e.nodeNetns(), 'route'], process.env).then((r) => r.stdout), /^default/m);
});

const RESTRICTED_APP = `
apiVersion: v1
kind: Namespace
metadata:
  name: psa-restricted
  labels: {pod-security.kubernetes.io/enforce: restricted, pod-security.kubernetes.io/enforce-version: latest}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: psa-restricted}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: api
        image: ghcr.io/devnet-dev/demo-hello:${VERSION}
        imagePullPolicy: IfNotPresent
        ports: [{name: http, containerPort: 8080}]
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: psa-restricted}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
`;

k8sTest('PodSecurity admits the gateway and an intercept pod where namespaces enforce restricted', async (t) => {
  t.teardown(() => e.devnet('quit').then(() => undefined));
  const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
  t.is(c.code, 0, c.stderr);
  const labels = JSON.parse(await e.kubectl('get', 'namespace', 'devnet', '-o', 'jsonpath={.metadata.labels}'));
  t.is(labels['pod-security.kubernetes.io/enforce'], 'restricted');
  t.is(await e.kubectl('get', 'pods', '-n', 'devnet', '-o', 'jsonpath={.items[*].status.phase}'), 'Running');
  // A privileged pod is refused there: the admission is real, not a label.
  const refused = await e.kubectlRun(
    'run',
    'priv',
    '-n',
    'devnet',
    '--image',
    `ghcr.io/devnet-dev/demo-hello:${VERSION}`,
    '--privileged',
  );
  t.not(refused.code, 0);
  t.regex(refused.stderr, /violates PodSecurity "restricted/);
  writeFileSync(join(e.dir, 'psa.yaml'), RESTRICTED_APP);
  t.is((await e.kubectlRun('apply', '-f', join(e.dir, 'psa.yaml'))).code, 0);
  t.is((await e.kubectlRun('rollout', 'status', '-n', 'psa-restricted', 'deployment/api', '--timeout=90s')).code, 0);
  const i = await e.devnet('intercept', 'api', '-n', 'psa-restricted', '--port', '9000', '--mount=false');
  t.is(i.code, 0, `${i.stdout}${i.stderr}`);
  t.regex(
    await e.kubectl(
      'get',
      'pods',
      '-n',
      'psa-restricted',
      '-l',
      'app.kubernetes.io/name=devnet-intercept',
      '-o',
      'jsonpath={.items[*].status.phase}',
    ),
    /Running/,
  );
  t.is((await e.devnet('leave', 'api')).code, 0);
  t.is((await e.devnet('quit')).code, 0);
});

k8sTest(
  'the restricted user is refused with the API server’s own text, naming the verb and the resource',
  async (t) => {
    const c = await e.devnet('connect', '--context', e.devContext, '-n', 'dev', '--dns-mode', 'none');
    t.not(c.code, 0);
    t.regex(c.stderr, /User "dev" cannot get resource "deployments" in API group "apps" in the namespace "devnet"/);
    t.regex(c.stderr, /--gateway-namespace/);
    t.notRegex(c.stderr, /\n\s+at /, 'no stack trace');
  },
);
