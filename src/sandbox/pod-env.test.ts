import type { V1Container, V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import { ConfigError, type ConfigLookup, containerEnv } from './pod-env.ts';

const pod: V1Pod = {
  metadata: { name: 'gw-1', namespace: 'devnet', uid: 'u1', labels: { app: 'gw' } },
  spec: { containers: [], nodeName: 'sandbox-node' },
};
const lookup: ConfigLookup = {
  secret: async (_ns, name) =>
    name === 'tok' ? { data: { token: Buffer.from('s3cret').toString('base64') } } : undefined,
  configMap: async (_ns, name) => (name === 'cfg' ? { data: { level: 'debug', mode: 'x' } } : undefined),
  services: async (ns) =>
    ns === 'default'
      ? [{ metadata: { name: 'kubernetes' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] } }]
      : [
          {
            metadata: { name: 'my-api' },
            spec: {
              clusterIP: '10.96.3.4',
              ports: [
                { name: 'http', port: 80 },
                { name: 'dns', port: 53, protocol: 'UDP' },
              ],
            },
          },
          { metadata: { name: 'headless' }, spec: { clusterIP: 'None', ports: [{ port: 5432 }] } },
        ],
};

test("service links: the namespace's Services and default/kubernetes, in the kubelet's docker-link form; headless ones none", async (t) => {
  const env = await containerEnv(pod, { name: 'c' }, '10.244.0.9', lookup);
  t.like(env, {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    MY_API_SERVICE_HOST: '10.96.3.4',
    MY_API_SERVICE_PORT: '80',
    MY_API_SERVICE_PORT_DNS: '53',
    MY_API_PORT: 'tcp://10.96.3.4:80',
    MY_API_PORT_53_UDP: 'udp://10.96.3.4:53',
    MY_API_PORT_53_UDP_PROTO: 'udp',
    MY_API_PORT_53_UDP_PORT: '53',
    MY_API_PORT_53_UDP_ADDR: '10.96.3.4',
  });
  t.false(Object.keys(env).some((k) => k.startsWith('HEADLESS_')));
  const off = await containerEnv(
    { ...pod, spec: { ...pod.spec, containers: [], enableServiceLinks: false } },
    { name: 'c' },
    '10.244.0.9',
    lookup,
  );
  t.false('MY_API_SERVICE_HOST' in off);
  t.is(off.KUBERNETES_SERVICE_HOST, '10.96.0.1');
});

test('resourceFieldRef: the limit (or node allocatable) over the divisor, rounded up', async (t) => {
  const c: V1Container = {
    name: 'c',
    resources: { limits: { memory: '64Mi', cpu: '500m' } },
    env: [
      { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      { name: 'CPU_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
      { name: 'EPH', valueFrom: { resourceFieldRef: { resource: 'limits.ephemeral-storage', divisor: '1Gi' } } },
    ],
  };
  t.like(await containerEnv(pod, c, '10.244.0.9', lookup), { MEM_MI: '64', CPU: '1', CPU_M: '500', EPH: '20' });
});

test('env resolves values, fieldRefs, secretKeyRef, configMapKeyRef, envFrom and $(VAR) references', async (t) => {
  const c: V1Container = {
    name: 'c',
    envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'tok', key: 'token' } } },
      { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'level' } } },
      { name: 'GREETING', value: 'hi $(POD_NAME) $(NOPE)' },
    ],
  };
  const env = await containerEnv(pod, c, '10.244.0.9', lookup);
  t.like(env, {
    HOSTNAME: 'gw-1',
    POD_NAME: 'gw-1',
    POD_IP: '10.244.0.9',
    APP: 'gw',
    TOKEN: 's3cret',
    LEVEL: 'debug',
    CFG_mode: 'x',
    GREETING: 'hi gw-1 $(NOPE)',
  });
});

test('a missing secret is a config error with the kubelet wording; optional ones are skipped', async (t) => {
  const missing: V1Container = {
    name: 'c',
    env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }],
  };
  const err = await t.throwsAsync(containerEnv(pod, missing, '10.244.0.9', lookup), { instanceOf: ConfigError });
  t.is(err?.message, 'secret "gone" not found');
  const optional: V1Container = {
    name: 'c',
    env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'gone', key: 'k', optional: true } } }],
  };
  t.false('T' in (await containerEnv(pod, optional, '10.244.0.9', lookup)));
});
