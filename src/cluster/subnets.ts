// Discovering the cluster's service and pod ranges (ARCHITECTURE.md,
// "Subnets"). Service range: ServiceCIDR objects (networking.k8s.io/v1, GA in
// 1.33), else the range named in the 422 for an out-of-range ClusterIP (asked
// with dryRun, so nothing is created), else inferred from Service IPs. Pod
// ranges: node.spec.podCIDRs, else inferred from pod IPs. The parsing and
// inference are pure and tested on their own.
import type { CoreV1Api, NetworkingV1Api, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { type Cidr, coverAddresses, mergeCidrs, parseCidr } from '../cidr.ts';
import { statusOf } from './kube.ts';

/** SubnetSource says how a range was found (shown by `devnet status`). */
export type SubnetSource =
  | 'servicecidr'
  | 'validation-message'
  | 'inferred-from-services'
  | 'node-podcidrs'
  | 'inferred-from-pods';

/** DiscoveredRanges are ranges and how they were found. */
export interface DiscoveredRanges {
  cidrs: string[];
  source: SubnetSource;
}

/**
 * rangeFromValidationMessage reads "The range of valid IPs is 10.96.0.0/12"
 * (dual-stack clusters name two ranges joined by "and" or a comma).
 */
export function rangeFromValidationMessage(message: string): string[] {
  const m = /range of valid IPs is ([0-9a-fA-F.:/]+(?:\s*(?:,|and)\s*[0-9a-fA-F.:/]+)*)/.exec(message);
  if (!m) return [];
  return (m[1] as string)
    .split(/\s*(?:,|and)\s*/)
    .map((s) => parseCidr(s)?.text)
    .filter((s): s is string => s !== undefined);
}

/** serviceIPs collects the ClusterIPs of services (not headless, not ExternalName). */
export function serviceIPs(services: readonly V1Service[]): string[] {
  const out: string[] = [];
  for (const s of services) {
    for (const ip of s.spec?.clusterIPs ?? (s.spec?.clusterIP ? [s.spec.clusterIP] : [])) {
      if (ip && ip !== 'None') out.push(ip);
    }
  }
  return out;
}

/** podRangesFromNodes reads spec.podCIDRs (or the older spec.podCIDR) of every node. */
export function podRangesFromNodes(nodes: readonly V1Node[]): Cidr[] {
  const out: Cidr[] = [];
  for (const n of nodes) {
    for (const s of n.spec?.podCIDRs ?? (n.spec?.podCIDR ? [n.spec.podCIDR] : [])) {
      const c = parseCidr(s);
      if (c) out.push(c);
    }
  }
  return mergeCidrs(out);
}

/** podIPs collects pod IPs, skipping host-network pods (their IPs are node IPs). */
export function podIPs(pods: readonly V1Pod[]): string[] {
  const out: string[] = [];
  for (const p of pods) {
    if (p.spec?.hostNetwork) continue;
    for (const ip of p.status?.podIPs ?? []) if (ip.ip) out.push(ip.ip);
  }
  return out;
}

/** SubnetApis are the clients discovery uses. */
export interface SubnetApis {
  core: CoreV1Api;
  networking: NetworkingV1Api;
}

/** discoverServiceRanges finds the service range(s); namespace is one the user may create services in. */
export async function discoverServiceRanges(apis: SubnetApis, namespace: string): Promise<DiscoveredRanges> {
  try {
    const list = await apis.networking.listServiceCIDR();
    const cidrs = mergeCidrs(
      list.items.flatMap((i) => i.spec?.cidrs ?? []).flatMap((s) => (parseCidr(s) ? [parseCidr(s) as Cidr] : [])),
    ).map((c) => c.text);
    if (cidrs.length > 0) return { cidrs, source: 'servicecidr' };
  } catch {
    // Not served (older cluster) or not allowed: try the next way.
  }
  try {
    await apis.core.createNamespacedService({
      namespace,
      dryRun: 'All',
      body: {
        metadata: { name: 'devnet-range-probe' },
        spec: { clusterIP: '1.1.1.1', ports: [{ port: 443 }] },
      },
    });
  } catch (err) {
    const cidrs = rangeFromValidationMessage(statusOf(err)?.message ?? '');
    if (cidrs.length > 0) return { cidrs, source: 'validation-message' };
  }
  const services = await apis.core.listNamespacedService({ namespace }).catch(() => ({ items: [] as V1Service[] }));
  const all = await apis.core.listServiceForAllNamespaces().catch(() => services);
  return { cidrs: coverAddresses(serviceIPs(all.items), 12, 108).map((c) => c.text), source: 'inferred-from-services' };
}

/** discoverPodRanges finds pod ranges from nodes, else from pods the user can see. */
export async function discoverPodRanges(apis: SubnetApis, namespace: string): Promise<DiscoveredRanges> {
  const nodes = await apis.core.listNode().catch(() => ({ items: [] as V1Node[] }));
  const fromNodes = podRangesFromNodes(nodes.items);
  if (fromNodes.length > 0) return { cidrs: fromNodes.map((c) => c.text), source: 'node-podcidrs' };
  const pods = await apis.core
    .listPodForAllNamespaces()
    .catch(() => apis.core.listNamespacedPod({ namespace }))
    .catch(() => ({ items: [] as V1Pod[] }));
  return { cidrs: coverAddresses(podIPs(pods.items)).map((c) => c.text), source: 'inferred-from-pods' };
}
