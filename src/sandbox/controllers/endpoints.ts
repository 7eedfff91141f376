// The EndpointSlice and Endpoints controllers: for every Service with a
// selector, the pods it selects (with an IP, not terminating) become
// endpoints, ready per the pod's Ready condition (or always, with
// publishNotReadyAddresses). Named target ports are resolved per pod, so
// pods that number a port differently land in different slices, as in
// Kubernetes. Pods with hostname+subdomain matching the Service carry a
// hostname (StatefulSet DNS). Pure: it returns the desired objects.
import type {
  CoreV1EndpointPort,
  DiscoveryV1EndpointPort,
  V1EndpointSlice,
  V1Endpoints,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import { mapSelectorMatches, ownerRef, templateHash } from './names.ts';
import { isReady, isTerminating } from './pods.ts';

/** MANAGED_BY is the EndpointSlice controller's label value. */
export const MANAGED_BY = 'endpointslice-controller.k8s.io';

/** resolveTargetPort finds the container port a Service port targets in one pod; undefined if the pod has no such named port. */
export function resolveTargetPort(target: number | string | undefined, port: number, pod: V1Pod): number | undefined {
  if (target === undefined || target === '') return port;
  if (typeof target === 'number') return target;
  if (/^[0-9]+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === target) return p.containerPort;
  }
  return undefined;
}

/** DesiredEndpoints is what a Service's endpoints should be. */
export interface DesiredEndpoints {
  slices: V1EndpointSlice[];
  endpoints: V1Endpoints;
}

/** selectedPods lists the pods a Service selects (those with an IP and not terminating). */
export function selectedPods(svc: V1Service, pods: V1Pod[]): V1Pod[] {
  const ns = svc.metadata?.namespace;
  return pods.filter(
    (p) =>
      p.metadata?.namespace === ns &&
      !isTerminating(p) &&
      p.status?.podIP &&
      mapSelectorMatches(svc.spec?.selector, p.metadata?.labels),
  );
}

/** planEndpoints computes a selector Service's EndpointSlices and Endpoints from the pods. */
export function planEndpoints(svc: V1Service, pods: V1Pod[]): DesiredEndpoints {
  const meta = svc.metadata ?? {};
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? 'default';
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const svcPorts = svc.spec?.ports ?? [];
  const groups = new Map<string, { ports: DiscoveryV1EndpointPort[]; pods: V1Pod[] }>();
  for (const pod of selectedPods(svc, pods)) {
    const ports: DiscoveryV1EndpointPort[] = [];
    for (const sp of svcPorts) {
      const n = resolveTargetPort(sp.targetPort as number | string | undefined, sp.port, pod);
      if (n === undefined) continue;
      ports.push({
        ...(sp.name ? { name: sp.name } : { name: '' }),
        port: n,
        protocol: sp.protocol ?? 'TCP',
        ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}),
      });
    }
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? { ports, pods: [] };
    g.pods.push(pod);
    groups.set(key, g);
  }
  const slices: V1EndpointSlice[] = [];
  const subsets: V1Endpoints['subsets'] = [];
  const sorted = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
  for (const [key, g] of sorted) {
    const podsSorted = [...g.pods].sort((a, b) => (a.status?.podIP ?? '').localeCompare(b.status?.podIP ?? ''));
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-${templateHash(key, 5)}`,
        namespace,
        labels: {
          'kubernetes.io/service-name': name,
          'endpointslice.kubernetes.io/managed-by': MANAGED_BY,
        },
        ownerReferences: [ownerRef('v1', 'Service', meta)],
      },
      addressType: 'IPv4',
      ports: g.ports,
      endpoints: podsSorted.map((p) => {
        const ready = publishNotReady || isReady(p);
        const hostname = p.spec?.hostname && p.spec?.subdomain === name ? { hostname: p.spec.hostname } : {};
        return {
          addresses: [p.status?.podIP as string],
          conditions: { ready, serving: ready, terminating: false },
          ...hostname,
          ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
          targetRef: { kind: 'Pod', namespace, name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' },
        };
      }),
    });
    const addr = (p: V1Pod) => ({
      ip: p.status?.podIP as string,
      ...(p.spec?.hostname && p.spec?.subdomain === name ? { hostname: p.spec.hostname } : {}),
      ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace, name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' },
    });
    const ready = podsSorted.filter((p) => publishNotReady || isReady(p));
    const notReady = podsSorted.filter((p) => !(publishNotReady || isReady(p)));
    subsets.push({
      ...(ready.length ? { addresses: ready.map(addr) } : {}),
      ...(notReady.length ? { notReadyAddresses: notReady.map(addr) } : {}),
      ports: g.ports.map(
        (p) =>
          ({
            ...(p.name ? { name: p.name } : {}),
            port: p.port as number,
            protocol: p.protocol ?? 'TCP',
          }) as CoreV1EndpointPort,
      ),
    });
  }
  const endpoints: V1Endpoints = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name, namespace, labels: { ...(meta.labels ?? {}) } },
    ...(subsets.length ? { subsets } : {}),
  };
  return { slices, endpoints };
}
