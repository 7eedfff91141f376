// The StatefulSet controller: pods named <set>-<ordinal> with hostname =
// pod name and subdomain = spec.serviceName, so DNS gives each a stable
// name (db-0.db.demo.svc.cluster.local). OrderedReady (the default)
// creates ordinal i only when all lower ordinals are Ready; Parallel
// creates them together. Scale-down removes the highest ordinals; a changed
// template replaces pods one at a time, highest first (RollingUpdate).
// Each volumeClaimTemplate gives every ordinal its own claim
// `<template>-<set>-<ordinal>`, created before the pod and kept after it
// (persistentVolumeClaimRetentionPolicy Retain).
import type { V1PersistentVolumeClaim, V1Pod, V1StatefulSet, V1StatefulSetStatus } from '@kubernetes/client-node';
import type { WorkloadPlan } from './deployment.ts';
import { ownerRef, templateHash } from './names.ts';
import { isFinished, isReady, isTerminating, podFromTemplate } from './pods.ts';

/** claimName is the claim a StatefulSet's volumeClaimTemplate gives one ordinal. */
export function claimName(template: string, set: string, ordinal: number): string {
  return `${template}-${set}-${ordinal}`;
}

/** StatefulSetPlan is a workload step plus the claims to create first. */
export interface StatefulSetPlan extends WorkloadPlan {
  claims: V1PersistentVolumeClaim[];
}

/** planStatefulSet computes the next step for a StatefulSet given the pods it owns and the namespace's claims. */
export function planStatefulSet(
  s: V1StatefulSet,
  owned: V1Pod[],
  existingClaims: V1PersistentVolumeClaim[] = [],
): StatefulSetPlan {
  const meta = s.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? 'default';
  const want = s.spec?.replicas ?? 1;
  const template = s.spec?.template ?? {};
  const revision = `${name}-${templateHash(template)}`;
  const parallel = s.spec?.podManagementPolicy === 'Parallel';
  const byOrdinal = new Map<number, V1Pod>();
  const create: V1Pod[] = [];
  const del: V1Pod[] = [];
  let terminating = false;
  for (const p of owned) {
    const podName = p.metadata?.name ?? '';
    const suffix = podName.startsWith(`${name}-`) ? podName.slice(name.length + 1) : '';
    if (isTerminating(p)) {
      terminating = true;
      continue;
    }
    if (isFinished(p)) {
      // a failed replica is deleted and recreated under the same name
      del.push(p);
      terminating = true;
      continue;
    }
    if (!/^(0|[1-9][0-9]*)$/.test(suffix)) continue;
    byOrdinal.set(Number(suffix), p);
  }
  for (let i = 0; i < want; i++) {
    if (byOrdinal.has(i) || terminating) continue;
    const podName = `${name}-${i}`;
    create.push(
      podFromTemplate(
        template,
        {
          name: podName,
          namespace,
          labels: {
            'controller-revision-hash': revision,
            'statefulset.kubernetes.io/pod-name': podName,
            'apps.kubernetes.io/pod-index': String(i),
          },
          owner: ownerRef('apps/v1', 'StatefulSet', meta),
        },
        { hostname: podName, ...(s.spec?.serviceName ? { subdomain: s.spec.serviceName } : {}) },
      ),
    );
    if (!parallel) break;
  }
  // Each new pod mounts its ordinal's claims, made from the templates when missing.
  const templates = s.spec?.volumeClaimTemplates ?? [];
  const claims: V1PersistentVolumeClaim[] = [];
  const have = new Set(existingClaims.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`));
  for (const pod of create) {
    const ordinal = Number(pod.metadata?.name?.slice(name.length + 1));
    const spec = pod.spec as NonNullable<V1Pod['spec']>;
    spec.volumes = (spec.volumes ?? []).filter((v) => !templates.some((t) => t.metadata?.name === v.name));
    for (const t of templates) {
      const claim = claimName(t.metadata?.name ?? '', name, ordinal);
      spec.volumes.push({ name: t.metadata?.name ?? '', persistentVolumeClaim: { claimName: claim } });
      if (have.has(`${namespace}/${claim}`)) continue;
      claims.push({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: {
          name: claim,
          namespace,
          labels: { ...(s.spec?.selector?.matchLabels ?? {}) },
        },
        spec: structuredClone(t.spec ?? {}),
      });
    }
  }
  if (!parallel) {
    // OrderedReady: only the first missing ordinal, and only when all lower ones are Ready.
    const firstMissing = create[0];
    if (firstMissing) {
      const ordinal = Number(firstMissing.metadata?.name?.slice(name.length + 1));
      for (let i = 0; i < ordinal; i++) {
        const p = byOrdinal.get(i);
        if (!p || !isReady(p)) {
          create.length = 0;
          break;
        }
      }
    }
  }
  const ordinals = [...byOrdinal.keys()].sort((a, b) => b - a);
  for (const i of ordinals) if (i >= want) del.push(byOrdinal.get(i) as V1Pod);
  if (del.length === 0 && create.length === 0 && !terminating) {
    const allReady = ordinals.every((i) => isReady(byOrdinal.get(i) as V1Pod));
    const outdated = ordinals.find(
      (i) => byOrdinal.get(i)?.metadata?.labels?.['controller-revision-hash'] !== revision,
    );
    if (outdated !== undefined && allReady) del.push(byOrdinal.get(outdated) as V1Pod);
  }
  const live = [...byOrdinal.values()];
  const ready = live.filter(isReady).length;
  const status: V1StatefulSetStatus = {
    observedGeneration: meta.generation ?? 1,
    replicas: live.length,
    readyReplicas: ready,
    availableReplicas: ready,
    currentReplicas: live.length,
    updatedReplicas: live.filter((p) => p.metadata?.labels?.['controller-revision-hash'] === revision).length,
    currentRevision: revision,
    updateRevision: revision,
  };
  return { create, delete: del, status, claims: create.length > 0 ? claims : [] };
}
