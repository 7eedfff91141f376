// What the laptop's DNS server knows about the cluster without asking it:
// the cluster domain, the connected namespace, every namespace and service.
// The daemon builds it from its watches and replaces it whole on change; the
// naming rules use it to decide, locally and without a round trip, whether a
// name is a cluster name at all (ARCHITECTURE.md decision 10).

/** ServicePort is one port of a Service; named ports get SRV records. */
export interface ServicePort {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** ServiceEndpoint is one ready endpoint of a Service: a pod's IP and, for StatefulSet pods, its hostname. */
export interface ServiceEndpoint {
  ip: string;
  hostname?: string;
}

/** ServiceInfo is what DNS needs of one Service. */
export interface ServiceInfo {
  name: string;
  namespace: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** clusterIPs is empty for a headless Service (clusterIP None) and for ExternalName. */
  clusterIPs: string[];
  ports: ServicePort[];
  externalName?: string;
  /** endpoints are optional for the laptop (only the cluster DNS needs them to answer). */
  endpoints?: ServiceEndpoint[];
}

/** ClusterSnapshot is the cluster as the DNS rules see it. */
export interface ClusterSnapshot {
  /** clusterDomain is discovered from the gateway pod's resolv.conf (see clusterDomainFromResolvConf), never assumed. */
  clusterDomain: string;
  /** namespace is the connected namespace: single-label names resolve in it, as from a pod there. */
  namespace: string;
  namespaces: string[];
  services: ServiceInfo[];
  /** serviceCIDRs and podCIDRs decide which reverse (PTR) names belong to the cluster. */
  serviceCIDRs: string[];
  podCIDRs: string[];
}

/** ClusterIndex is a snapshot indexed for per-query lookups. */
export interface ClusterIndex {
  snapshot: ClusterSnapshot;
  domain: string;
  namespaces: Set<string>;
  /** services maps "name.namespace" to the Service. */
  services: Map<string, ServiceInfo>;
  clusterIPs: Set<string>;
}

/** normaliseName lower-cases a DNS name and strips one trailing dot. */
export function normaliseName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** indexSnapshot builds the lookup tables the naming rules use. */
export function indexSnapshot(snapshot: ClusterSnapshot): ClusterIndex {
  const services = new Map<string, ServiceInfo>();
  const clusterIPs = new Set<string>();
  for (const s of snapshot.services) {
    services.set(`${s.name.toLowerCase()}.${s.namespace.toLowerCase()}`, s);
    for (const ip of s.clusterIPs) clusterIPs.add(ip);
  }
  return {
    snapshot,
    domain: normaliseName(snapshot.clusterDomain),
    namespaces: new Set(snapshot.namespaces.map((n) => n.toLowerCase())),
    services,
    clusterIPs,
  };
}

/**
 * clusterDomainFromResolvConf discovers the cluster domain from a pod's
 * resolv.conf: the kubelet writes `search <ns>.svc.<domain> svc.<domain>
 * <domain> …`, so the domain is what follows `<ns>.svc.` in the first entry.
 * Returns undefined when the file does not have that shape.
 */
export function clusterDomainFromResolvConf(text: string, namespace: string): string | undefined {
  const prefix = `${namespace.toLowerCase()}.svc.`;
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'search') continue;
    for (const w of words.slice(1)) {
      const d = normaliseName(w);
      if (d.startsWith(prefix) && d.length > prefix.length) return d.slice(prefix.length);
    }
  }
  return undefined;
}
