import type { V1Container, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import {
  claimProblem,
  isCleanPath,
  isCleanRelative,
  planVolumes,
  renderVolume,
  selectSubPath,
  type VolumeSources,
} from './volumes.ts';

const claim = (name: string, modes: string[], phase = 'Bound'): V1PersistentVolumeClaim => ({
  metadata: { name, namespace: 'demo' },
  spec: { accessModes: modes },
  status: { phase, accessModes: modes },
});

const pod: V1Pod = {
  metadata: { name: 'web-1', namespace: 'demo', uid: 'u1', labels: { b: '2', a: 'x"y' }, annotations: { n: 'v' } },
  spec: {
    containers: [],
    volumes: [
      { name: 'cfg', configMap: { name: 'cfg', items: [{ key: 'k', path: 'dir/k.txt', mode: 0o600 }] } },
      { name: 'sec', secret: { secretName: 'sec' } },
      { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
      {
        name: 'token',
        projected: {
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 600 } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
        },
      },
      { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
      { name: 'solo', persistentVolumeClaim: { claimName: 'solo' } },
      { name: 'pending', persistentVolumeClaim: { claimName: 'pending' } },
      { name: 'scratch', emptyDir: {} },
      { name: 'host', hostPath: { path: '/var/log' } },
      { name: 'nfs', nfs: { server: 'x', path: '/' } },
    ],
  },
};

const container: V1Container = {
  name: 'web',
  volumeMounts: [
    { name: 'cfg', mountPath: '/etc/cfg' },
    { name: 'sec', mountPath: '/etc/sec' },
    { name: 'info', mountPath: '/etc/info' },
    { name: 'token', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    { name: 'data', mountPath: '/data' },
    { name: 'solo', mountPath: '/solo' },
    { name: 'pending', mountPath: '/pending' },
    { name: 'scratch', mountPath: '/tmp/scratch' },
    { name: 'host', mountPath: '/host' },
    { name: 'nfs', mountPath: '/nfs' },
    { name: 'cfg', mountPath: '/../etc/passwd' },
    { name: 'nope', mountPath: '/nope' },
  ],
};

test('planVolumes says how each mount reaches the laptop, or why it does not', (t) => {
  const claims = new Map([
    ['data', claim('data', ['ReadWriteOnce'])],
    ['solo', claim('solo', ['ReadWriteOncePod'])],
    ['pending', claim('pending', ['ReadWriteOnce'], 'Pending')],
  ]);
  const plans = planVolumes(pod, container, (n) => claims.get(n));
  t.deepEqual(
    plans.map((p) => [p.mountPath, p.how, p.reason ?? p.claim ?? '']),
    [
      ['/etc/cfg', 'api', ''],
      ['/etc/sec', 'api', ''],
      ['/etc/info', 'api', ''],
      ['/var/run/secrets/kubernetes.io/serviceaccount', 'api', ''],
      ['/data', 'claim', 'data'],
      ['/solo', 'none', 'PersistentVolumeClaim solo is ReadWriteOncePod: only one pod may mount it, and web-1 does'],
      ['/pending', 'none', 'PersistentVolumeClaim pending is Pending, not Bound'],
      [
        '/tmp/scratch',
        'none',
        "emptyDir is the pod's own scratch space: it lives and dies with that pod, which devnet does not enter",
      ],
      ['/host', 'none', "hostPath is a directory on the pod's node, which devnet does not reach"],
      ['/nfs', 'none', 'nfs volumes are not supported by devnet'],
      ['/../etc/passwd', 'none', 'mount path "/../etc/passwd" is not a clean absolute path'],
      ['/nope', 'none', 'the pod has no volume nope'],
    ],
  );
});

test('claimProblem: shared modes mount anywhere, missing claims are named', (t) => {
  t.is(claimProblem(claim('a', ['ReadOnlyMany']), 'a', 'p'), undefined);
  t.is(claimProblem(claim('a', ['ReadWriteMany']), 'a', 'p'), undefined);
  t.is(claimProblem(undefined, 'gone', 'p'), 'PersistentVolumeClaim gone does not exist');
});

test('renderVolume lays out keys, items and modes like the kubelet; secrets decode from base64', (t) => {
  const src: VolumeSources = {
    configMap: (n: string) => {
      const cms: Record<string, Record<string, string>> = {
        cfg: { k: 'v', other: 'o' },
        'kube-root-ca.crt': { 'ca.crt': 'CA' },
      };
      return cms[n] ? { data: cms[n] } : undefined;
    },
    secret: (n: string) => (n === 'sec' ? { data: { pw: Buffer.from('s3cr3t').toString('base64') } } : undefined),
    token: (p: string) => (p === 'token' ? 'TOKEN' : undefined),
  };
  const vol = (name: string) => pod.spec?.volumes?.find((v) => v.name === name) as never;
  const files = (name: string) =>
    renderVolume(pod, container, vol(name), src).files.map((f) => [f.path, f.data.toString(), f.mode.toString(8)]);
  t.deepEqual(files('cfg'), [['dir/k.txt', 'v', '600']]);
  t.deepEqual(files('sec'), [['pw', 's3cr3t', '644']]);
  t.deepEqual(files('info'), [['labels', 'a="x\\"y"\nb="2"', '644']]);
  t.deepEqual(files('token'), [
    ['token', 'TOKEN', '644'],
    ['namespace', 'demo', '644'],
    ['ca.crt', 'CA', '644'],
  ]);
  const missing = renderVolume(pod, container, vol('sec'), { ...src, secret: () => undefined });
  t.deepEqual(missing.problems, ['secret sec does not exist']);
});

test('item paths and subPaths may not leave their volume', (t) => {
  t.true(isCleanRelative('a/b.txt'));
  for (const bad of ['', '/a', 'a/../b', '..', 'a//b', './a']) t.false(isCleanRelative(bad), bad);
  t.true(isCleanPath('/etc/hello'));
  for (const bad of ['etc', '/etc/../x', '/etc//x', '/etc/']) t.false(isCleanPath(bad), bad);
  const r = renderVolume(
    pod,
    container,
    { name: 'x', configMap: { name: 'cfg', items: [{ key: 'k', path: '../escape' }] } },
    { configMap: () => ({ data: { k: 'v' } }), secret: () => undefined, token: () => undefined },
  );
  t.deepEqual(r.files, []);
  t.deepEqual(r.problems, ['configMap cfg: item path "../escape" leaves the volume']);
  const f = (path: string) => ({ path, data: Buffer.from(path), mode: 0o644 });
  t.deepEqual(
    selectSubPath([f('a/x'), f('a/y/z'), f('b')], 'a').map((x) => x.path),
    ['x', 'y/z'],
  );
  t.deepEqual(
    selectSubPath([f('a'), f('b')], 'b').map((x) => x.path),
    [''],
  );
});
