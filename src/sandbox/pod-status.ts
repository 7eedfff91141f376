// A pod's status as the kubelet reports it, computed from what the runner
// says about each container. Pure. Conditions keep their
// lastTransitionTime while their status does not change.
import type { V1Pod, V1PodCondition, V1PodStatus } from '@kubernetes/client-node';
import { NODE_IP } from './constants.ts';
import type { ContainerReport } from './pod-plan.ts';

/** PodFacts is what the kubelet knows about a pod besides its containers. */
export interface PodFacts {
  podIP?: string;
  startTime: string;
  /** reports has one entry per container, in spec order. */
  reports: ContainerReport[];
  now: string;
}

/** containerID is the ID shown for a sandbox container (runtime "devnet"). */
export function containerID(uid: string, name: string): string {
  return `devnet://${uid.replace(/-/g, '').slice(0, 16)}-${name}`;
}

function condition(
  prev: V1PodCondition[] | undefined,
  type: string,
  ok: boolean,
  now: string,
  reason?: string,
): V1PodCondition {
  const status = ok ? 'True' : 'False';
  const old = prev?.find((c) => c.type === type);
  const lastTransitionTime = (old?.status === status && old.lastTransitionTime
    ? old.lastTransitionTime
    : now) as unknown as Date;
  return { type, status, lastTransitionTime, ...(reason && !ok ? { reason } : {}) } as V1PodCondition;
}

/** podStatus computes a pod's status. */
export function podStatus(pod: V1Pod, f: PodFacts): V1PodStatus {
  const uid = pod.metadata?.uid ?? '';
  const containers = pod.spec?.containers ?? [];
  const reports = f.reports;
  const allReady = reports.length > 0 && reports.every((r) => r.ready);
  const running = reports.filter((r) => 'running' in r.state).length;
  const terminated = reports.filter((r) => 'terminated' in r.state);
  let phase = 'Pending';
  if (reports.length > 0 && terminated.length === reports.length) {
    phase = terminated.every((r) => 'terminated' in r.state && r.state.terminated.exitCode === 0)
      ? 'Succeeded'
      : 'Failed';
  } else if (running > 0 || reports.some((r) => r.restartCount > 0 || r.lastState)) {
    phase = 'Running';
  }
  const prev = pod.status?.conditions;
  const notReady = reports.filter((r) => !r.ready).map((r) => r.name);
  const reason = notReady.length ? 'ContainersNotReady' : undefined;
  const conditions = [
    condition(prev, 'PodReadyToStartContainers', f.podIP !== undefined, f.now),
    condition(prev, 'Initialized', true, f.now),
    condition(prev, 'Ready', allReady, f.now, reason),
    condition(prev, 'ContainersReady', allReady, f.now, reason),
    condition(prev, 'PodScheduled', true, f.now),
  ];
  for (const c of conditions) {
    if (c.reason === 'ContainersNotReady') c.message = `containers with unready status: [${notReady.join(' ')}]`;
  }
  const status: V1PodStatus = {
    phase,
    conditions,
    hostIP: NODE_IP,
    hostIPs: [{ ip: NODE_IP }],
    startTime: f.startTime as unknown as Date,
    qosClass: 'BestEffort',
    containerStatuses: containers.map((c, i) => {
      const r = reports[i] ?? {
        name: c.name,
        state: { waiting: { reason: 'ContainerCreating' } },
        ready: false,
        started: false,
        restartCount: 0,
      };
      const running = 'running' in r.state || 'terminated' in r.state;
      return {
        name: c.name,
        image: c.image ?? '',
        imageID: running ? `${c.image}@sandbox` : '',
        ...(running ? { containerID: containerID(uid, c.name) } : {}),
        ready: r.ready,
        started: r.started,
        restartCount: r.restartCount,
        state: r.state as never,
        lastState: (r.lastState ?? {}) as never,
      };
    }),
  };
  if (f.podIP) {
    status.podIP = f.podIP;
    status.podIPs = [{ ip: f.podIP }];
  }
  return status;
}
