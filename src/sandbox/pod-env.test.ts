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
};

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
