// The sandbox API server against the real client-node: CRUD, patches,
// Status errors, validation, Service IPs, watches and informers.
import {
  AppsV1Api,
  CoreV1Api,
  makeInformer,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1Service,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
import test from 'ava';
import { NAMESPACE_DELAY_MS, startTestCluster, statusOf, type TestCluster } from './sandbox-apiserver-support.ts';

let cluster: TestCluster;
test.before(async () => {
  cluster = await startTestCluster();
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
});
test.after.always(async () => {
  await cluster?.close();
});

/** fetchStatus GETs a path as the admin and returns the HTTP status. */
async function fetchStatus(path: string): Promise<number> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      `${cluster.server.url}${path}`,
      { ca: cluster.server.caCertPem, headers: { Authorization: `Bearer ${cluster.server.tokens.admin}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function svc(name: string, spec: V1Service['spec'] = {}): V1Service {
  return {
    metadata: { name, labels: { app: name } },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80 }], ...spec },
  };
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

test('version is served with and without the trailing slash', async (t) => {
  const v = await cluster.kc().makeApiClient(VersionApi).getCode();
  t.is(v.major, '1');
  const res = await fetch(`${cluster.server.url}/version`, { headers: {} }).catch(() => undefined);
  t.is(res, undefined, 'plain fetch must fail TLS verification against the sandbox CA');
});

test('create, get, list, patch and delete a Service with real defaults', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  const created = await core.createNamespacedService({ namespace: 'demo', body: svc('api') });
  t.truthy(created.metadata?.uid);
  t.regex(created.metadata?.resourceVersion ?? '', /^\d+$/);
  t.regex(created.metadata?.creationTimestamp?.toISOString() ?? '', /^\d{4}-/);
  t.is(created.spec?.type, 'ClusterIP');
  t.is(created.spec?.ports?.[0]?.protocol, 'TCP');
  t.is(created.spec?.ports?.[0]?.targetPort, 80);
  const ip = created.spec?.clusterIP ?? '';
  t.regex(ip, /^10\.(9[6-9]|10[0-9]|11[01])\./);
  t.deepEqual(created.spec?.clusterIPs, [ip]);

  const got = await core.readNamespacedService({ name: 'api', namespace: 'demo' });
  t.is(got.metadata?.resourceVersion, created.metadata?.resourceVersion);
  const list = await core.listNamespacedService({ namespace: 'demo', labelSelector: 'app=api' });
  t.deepEqual(
    list.items.map((s) => s.metadata?.name),
    ['api'],
  );
  t.true(Number(list.metadata?.resourceVersion) >= Number(created.metadata?.resourceVersion));

  const p1 = await core.patchNamespacedService(
    { name: 'api', namespace: 'demo', body: { metadata: { labels: { tier: 'web' } } } },
    merge,
  );
  t.deepEqual(p1.metadata?.labels, { app: 'api', tier: 'web' });
  t.true(Number(p1.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));
  const p2 = await core.patchNamespacedService({
    name: 'api',
    namespace: 'demo',
    body: [{ op: 'replace', path: '/spec/selector', value: { app: 'other' } }],
  });
  t.deepEqual(p2.spec?.selector, { app: 'other' });
  t.is(p2.spec?.clusterIP, ip, 'the ClusterIP survives patches');
  const p3 = await core.patchNamespacedService(
    { name: 'api', namespace: 'demo', body: { spec: { ports: [{ port: 443, name: 'https' }] } } },
    strategic,
  );
  t.deepEqual(
    p3.spec?.ports?.map((p) => p.port),
    [80, 443],
    'strategic merge merges ports by port',
  );

  await core.deleteNamespacedService({ name: 'api', namespace: 'demo' });
  const st = await statusOf(core.readNamespacedService({ name: 'api', namespace: 'demo' }));
  t.is(st.code, 404);
  t.is(st.reason, 'NotFound');
  t.is(st.message, 'services "api" not found');
});

test('stale resourceVersion on update is a 409 Conflict; duplicates are AlreadyExists', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  const a = await core.createNamespacedConfigMap({
    namespace: 'demo',
    body: { metadata: { name: 'cfg' }, data: { a: '1' } },
  });
  await core.replaceNamespacedConfigMap({ name: 'cfg', namespace: 'demo', body: { ...a, data: { a: '2' } } });
  const st = await statusOf(
    core.replaceNamespacedConfigMap({ name: 'cfg', namespace: 'demo', body: { ...a, data: { a: '3' } } }),
  );
  t.is(st.code, 409);
  t.is(st.reason, 'Conflict');
  t.is(
    st.message,
    'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again',
  );
  const dup = await statusOf(
    core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'cfg' } } }),
  );
  t.is(dup.code, 409);
  t.is(dup.reason, 'AlreadyExists');
  t.is(dup.message, 'configmaps "cfg" already exists');
  const apps = cluster.kc().makeApiClient(AppsV1Api);
  const nf = await statusOf(apps.readNamespacedDeployment({ name: 'nope', namespace: 'demo' }));
  t.is(nf.message, 'deployments.apps "nope" not found');
  t.deepEqual(nf.details, { name: 'nope', group: 'apps', kind: 'deployments' });
});

test('invalid objects get 422 Invalid with causes', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  const st = await statusOf(
    core.createNamespacedConfigMap({ namespace: 'demo', body: { metadata: { name: 'Bad_Name' } } }),
  );
  t.is(st.code, 422);
  t.is(st.reason, 'Invalid');
  t.true(
    st.message.startsWith(
      'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain',
    ),
  );
  t.is(st.details?.causes?.[0]?.field, 'metadata.name');
  t.is(st.details?.causes?.[0]?.reason, 'FieldValueInvalid');
  const pod = await statusOf(
    core.createNamespacedPod({ namespace: 'demo', body: { metadata: { name: 'p' }, spec: { containers: [] } } }),
  );
  t.is(pod.message, 'Pod "p" is invalid: spec.containers: Required value');
  const noName = await statusOf(core.createNamespacedSecret({ namespace: 'demo', body: { metadata: {} } }));
  t.is(noName.message, 'Secret "" is invalid: metadata.name: Required value: name or generateName is required');
});

test('Service ClusterIPs: out of range and duplicates are 422, headless and ExternalName have none', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  const out = await statusOf(
    core.createNamespacedService({ namespace: 'demo', body: svc('probe', { clusterIP: '1.1.1.1' }) }),
  );
  t.is(out.code, 422);
  t.true(out.message.endsWith('The range of valid IPs is 10.96.0.0/12'), out.message);
  const dup = await statusOf(
    core.createNamespacedService({ namespace: 'demo', body: svc('dup', { clusterIP: '10.96.0.1' }) }),
  );
  t.is(dup.code, 422);
  t.regex(dup.message, /provided IP is already allocated/);
  const fixed = await core.createNamespacedService({
    namespace: 'demo',
    body: svc('dns', { clusterIP: '10.96.0.10' }),
  });
  t.is(fixed.spec?.clusterIP, '10.96.0.10');
  const headless = await core.createNamespacedService({ namespace: 'demo', body: svc('db', { clusterIP: 'None' }) });
  t.is(headless.spec?.clusterIP, 'None');
  t.deepEqual(headless.spec?.clusterIPs, ['None']);
  const ext = await core.createNamespacedService({
    namespace: 'demo',
    body: { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com' } },
  });
  t.is(ext.spec?.clusterIP, undefined);
  const kube = await core.readNamespacedService({ name: 'kubernetes', namespace: 'default' });
  t.is(kube.spec?.clusterIP, '10.96.0.1');
  const cidrs = await cluster.kc().makeApiClient(NetworkingV1Api).listServiceCIDR();
  t.deepEqual(
    cidrs.items.map((c) => [c.metadata?.name, c.spec?.cidrs]),
    [['kubernetes', ['10.96.0.0/12']]],
  );
});

test('deployments: generation follows spec, status subresource is separate, deleting cascades to owned objects', async (t) => {
  const apps = cluster.kc().makeApiClient(AppsV1Api);
  const core = cluster.kc().makeApiClient(CoreV1Api);
  const d = await apps.createNamespacedDeployment({
    namespace: 'demo',
    body: {
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'demo:1' }] } },
      },
    },
  });
  t.is(d.metadata?.generation, 1);
  t.is(d.spec?.replicas, 1);
  t.is(d.spec?.strategy?.type, 'RollingUpdate');
  const scaled = await apps.patchNamespacedDeployment(
    { name: 'web', namespace: 'demo', body: { spec: { replicas: 3 } } },
    merge,
  );
  t.is(scaled.metadata?.generation, 2);
  const st = await apps.replaceNamespacedDeploymentStatus({
    name: 'web',
    namespace: 'demo',
    body: { ...scaled, status: { replicas: 3, readyReplicas: 3, observedGeneration: 2 } },
  });
  t.is(st.metadata?.generation, 2);
  t.is(st.status?.readyReplicas, 3);
  const ignored = await apps.patchNamespacedDeployment(
    { name: 'web', namespace: 'demo', body: { status: { readyReplicas: 0 } } },
    merge,
  );
  t.is(ignored.status?.readyReplicas, 3, 'the main resource ignores status');

  const owner = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: d.metadata!.uid!, controller: true };
  const rs = await apps.createNamespacedReplicaSet({
    namespace: 'demo',
    body: {
      metadata: { name: 'web-abc', ownerReferences: [owner] },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'demo:1' }] } },
      },
    },
  });
  const rsOwner = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: 'web-abc',
    uid: rs.metadata!.uid!,
    controller: true,
  };
  const pod = await core.createNamespacedPod({
    namespace: 'demo',
    body: {
      metadata: { generateName: 'web-abc-', ownerReferences: [rsOwner], labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'demo:1' }] },
    },
  });
  t.regex(pod.metadata?.name ?? '', /^web-abc-[a-z0-9]{5}$/);
  t.is(pod.status?.phase, 'Pending');
  await apps.deleteNamespacedDeployment({ name: 'web', namespace: 'demo' });
  t.is((await apps.listNamespacedReplicaSet({ namespace: 'demo' })).items.length, 0);
  t.is((await core.listNamespacedPod({ namespace: 'demo', labelSelector: 'app=web' })).items.length, 0);
});

test('field selectors: pods by spec.nodeName and status.phase; unknown fields are 400', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  const mk = (name: string, nodeName?: string): V1Pod => ({
    metadata: { name },
    spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', image: 'x:1' }] },
  });
  await core.createNamespacedPod({ namespace: 'demo', body: mk('fs-a', 'node-1') });
  await core.createNamespacedPod({ namespace: 'demo', body: mk('fs-b') });
  const onNode = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-1' });
  t.deepEqual(
    onNode.items.map((p) => p.metadata?.name),
    ['fs-a'],
  );
  const unscheduled = await core.listNamespacedPod({
    namespace: 'demo',
    fieldSelector: 'spec.nodeName=,status.phase=Pending',
  });
  t.true(unscheduled.items.some((p) => p.metadata?.name === 'fs-b'));
  t.false(unscheduled.items.some((p) => p.metadata?.name === 'fs-a'));
  const byName = await core.listNamespacedPod({ namespace: 'demo', fieldSelector: 'metadata.name=fs-b' });
  t.is(byName.items.length, 1);
  const bad = await statusOf(core.listNamespacedPod({ namespace: 'demo', fieldSelector: 'spec.bogus=1' }));
  t.is(bad.code, 400);
  t.is(bad.reason, 'BadRequest');
  const badLabel = await statusOf(core.listNamespacedPod({ namespace: 'demo', labelSelector: 'a in (b' }));
  t.is(badLabel.code, 400);
});

test('lists page with limit and continue', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'paging' } } });
  for (let i = 0; i < 5; i++)
    await core.createNamespacedConfigMap({ namespace: 'paging', body: { metadata: { name: `c${i}` } } });
  const first = await core.listNamespacedConfigMap({ namespace: 'paging', limit: 2 });
  t.deepEqual(
    first.items.map((c) => c.metadata?.name),
    ['c0', 'c1'],
  );
  t.is(first.metadata?.remainingItemCount, 3);
  const rest = await core.listNamespacedConfigMap({
    namespace: 'paging',
    limit: 10,
    _continue: first.metadata?._continue,
  });
  t.deepEqual(
    rest.items.map((c) => c.metadata?.name),
    ['c2', 'c3', 'c4'],
  );
  t.is(rest.metadata?._continue, undefined);
});

interface Ev {
  type: string;
  name: string | undefined;
  rv: string | undefined;
  labels?: Record<string, string>;
}

function collect(kc: ReturnType<TestCluster['kc']>, path: string, query: Record<string, string | number | boolean>) {
  const events: Ev[] = [];
  const raw: { type: string; object: Record<string, unknown> }[] = [];
  let done: unknown = 'open';
  const ctrl = new Watch(kc).watch(
    path,
    query,
    (type, obj) => {
      raw.push({ type, object: obj });
      events.push({
        type,
        name: obj?.metadata?.name,
        rv: obj?.metadata?.resourceVersion,
        labels: obj?.metadata?.labels,
      });
    },
    (err) => {
      done = err ?? null;
    },
  );
  return { events, raw, ctrl, done: () => done };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('watch from "0" sends synthetic ADDED, then changes; DELETED carries the last state', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'w1' } } });
  await core.createNamespacedConfigMap({ namespace: 'w1', body: { metadata: { name: 'pre' }, data: { v: '0' } } });
  const w = collect(cluster.kc(), '/api/v1/namespaces/w1/configmaps', { resourceVersion: '0' });
  await until(() => w.events.length >= 1, 'initial ADDED');
  await core.patchNamespacedConfigMap({ name: 'pre', namespace: 'w1', body: { data: { v: '1' } } }, merge);
  await core.deleteNamespacedConfigMap({ name: 'pre', namespace: 'w1' });
  await until(() => w.events.length >= 3, 'MODIFIED and DELETED');
  (await w.ctrl).abort();
  t.deepEqual(
    w.events.map((e) => [e.type, e.name]),
    [
      ['ADDED', 'pre'],
      ['MODIFIED', 'pre'],
      ['DELETED', 'pre'],
    ],
  );
  t.is((w.raw[2]!.object as { data: { v: string } }).data.v, '1');
  t.true(Number(w.events[2]!.rv) > Number(w.events[1]!.rv), 'DELETED has the deletion revision');
});

test('watch from RV=N sends only later changes; objects entering and leaving a selector become ADDED/DELETED', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'w2' } } });
  const a = await core.createNamespacedConfigMap({
    namespace: 'w2',
    body: { metadata: { name: 'a', labels: { sel: 'no' } } },
  });
  const w = collect(cluster.kc(), '/api/v1/namespaces/w2/configmaps', {
    resourceVersion: a.metadata!.resourceVersion!,
    labelSelector: 'sel=yes',
  });
  await new Promise((r) => setTimeout(r, 50));
  await core.patchNamespacedConfigMap(
    { name: 'a', namespace: 'w2', body: { metadata: { labels: { sel: 'yes' } } } },
    merge,
  );
  await core.patchNamespacedConfigMap({ name: 'a', namespace: 'w2', body: { data: { x: '1' } } }, merge);
  await core.patchNamespacedConfigMap(
    { name: 'a', namespace: 'w2', body: { metadata: { labels: { sel: 'no' } } } },
    merge,
  );
  await until(() => w.events.length >= 3, 'three events');
  (await w.ctrl).abort();
  t.deepEqual(
    w.events.map((e) => e.type),
    ['ADDED', 'MODIFIED', 'DELETED'],
  );
  t.deepEqual(w.events[2]!.labels, { sel: 'yes' }, 'DELETED for leaving the selector carries the last matching state');
});

test('watch bookmarks only when asked, and timeoutSeconds ends the stream cleanly', async (t) => {
  const w = collect(cluster.kc(), '/api/v1/namespaces/default/services', {
    resourceVersion: '0',
    timeoutSeconds: 1,
    allowWatchBookmarks: true,
  });
  await until(() => w.done() !== 'open', 'the watch to end', 4000);
  t.is(w.done(), null, 'clean end, no error');
  t.deepEqual(
    w.events.map((e) => e.type),
    ['ADDED', 'BOOKMARK'],
  );
  const plain = collect(cluster.kc(), '/api/v1/namespaces/default/services', {
    resourceVersion: '0',
    timeoutSeconds: 1,
  });
  await until(() => plain.done() !== 'open', 'the watch to end', 4000);
  t.deepEqual(
    plain.events.map((e) => e.type),
    ['ADDED'],
  );
});

test('informer lists, watches and sees adds, updates and deletes', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'inf' } } });
  const informer = makeInformer(cluster.kc(), '/api/v1/namespaces/inf/pods', () =>
    core.listNamespacedPod({ namespace: 'inf' }),
  );
  const seen: string[] = [];
  informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
  informer.on('update', (p) => seen.push(`update ${p.metadata?.name} ${p.metadata?.labels?.v}`));
  informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
  await informer.start();
  const body: V1Pod = { metadata: { name: 'p1' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } };
  await core.createNamespacedPod({ namespace: 'inf', body });
  await core.patchNamespacedPod({ name: 'p1', namespace: 'inf', body: { metadata: { labels: { v: '2' } } } }, merge);
  await core.deleteNamespacedPod({ name: 'p1', namespace: 'inf' });
  await until(() => seen.length >= 3, 'informer events');
  await informer.stop();
  t.deepEqual(seen, ['add p1', 'update p1 2', 'delete p1']);
  t.deepEqual(informer.list(), []);
});

test('deleting a namespace marks it Terminating, refuses new content, then deletes everything in it', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'gone' } } });
  await core.createNamespacedConfigMap({ namespace: 'gone', body: { metadata: { name: 'c' } } });
  const ns = await core.deleteNamespace({ name: 'gone' });
  t.is((ns as { status?: { phase?: string } }).status?.phase, 'Terminating');
  const refused = await statusOf(
    core.createNamespacedConfigMap({ namespace: 'gone', body: { metadata: { name: 'd' } } }),
  );
  t.is(refused.code, 403);
  t.is(
    refused.message,
    'configmaps "d" is forbidden: unable to create new content in namespace gone because it is being terminated',
  );
  let gone = false;
  const deadline = Date.now() + NAMESPACE_DELAY_MS + 10_000;
  while (!gone && Date.now() < deadline) {
    gone = (await core.listNamespace()).items.every((n) => n.metadata?.name !== 'gone');
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  t.true(gone);
  t.is((await core.listNamespacedConfigMap({ namespace: 'gone' })).items.length, 0);
  const protectedNs = await statusOf(core.deleteNamespace({ name: 'default' }));
  t.is(protectedNs.code, 403);
});

test('pods/binding assigns a node once; subresources refuse verbs they do not have', async (t) => {
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespacedPod({
    namespace: 'demo',
    body: { metadata: { name: 'to-bind' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  });
  const binding = { metadata: { name: 'to-bind' }, target: { apiVersion: 'v1', kind: 'Node', name: 'sandbox-node' } };
  await core.createNamespacedPodBinding({ name: 'to-bind', namespace: 'demo', body: binding });
  t.is((await core.readNamespacedPod({ name: 'to-bind', namespace: 'demo' })).spec?.nodeName, 'sandbox-node');
  const again = await statusOf(core.createNamespacedPodBinding({ name: 'to-bind', namespace: 'demo', body: binding }));
  t.is(again.code, 409);
  await core.createNamespacedPod({
    namespace: 'demo',
    body: { metadata: { name: 'to-bind-2' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  });
  await core.createNamespacedBinding({ namespace: 'demo', body: { ...binding, metadata: { name: 'to-bind-2' } } });
  t.is((await core.readNamespacedPod({ name: 'to-bind-2', namespace: 'demo' })).spec?.nodeName, 'sandbox-node');
  const sa = await statusOf(core.readNamespacedPodStatus({ name: 'nope', namespace: 'demo' }));
  t.is(sa.code, 404);
  const bindingGet = await fetchStatus(`/api/v1/namespaces/demo/pods/to-bind/binding`);
  t.is(bindingGet, 405);
});

test('the scale subresource reads and writes spec.replicas; negative counts are 422 on Scale', async (t) => {
  const apps = cluster.kc().makeApiClient(AppsV1Api);
  await apps.createNamespacedStatefulSet({
    namespace: 'demo',
    body: {
      metadata: { name: 'db' },
      spec: {
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'db:1' }] } },
      },
    },
  });
  const s = await apps.readNamespacedStatefulSetScale({ name: 'db', namespace: 'demo' });
  t.is(s.spec?.replicas, 1);
  t.is(s.status?.selector, 'app=db');
  const up = await apps.patchNamespacedStatefulSetScale(
    { name: 'db', namespace: 'demo', body: { spec: { replicas: 3 } } },
    merge,
  );
  t.is(up.spec?.replicas, 3);
  t.is((await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'demo' })).spec?.replicas, 3);
  const bad = await statusOf(
    apps.replaceNamespacedStatefulSetScale({
      name: 'db',
      namespace: 'demo',
      body: { metadata: { name: 'db' }, spec: { replicas: -1 } },
    }),
  );
  t.is(bad.code, 422);
  t.is(bad.message, 'Scale "db" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
});
