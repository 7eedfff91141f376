// The intercept pod's objects: with the target's claims it still passes the
// restricted Pod Security Standard (its volumes are PersistentVolumeClaims,
// mounted read-only, and it never runs as root, whoever the target runs as),
// and its Role only reads its Service (docs/security.md, "a compromised pod").
import test from 'ava';
import { interceptObjects, interceptRole, VOLUMES_DIR } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking untyped Kubernetes objects in assertions
type Any = Record<string, any>;

const objects = (identity?: { uid: number; gid: number; groups: number[] }) =>
  interceptObjects({
    service: { metadata: { name: 'db', namespace: 'demo' }, spec: { selector: { app: 'db' } } },
    original: { app: 'db' },
    targetPorts: [{ port: 5432, targetPort: 5432 }],
    gateway: 'devnet-gateway.devnet.svc:8302',
    token: 't',
    podName: 'devnet-intercept-db-abcd',
    claims: [{ volume: 'data', claim: 'data-db-0' }],
    sftpToken: 's',
    node: 'node-1',
    ...(identity ? { identity } : {}),
  });

test('with claims the intercept pod mounts them read-only, pinned to the node, and passes restricted', (t) => {
  const pod = objects().find((o) => o.kind === 'Pod') as Any;
  const spec = pod.spec;
  t.deepEqual(spec.volumes, [{ name: 'claim-0', persistentVolumeClaim: { claimName: 'data-db-0', readOnly: true } }]);
  const c = spec.containers[0];
  t.deepEqual(c.volumeMounts, [{ name: 'claim-0', mountPath: `${VOLUMES_DIR}/data`, readOnly: true }]);
  t.deepEqual(spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [
    { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] },
  ]);
  // https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted: volume types, non-root, no privileges)
  const allowed = [
    'configMap',
    'csi',
    'downwardAPI',
    'emptyDir',
    'ephemeral',
    'persistentVolumeClaim',
    'projected',
    'secret',
  ];
  for (const v of spec.volumes) t.true(Object.keys(v).every((k) => k === 'name' || allowed.includes(k)));
  t.falsy(spec.hostNetwork || spec.hostPID || spec.hostIPC);
  t.is(spec.securityContext.runAsNonRoot, true);
  t.true(spec.securityContext.runAsUser > 0);
  t.is(c.securityContext.allowPrivilegeEscalation, false);
  t.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  t.is(c.securityContext.readOnlyRootFilesystem, true);
  t.true(c.env.some((e: Any) => e.name === 'DEVNET_INTERCEPT_SFTP_TOKEN' && e.value === 's'));
});

test('the pod runs as the target’s non-root user and groups so it can read what the target wrote', (t) => {
  const spec = (objects({ uid: 999, gid: 999, groups: [2000] }).find((o) => o.kind === 'Pod') as Any).spec;
  t.like(spec.securityContext, { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, supplementalGroups: [2000] });
});

test('the intercept pod may only read its own Service: no update or patch (externalIPs, type), nothing else', (t) => {
  const role = interceptRole('demo', 'hello') as unknown as {
    rules: { resources: string[]; resourceNames?: string[]; verbs: string[] }[];
  };
  t.deepEqual(role.rules, [{ apiGroups: [''], resources: ['services'], resourceNames: ['hello'], verbs: ['get'] }]);
  const writes = role.rules.flatMap((r) => r.verbs.filter((v) => !['get', 'list', 'watch'].includes(v)));
  t.deepEqual(writes, []);
});

test('the intercept objects carry that Role and bind it to the pod’s own ServiceAccount only', (t) => {
  const objs = interceptObjects({
    service: { metadata: { name: 'hello', namespace: 'demo' } },
    original: { app: 'hello' },
    targetPorts: [{ port: 80, targetPort: 8080 }],
    gateway: 'devnet-gateway.devnet.svc:8302',
    token: 't',
    podName: 'devnet-intercept-hello-abcd',
  }) as { kind: string; rules?: unknown; subjects?: unknown }[];
  t.deepEqual(objs.find((o) => o.kind === 'Role')?.rules, interceptRole('demo', 'hello').rules);
  t.deepEqual(objs.find((o) => o.kind === 'RoleBinding')?.subjects, [
    { kind: 'ServiceAccount', name: 'devnet-intercept-hello', namespace: 'demo' },
  ]);
});
