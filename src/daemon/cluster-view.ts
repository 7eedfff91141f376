// ClusterView: what the daemon knows of the cluster beyond routing — the DNS
// snapshot (namespaces, services) and the pod ranges — refreshed while
// connected. Lists the user may not read (a namespaced user cannot list
// cluster-wide) fall back to what they can read.
import type { CoreV1Api, V1Service } from '@kubernetes/client-node';
import type { ClusterSnapshot, ServiceInfo } from '../dns/snapshot.ts';

/** serviceInfo converts a Service to what DNS needs. */
export function serviceInfo(s: V1Service): ServiceInfo | undefined {
  const name = s.metadata?.name;
  const namespace = s.metadata?.namespace;
  if (!name || !namespace) return undefined;
  const type = (s.spec?.type ?? 'ClusterIP') as ServiceInfo['type'];
  const ips = (s.spec?.clusterIPs ?? (s.spec?.clusterIP ? [s.spec.clusterIP] : [])).filter((ip) => ip && ip !== 'None');
  return {
    name,
    namespace,
    type,
    clusterIPs: type === 'ExternalName' ? [] : ips,
    ports: (s.spec?.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP' | 'SCTP',
    })),
    ...(s.spec?.externalName ? { externalName: s.spec.externalName } : {}),
  };
}

/** readSnapshot lists namespaces and services, as widely as the user is allowed. */
export async function readSnapshot(
  core: CoreV1Api,
  base: {
    clusterDomain: string;
    namespace: string;
    extraNamespaces: string[];
    serviceCIDRs: string[];
    podCIDRs: string[];
  },
): Promise<ClusterSnapshot> {
  let namespaces: string[];
  try {
    namespaces = (await core.listNamespace()).items.map((n) => n.metadata?.name ?? '').filter(Boolean);
  } catch {
    namespaces = [base.namespace, ...base.extraNamespaces];
  }
  let services: V1Service[] = [];
  try {
    services = (await core.listServiceForAllNamespaces()).items;
  } catch {
    const per = await Promise.all(
      namespaces.map((namespace) =>
        core.listNamespacedService({ namespace }).then(
          (l) => l.items,
          () => [] as V1Service[],
        ),
      ),
    );
    services = per.flat();
  }
  return {
    clusterDomain: base.clusterDomain,
    namespace: base.namespace,
    namespaces: [...new Set(namespaces)].sort(),
    services: services.map(serviceInfo).filter((s): s is ServiceInfo => s !== undefined),
    serviceCIDRs: base.serviceCIDRs,
    podCIDRs: base.podCIDRs,
  };
}
