import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StatefulSet } from '@kubernetes/client-node';
import test from 'ava';
import { planStatefulSet } from './statefulset.ts';
import { PROVISIONED_BY, planStorage } from './volumes.ts';

const claim = (name: string, more: Partial<V1PersistentVolumeClaim['spec']> = {}): V1PersistentVolumeClaim => ({
  metadata: { name, namespace: 'demo', uid: `uid-${name}` },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } }, ...more },
  status: { phase: 'Pending' },
});

test('a Pending local-path claim gets a hostPath volume below the volumes dir, pre-bound, and is bound', (t) => {
  const plan = planStorage([claim('data-db-0')], [], '/state/volumes');
  t.is(plan.createVolumes.length, 1);
  const pv = plan.createVolumes[0] as V1PersistentVolume;
  t.is(pv.metadata?.name, 'pvc-uid-data-db-0');
  t.like(pv.spec, {
    accessModes: ['ReadWriteOnce'],
    capacity: { storage: '64Mi' },
    hostPath: { path: '/state/volumes/pvc-uid-data-db-0' },
    claimRef: { namespace: 'demo', name: 'data-db-0', uid: 'uid-data-db-0' },
    persistentVolumeReclaimPolicy: 'Delete',
  });
  t.deepEqual(
    plan.bind.map((b) => [b.claim.metadata?.name, b.volume]),
    [['data-db-0', 'pvc-uid-data-db-0']],
  );
});

test('a claim naming its volume is bound to it; other classes and bound claims are left alone', (t) => {
  const pre = claim('solo', { volumeName: 'mine' });
  const other = claim('ext', { storageClassName: 'fast' });
  const bound = { ...claim('done'), status: { phase: 'Bound' } };
  const plan = planStorage([pre, other, bound], [{ metadata: { name: 'mine' } }], '/v');
  t.deepEqual(plan.createVolumes, []);
  t.deepEqual(
    plan.bind.map((b) => [b.claim.metadata?.name, b.volume]),
    [['solo', 'mine']],
  );
});

test('a provisioned volume whose claim is gone is reclaimed; a volume someone else made is not', (t) => {
  const ours: V1PersistentVolume = {
    metadata: { name: 'pvc-old', annotations: { [PROVISIONED_BY]: 'rancher.io/local-path' } },
    spec: { persistentVolumeReclaimPolicy: 'Delete', claimRef: { uid: 'gone' } },
  };
  const theirs: V1PersistentVolume = {
    metadata: { name: 'static' },
    spec: { persistentVolumeReclaimPolicy: 'Delete', claimRef: { uid: 'gone' } },
  };
  t.deepEqual(
    planStorage([], [ours, theirs], '/v').deleteVolumes.map((v) => v.metadata?.name),
    ['pvc-old'],
  );
});

test('a StatefulSet with a claim template makes each ordinal’s claim and mounts it in that pod', (t) => {
  const set: V1StatefulSet = {
    metadata: { name: 'db', namespace: 'demo', uid: 's-1' },
    spec: {
      serviceName: 'db',
      replicas: 2,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'x' }] } },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
    },
  };
  const plan = planStatefulSet(set, []);
  t.deepEqual(
    plan.claims.map((c) => [c.metadata?.name, c.spec?.accessModes, c.metadata?.labels]),
    [
      ['data-db-0', ['ReadWriteOnce'], { app: 'db' }],
      ['data-db-1', ['ReadWriteOnce'], { app: 'db' }],
    ],
  );
  t.deepEqual(plan.create[1]?.spec?.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-1' } }]);
  // Existing claims (kept after a scale-down) are reused, not made again.
  const again = planStatefulSet(set, [], [plan.claims[0] as V1PersistentVolumeClaim]);
  t.deepEqual(
    again.claims.map((c) => c.metadata?.name),
    ['data-db-1'],
  );
});
