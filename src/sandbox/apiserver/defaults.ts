// Server-side defaulting: the fields a real API server fills in on create
// (and keeps on update) for the types devnet reads, so objects read back
// look like a real cluster's (kubectl -o yaml, describe, controllers).
import { isPlainObject, type KubeObject } from './object.ts';

/** DEFAULT_STORAGE_CLASS is the sandbox's one StorageClass (its local-path provisioner), the default for claims. */
export const DEFAULT_STORAGE_CLASS = 'local-path';

function podSpecDefaults(spec: KubeObject['spec']): void {
  if (!isPlainObject(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
  if (spec.serviceAccountName === undefined) spec.serviceAccountName = spec.serviceAccount ?? 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  for (const list of ['containers', 'initContainers']) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    for (const c of cs) {
      if (!isPlainObject(c)) continue;
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
        const tagged = /:[^/]+$/.test(c.image.split('@')[0] ?? '');
        c.imagePullPolicy = !tagged || c.image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
      }
      c.resources ??= {};
      if (Array.isArray(c.ports)) for (const p of c.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
    }
  }
}

function templateDefaults(spec: KubeObject['spec']): void {
  if (!isPlainObject(spec)) return;
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  const tmpl = spec.template;
  if (isPlainObject(tmpl)) {
    tmpl.metadata ??= {};
    podSpecDefaults(tmpl.spec);
  }
}

/** applyCreateDefaults fills the type's defaulted fields of a new object (in place). */
export function applyCreateDefaults(key: string, obj: KubeObject): void {
  switch (key) {
    case '/namespaces':
      obj.spec ??= { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      break;
    case '/pods':
      podSpecDefaults(obj.spec);
      obj.status ??= {};
      if (isPlainObject(obj.status)) {
        obj.status.phase ??= 'Pending';
        obj.status.qosClass ??= 'BestEffort';
      }
      break;
    case '/services':
      serviceDefaults(obj);
      obj.status ??= { loadBalancer: {} };
      break;
    case '/secrets':
      obj.type ??= 'Opaque';
      break;
    case 'apps/deployments':
      templateDefaults(obj.spec);
      if (isPlainObject(obj.spec)) {
        const spec: KubeObject['spec'] = obj.spec;
        spec.progressDeadlineSeconds ??= 600;
        spec.strategy ??= { type: 'RollingUpdate' };
        if (spec.strategy.type === 'RollingUpdate')
          spec.strategy.rollingUpdate ??= { maxUnavailable: '25%', maxSurge: '25%' };
      }
      obj.status ??= {};
      break;
    case 'apps/replicasets':
      templateDefaults(obj.spec);
      if (isPlainObject(obj.spec)) delete obj.spec.revisionHistoryLimit;
      obj.status ??= { replicas: 0 };
      break;
    case 'apps/statefulsets':
      templateDefaults(obj.spec);
      if (isPlainObject(obj.spec)) {
        obj.spec.podManagementPolicy ??= 'OrderedReady';
        obj.spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
        obj.spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      }
      obj.status ??= { replicas: 0, availableReplicas: 0 };
      break;
    case '/persistentvolumeclaims':
      if (isPlainObject(obj.spec)) {
        obj.spec.volumeMode ??= 'Filesystem';
        // The DefaultStorageClass admission plugin: the sandbox has one default class.
        obj.spec.storageClassName ??= DEFAULT_STORAGE_CLASS;
      }
      obj.status = { phase: 'Pending' };
      break;
    case '/persistentvolumes':
      if (isPlainObject(obj.spec)) {
        obj.spec.volumeMode ??= 'Filesystem';
        obj.spec.persistentVolumeReclaimPolicy ??= 'Retain';
      }
      obj.status = { phase: 'Pending' };
      break;
    case 'storage.k8s.io/storageclasses':
      obj.reclaimPolicy ??= 'Delete';
      obj.volumeBindingMode ??= 'Immediate';
      break;
    case 'discovery.k8s.io/endpointslices':
      if (Array.isArray(obj.ports)) for (const p of obj.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
      break;
  }
}

/** serviceDefaults fills type, protocols, targetPorts, session affinity and IP family fields of a Service. */
export function serviceDefaults(obj: KubeObject): void {
  const spec = obj.spec;
  if (!isPlainObject(spec)) return;
  spec.type ??= 'ClusterIP';
  if (spec.type === 'ExternalName') return;
  spec.sessionAffinity ??= 'None';
  spec.internalTrafficPolicy ??= 'Cluster';
  spec.ipFamilies ??= ['IPv4'];
  spec.ipFamilyPolicy ??= 'SingleStack';
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
  if (Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (!isPlainObject(p)) continue;
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
  }
}
