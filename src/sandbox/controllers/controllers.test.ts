import type { V1Deployment, V1Pod, V1Service, V1StatefulSet } from '@kubernetes/client-node';
import test from 'ava';
import { planDeployment } from './deployment.ts';
import { planEndpoints, resolveTargetPort } from './endpoints.ts';
import { selectorMatches } from './names.ts';
import { planStatefulSet } from './statefulset.ts';

const template = {
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }] },
};
const deploy: V1Deployment = {
  metadata: { name: 'web', namespace: 'demo', uid: 'd-1', generation: 1 },
  spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template },
};
const ready = (p: V1Pod, ip: string): V1Pod => ({
  ...p,
  metadata: { ...p.metadata, uid: `u-${p.metadata?.name}` },
  status: { podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
});

test('a new Deployment creates its replicas, owned and bound to the node', (t) => {
  const plan = planDeployment(deploy, []);
  t.is(plan.create.length, 2);
  const pod = plan.create[0] as V1Pod;
  t.regex(pod.metadata?.name ?? '', /^web-[a-z0-9]{10}-[a-z0-9]{5}$/);
  t.is(pod.metadata?.labels?.app, 'web');
  t.truthy(pod.metadata?.labels?.['pod-template-hash']);
  t.is(pod.metadata?.ownerReferences?.[0]?.uid, 'd-1');
  t.is(pod.spec?.nodeName, 'sandbox-node');
  t.deepEqual(plan.delete, []);
});

test('a Deployment scales down not-Ready pods first', (t) => {
  const pods = planDeployment(deploy, []).create;
  const [a, b] = pods as [V1Pod, V1Pod];
  const plan = planDeployment({ ...deploy, spec: { ...deploy.spec, replicas: 1 } as never }, [
    ready(a, '10.244.0.2'),
    b,
  ]);
  t.deepEqual(plan.create, []);
  t.deepEqual(
    plan.delete.map((p) => p.metadata?.name),
    [b.metadata?.name],
  );
});

test('a changed template replaces old pods only once the new ones are Ready', (t) => {
  const old = planDeployment(deploy, []).create.map((p, i) => ready(p, `10.244.0.${i + 2}`));
  const changed = {
    ...deploy,
    spec: { ...deploy.spec, template: { ...template, metadata: { labels: { app: 'web', v: '2' } } } },
  } as V1Deployment;
  const step1 = planDeployment(changed, old);
  t.is(step1.create.length, 2);
  t.deepEqual(step1.delete, []);
  const step2 = planDeployment(changed, [...old, ...step1.create.map((p, i) => ready(p, `10.244.0.${i + 5}`))]);
  t.deepEqual(step2.create, []);
  t.is(step2.delete.length, 2);
  t.like(step2.status, { readyReplicas: 4, updatedReplicas: 2 });
});

const sts: V1StatefulSet = {
  metadata: { name: 'db', namespace: 'demo', uid: 's-1' },
  spec: {
    serviceName: 'db',
    replicas: 2,
    selector: { matchLabels: { app: 'db' } },
    template: { ...template, metadata: { labels: { app: 'db' } } },
  },
};

test('an OrderedReady StatefulSet creates db-0, then db-1 once db-0 is Ready, with stable hostnames', (t) => {
  const first = planStatefulSet(sts, []);
  t.deepEqual(
    first.create.map((p) => p.metadata?.name),
    ['db-0'],
  );
  t.like(first.create[0]?.spec, { hostname: 'db-0', subdomain: 'db' });
  const db0 = first.create[0] as V1Pod;
  t.deepEqual(planStatefulSet(sts, [db0]).create, []);
  t.deepEqual(
    planStatefulSet(sts, [ready(db0, '10.244.0.2')]).create.map((p) => p.metadata?.name),
    ['db-1'],
  );
});

test('a Parallel StatefulSet creates all ordinals and scales down from the top', (t) => {
  const par = { ...sts, spec: { ...sts.spec, podManagementPolicy: 'Parallel' } } as V1StatefulSet;
  const pods = planStatefulSet({ ...par, spec: { ...par.spec, replicas: 3 } as never }, []).create;
  t.deepEqual(
    pods.map((p) => p.metadata?.name),
    ['db-0', 'db-1', 'db-2'],
  );
  const down = planStatefulSet(
    { ...par, spec: { ...par.spec, replicas: 1 } as never },
    pods.map((p, i) => ready(p, `10.244.0.${i + 2}`)),
  );
  t.deepEqual(
    down.delete.map((p) => p.metadata?.name),
    ['db-2', 'db-1'],
  );
});

test('endpoints list the selected pods with ready conditions and resolve named target ports', (t) => {
  const svc: V1Service = {
    metadata: { name: 'web', namespace: 'demo', uid: 'svc-1' },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' as never }] },
  };
  const [a, b] = planDeployment(deploy, []).create as [V1Pod, V1Pod];
  const other: V1Pod = {
    metadata: { name: 'o', namespace: 'other', labels: { app: 'web' } },
    spec: a.spec,
    status: { podIP: '10.244.0.9' },
  };
  const d = planEndpoints(svc, [
    ready(a, '10.244.0.2'),
    { ...b, metadata: { ...b.metadata, uid: 'ub' }, status: { podIP: '10.244.0.3' } },
    other,
  ]);
  t.is(d.slices.length, 1);
  const slice = d.slices[0];
  t.deepEqual(slice?.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  t.deepEqual(
    slice?.endpoints?.map((e) => [e.addresses[0], e.conditions?.ready]),
    [
      ['10.244.0.2', true],
      ['10.244.0.3', false],
    ],
  );
  t.is(slice?.metadata?.labels?.['kubernetes.io/service-name'], 'web');
  t.deepEqual(
    d.endpoints.subsets?.[0]?.addresses?.map((x) => x.ip),
    ['10.244.0.2'],
  );
  t.deepEqual(
    d.endpoints.subsets?.[0]?.notReadyAddresses?.map((x) => x.ip),
    ['10.244.0.3'],
  );
  t.is(resolveTargetPort(undefined, 80, a), 80);
  t.is(resolveTargetPort('nope', 80, a), undefined);
});

test('label selectors honour matchExpressions', (t) => {
  const sel = { matchLabels: { app: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['x', 'y'] }] };
  t.true(selectorMatches(sel, { app: 'a', tier: 'y' }));
  t.false(selectorMatches(sel, { app: 'a', tier: 'z' }));
  t.false(selectorMatches(sel, { app: 'a' }));
  t.false(selectorMatches(undefined, { app: 'a' }));
});

test('a Failed pod is deleted and replaced, by a Deployment and by a StatefulSet under the same name', (t) => {
  const [a, b] = planDeployment(deploy, []).create as [V1Pod, V1Pod];
  const failed: V1Pod = { ...a, status: { phase: 'Failed' } };
  const plan = planDeployment(deploy, [failed, ready(b, '10.244.0.3')]);
  t.deepEqual(
    plan.delete.map((p) => p.metadata?.name),
    [a.metadata?.name],
  );
  t.is(plan.create.length, 1);
  const db0 = planStatefulSet(sts, []).create[0] as V1Pod;
  const s = planStatefulSet(sts, [{ ...db0, status: { phase: 'Failed' } }]);
  t.deepEqual(
    s.delete.map((p) => p.metadata?.name),
    ['db-0'],
  );
  t.deepEqual(s.create, [], 'recreated once the old one is gone');
});
