// Authentication and RBAC: the admin may do anything, the developer `dev`
// exactly what the bootstrap Role/ClusterRole grant, with the apiserver's
// Forbidden wording; RBAC objects are evaluated live, escalation is
// prevented, and service-account tokens from the TokenRequest API work.
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import test from 'ava';
import { startTestCluster, statusOf, type TestCluster } from './sandbox-apiserver-support.ts';

let cluster: TestCluster;
test.before(async () => {
  cluster = await startTestCluster();
  const core = cluster.kc().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
  await core.createNamespacedPod({
    namespace: 'demo',
    body: { metadata: { name: 'gw' }, spec: { nodeName: 'n', containers: [{ name: 'c', image: 'x:1' }] } },
  });
});
test.after.always(async () => {
  await cluster?.close();
});

const deployment = (name: string) => ({
  metadata: { name },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  },
});

test('an unknown token is 401 Unauthorized', async (t) => {
  const st = await statusOf(cluster.kc('nobody').makeApiClient(CoreV1Api).listNamespace());
  t.is(st.code, 401);
});

test('dev outside its namespace gets the exact Forbidden Status', async (t) => {
  const core = cluster.kc('dev').makeApiClient(CoreV1Api);
  const list = await statusOf(core.listNamespacedPod({ namespace: 'demo' }));
  t.is(list.code, 403);
  t.is(list.reason, 'Forbidden');
  t.is(
    list.message,
    'pods is forbidden: User "dev" cannot list resource "pods" in API group "" in the namespace "demo"',
  );
  t.deepEqual(list.details, { kind: 'pods' });
  const get = await statusOf(core.readNamespacedPod({ name: 'gw', namespace: 'demo' }));
  t.is(
    get.message,
    'pods "gw" is forbidden: User "dev" cannot get resource "pods" in API group "" in the namespace "demo"',
  );
  const apps = cluster.kc('dev').makeApiClient(AppsV1Api);
  const create = await statusOf(apps.createNamespacedDeployment({ namespace: 'demo', body: deployment('x') }));
  t.is(
    create.message,
    'deployments.apps is forbidden: User "dev" cannot create resource "deployments" in API group "apps" in the namespace "demo"',
  );
  t.deepEqual(create.details, { group: 'apps', kind: 'deployments' });
  const all = await statusOf(core.listPodForAllNamespaces());
  t.is(all.message, 'pods is forbidden: User "dev" cannot list resource "pods" in API group "" at the cluster scope');
  const mkns = await statusOf(core.createNamespace({ body: { metadata: { name: 'mine' } } }));
  t.is(
    mkns.message,
    'namespaces is forbidden: User "dev" cannot create resource "namespaces" in API group "" at the cluster scope',
  );
});

test('dev can do a namespaced devnet install inside dev', async (t) => {
  const core = cluster.kc('dev').makeApiClient(CoreV1Api);
  const apps = cluster.kc('dev').makeApiClient(AppsV1Api);
  const rbac = cluster.kc('dev').makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: 'dev', body: { metadata: { name: 'devnet-gateway' } } });
  await core.createNamespacedSecret({
    namespace: 'dev',
    body: { metadata: { name: 'devnet-token' }, stringData: { token: 's3cret' } },
  });
  const secret = await core.readNamespacedSecret({ name: 'devnet-token', namespace: 'dev' });
  t.is(Buffer.from(secret.data?.token ?? '', 'base64').toString(), 's3cret');
  await apps.createNamespacedDeployment({ namespace: 'dev', body: deployment('devnet-gateway') });
  await apps.patchNamespacedDeployment({
    name: 'devnet-gateway',
    namespace: 'dev',
    body: [{ op: 'replace', path: '/spec/replicas', value: 1 }],
  });
  await core.createNamespacedPod({
    namespace: 'dev',
    body: { metadata: { name: 'intercept' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  });
  await cluster
    .kc()
    .makeApiClient(CoreV1Api)
    .createNamespacedService({
      namespace: 'dev',
      body: { metadata: { name: 'api' }, spec: { ports: [{ port: 80 }] } },
    });
  // The gateway's own Service (how intercept pods reach the relay) is created by the developer.
  await core.createNamespacedService({
    namespace: 'dev',
    body: { metadata: { name: 'devnet-gateway' }, spec: { ports: [{ port: 8302 }] } },
  });
  await core.deleteNamespacedService({ name: 'devnet-gateway', namespace: 'dev' });
  await core.patchNamespacedService({
    name: 'api',
    namespace: 'dev',
    body: [{ op: 'add', path: '/spec/selector', value: { app: 'intercept' } }],
  });
  t.is((await core.listNamespacedPod({ namespace: 'dev' })).items.length, 1);
  await cluster.kc('dev').makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: 'dev' });
  await core.deleteNamespacedPod({ name: 'intercept', namespace: 'dev' });
  await rbac.createNamespacedRole({
    namespace: 'dev',
    body: {
      metadata: { name: 'gateway' },
      rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'patch'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'dev',
    body: {
      metadata: { name: 'gateway' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'gateway' },
      subjects: [{ kind: 'ServiceAccount', name: 'devnet-gateway', namespace: 'dev' }],
    },
  });
  // Cluster-scoped reads devnet uses for discovery.
  t.true((await core.listNamespace()).items.some((n) => n.metadata?.name === 'dev'));
  await core.listNode();
  const cidrs = await cluster.kc('dev').makeApiClient(NetworkingV1Api).listServiceCIDR();
  t.is(cidrs.items[0]?.spec?.cidrs?.[0], '10.96.0.0/12');
  t.is((await cluster.kc('dev').makeApiClient(VersionApi).getCode()).major, '1');
  await apps.deleteNamespacedDeployment({ name: 'devnet-gateway', namespace: 'dev' });
});

