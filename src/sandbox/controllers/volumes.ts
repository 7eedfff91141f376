// The sandbox's storage: a local-path provisioner and the claim binder, as
// one pure plan. A Pending claim of the `local-path` class gets a
// PersistentVolume `pvc-<claim uid>` backed by a directory on the node
// (hostPath below the sandbox's state, pinned to the node as rancher's
// local-path provisioner does), and both are bound; a provisioned volume
// whose claim is gone is deleted (reclaim policy Delete; the node removes
// its directory).
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { DEFAULT_STORAGE_CLASS } from '../apiserver/defaults.ts';
import { NODE_NAME } from '../constants.ts';

/** PROVISIONED_BY marks the volumes the sandbox made (the annotation the real provisioners set). */
export const PROVISIONED_BY = 'pv.kubernetes.io/provisioned-by';
const PROVISIONER = 'rancher.io/local-path';

/** StoragePlan is one step of provisioning and binding. */
export interface StoragePlan {
  createVolumes: V1PersistentVolume[];
  /** bind: a claim and the volume it gets (the claim's volumeName and both statuses are written). */
  bind: { claim: V1PersistentVolumeClaim; volume: string }[];
  deleteVolumes: V1PersistentVolume[];
}

/** volumeName is the volume provisioned for a claim. */
export function volumeName(claim: V1PersistentVolumeClaim): string {
  return `pvc-${claim.metadata?.uid ?? ''}`;
}

/** planStorage computes what to provision, bind and reclaim; volumesDir holds the volumes' directories. */
export function planStorage(
  claims: V1PersistentVolumeClaim[],
  volumes: V1PersistentVolume[],
  volumesDir: string,
): StoragePlan {
  const plan: StoragePlan = { createVolumes: [], bind: [], deleteVolumes: [] };
  const byName = new Map(volumes.map((v) => [v.metadata?.name, v]));
  for (const c of claims) {
    if (c.metadata?.deletionTimestamp || c.status?.phase === 'Bound') continue;
    if ((c.spec?.storageClassName ?? DEFAULT_STORAGE_CLASS) !== DEFAULT_STORAGE_CLASS) continue;
    const name = c.spec?.volumeName || volumeName(c);
    if (!byName.has(name)) {
      plan.createVolumes.push({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name, annotations: { [PROVISIONED_BY]: PROVISIONER } },
        spec: {
          capacity: { storage: c.spec?.resources?.requests?.storage ?? '1Gi' },
          accessModes: c.spec?.accessModes ?? ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: DEFAULT_STORAGE_CLASS,
          volumeMode: 'Filesystem',
          hostPath: { path: `${volumesDir}/${name}`, type: 'DirectoryOrCreate' },
          claimRef: {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            namespace: c.metadata?.namespace,
            name: c.metadata?.name,
            uid: c.metadata?.uid,
          },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE_NAME] }] },
              ],
            },
          },
        },
      });
    }
    plan.bind.push({ claim: c, volume: name });
  }
  const claimUids = new Set(claims.map((c) => c.metadata?.uid));
  for (const v of volumes) {
    if (v.metadata?.annotations?.[PROVISIONED_BY] !== PROVISIONER || v.metadata?.deletionTimestamp) continue;
    const owner = v.spec?.claimRef?.uid;
    if (owner && !claimUids.has(owner) && v.spec?.persistentVolumeReclaimPolicy === 'Delete')
      plan.deleteVolumes.push(v);
  }
  return plan;
}
