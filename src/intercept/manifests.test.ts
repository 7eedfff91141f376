import test from 'ava';
import { interceptObjects, interceptRole } from './manifests.ts';

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
