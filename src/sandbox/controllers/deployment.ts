// The Deployment controller, owning pods directly (no ReplicaSet level):
// pods carry `pod-template-hash`; a changed template creates new pods and
// deletes old ones once enough new ones are Ready (a rolling update with
// maxSurge = replicas, maxUnavailable = 0); surplus pods go, not-Ready ones
// first. Pure: it returns what to create and delete and the new status.
import type { V1Deployment, V1DeploymentStatus, V1Pod } from '@kubernetes/client-node';
import { ownerRef, randomSuffix, templateHash } from './names.ts';
import { isFinished, isReady, isTerminating, podFromTemplate } from './pods.ts';

/** WorkloadPlan is one reconcile step of a workload controller. */
export interface WorkloadPlan {
  create: V1Pod[];
  delete: V1Pod[];
  status: object;
}

/** planDeployment computes the next step for a Deployment given the pods it owns. */
export function planDeployment(d: V1Deployment, owned: V1Pod[]): WorkloadPlan {
  const meta = d.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? 'default';
  const want = d.spec?.replicas ?? 1;
  const template = d.spec?.template ?? {};
  const hash = templateHash(template);
  const live = owned.filter((p) => !isTerminating(p) && !isFinished(p));
  const finished = owned.filter((p) => !isTerminating(p) && isFinished(p));
  const current = live.filter((p) => p.metadata?.labels?.['pod-template-hash'] === hash);
  const old = live.filter((p) => p.metadata?.labels?.['pod-template-hash'] !== hash);
  const create: V1Pod[] = [];
  const del: V1Pod[] = [...finished];
  for (let i = current.length; i < want; i++) {
    create.push(
      podFromTemplate(template, {
        name: `${name}-${hash}-${randomSuffix()}`,
        namespace,
        labels: { 'pod-template-hash': hash },
        owner: ownerRef('apps/v1', 'Deployment', meta),
      }),
    );
  }
  if (current.length > want) {
    const surplus = [...current].sort((a, b) => Number(isReady(a)) - Number(isReady(b)));
    del.push(...surplus.slice(0, current.length - want));
  }
  const readyCurrent = current.filter(isReady).length;
  if (readyCurrent >= want) del.push(...old);
  const ready = live.filter(isReady).length;
  const status: V1DeploymentStatus = {
    observedGeneration: meta.generation ?? 1,
    replicas: live.length,
    updatedReplicas: current.length,
    readyReplicas: ready,
    availableReplicas: ready,
    ...(live.length - ready > 0 ? { unavailableReplicas: live.length - ready } : {}),
    conditions: [
      {
        type: 'Available',
        status: ready >= want ? 'True' : 'False',
        reason: ready >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        message:
          ready >= want ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: readyCurrent >= want && old.length === 0 ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
        message: `Deployment "${name}" ${readyCurrent >= want && old.length === 0 ? 'has successfully progressed' : 'is progressing'}.`,
      },
    ],
  };
  return { create, delete: del, status };
}
