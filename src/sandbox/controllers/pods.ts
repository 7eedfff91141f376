// Shared facts about pods for the controllers: readiness as the kubelet
// reports it, and a pod built from a workload's template.
import type { V1ObjectMeta, V1OwnerReference, V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { NODE_NAME } from '../constants.ts';

/** isReady reports whether a pod's Ready condition is True. */
export function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** isTerminating reports whether a pod is being deleted. */
export function isTerminating(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null;
}

/** isFinished reports whether a pod ran to an end (Succeeded or Failed); workload controllers replace such pods. */
export function isFinished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** podFromTemplate builds a pod the way a workload controller does, bound to the sandbox node. */
export function podFromTemplate(
  template: V1PodTemplateSpec,
  meta: { name: string; namespace: string; labels: Record<string, string>; owner: V1OwnerReference },
  spec: { hostname?: string; subdomain?: string } = {},
): V1Pod {
  const tm: V1ObjectMeta = template.metadata ?? {};
  const podSpec = structuredClone(template.spec ?? { containers: [] });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      labels: { ...(tm.labels ?? {}), ...meta.labels },
      ...(tm.annotations ? { annotations: { ...tm.annotations } } : {}),
      ownerReferences: [meta.owner],
    },
    spec: {
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 30,
      ...podSpec,
      ...spec,
      nodeName: NODE_NAME,
    },
  };
}