test('RBAC objects are evaluated live: a new RoleBinding lets dev read another namespace', async (t) => {
  const admin = cluster.kc().makeApiClient(RbacAuthorizationV1Api);
  const core = cluster.kc('dev').makeApiClient(CoreV1Api);
  await admin.createNamespacedRole({
    namespace: 'demo',
    body: {
      metadata: { name: 'pod-reader' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['gw'] }],
    },
  });
  await admin.createNamespacedRoleBinding({
    namespace: 'demo',
    body: {
      metadata: { name: 'dev-reads-gw' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'dev' }],
    },
  });
  t.is((await core.readNamespacedPod({ name: 'gw', namespace: 'demo' })).metadata?.name, 'gw');
  t.is((await statusOf(core.listNamespacedPod({ namespace: 'demo' }))).code, 403, 'resourceNames do not grant list');
  await admin.deleteNamespacedRoleBinding({ name: 'dev-reads-gw', namespace: 'demo' });
  t.is((await statusOf(core.readNamespacedPod({ name: 'gw', namespace: 'demo' }))).code, 403);
});

test('escalation is prevented: dev cannot grant what it does not hold', async (t) => {
  const rbac = cluster.kc('dev').makeApiClient(RbacAuthorizationV1Api);
  const st = await statusOf(
    rbac.createNamespacedRole({
      namespace: 'dev',
      body: { metadata: { name: 'too-much' }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['delete'] }] },
    }),
  );
  t.is(st.code, 403);
  t.is(
    st.message,
    'roles.rbac.authorization.k8s.io "too-much" is forbidden: user "dev" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], Verbs:["delete"]}',
  );
  await cluster
    .kc()
    .makeApiClient(RbacAuthorizationV1Api)
    .createClusterRole({
      body: {
        metadata: { name: 'pod-killer' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['deletecollection'] }],
      },
    });
  const bind = await statusOf(
    rbac.createNamespacedRoleBinding({
      namespace: 'dev',
      body: {
        metadata: { name: 'kill-for-me' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pod-killer' },
        subjects: [{ kind: 'User', name: 'dev' }],
      },
    }),
  );
  t.is(bind.code, 403);
  t.true(
    bind.message.startsWith('rolebindings.rbac.authorization.k8s.io "kill-for-me" is forbidden: user "dev"'),
    bind.message,
  );
  t.true(bind.message.endsWith('{APIGroups:[""], Resources:["pods"], Verbs:["deletecollection"]}'));
  // Granting a subset of what dev holds is fine.
  await rbac.createNamespacedRole({
    namespace: 'dev',
    body: {
      metadata: { name: 'subset' },
      rules: [{ apiGroups: [''], resources: ['pods/portforward'], verbs: ['create'] }],
    },
  });
});

test('SelfSubjectAccessReview answers for the caller', async (t) => {
  const review = (verb: string, namespace: string, resource: string, subresource?: string) =>
    cluster
      .kc('dev')
      .makeApiClient(AuthorizationV1Api)
      .createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { verb, namespace, resource, subresource } } },
      });
  t.true((await review('create', 'dev', 'pods', 'portforward')).status?.allowed);
  t.false((await review('create', 'demo', 'pods', 'portforward')).status?.allowed);
  t.true((await review('list', 'dev', 'services')).status?.allowed);
});

test('service-account tokens from the TokenRequest API authenticate as the service account', async (t) => {
  const admin = cluster.kc().makeApiClient(CoreV1Api);
  await admin.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'robot' } } });
  const tr = await admin.createNamespacedServiceAccountToken({
    name: 'robot',
    namespace: 'demo',
    body: { spec: { audiences: [] } },
  });
  const token = tr.status?.token ?? '';
  t.regex(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const kc = cluster.kc();
  kc.users[0] = { name: 'admin', token };
  const st = await statusOf(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'demo' }));
  t.is(
    st.message,
    'pods is forbidden: User "system:serviceaccount:demo:robot" cannot list resource "pods" in API group "" in the namespace "demo"',
  );
  const tampered = cluster.kc();
  tampered.users[0] = { name: 'admin', token: `${token.slice(0, -2)}xx` };
  t.is((await statusOf(tampered.makeApiClient(CoreV1Api).listNamespace())).code, 401);
});
