// The naming rules: which names are cluster names, and which cluster name to
// ask for. Names resolve as from a pod in the connected namespace
// (ARCHITECTURE.md decision 10):
//
//   svc                      → svc.<ns>.svc.<domain>          (connected namespace)
//   svc.ns, svc.ns.svc       → svc.ns.svc.<domain>            (every namespace)
//   host.svc.ns[.svc]        → host.svc.ns.svc.<domain>       (StatefulSet pod hostnames)
//   _port._proto.svc[.ns[.svc]] → _port._proto.svc.ns.svc.<domain>   (SRV, named ports)
//   anything under <domain>  → itself
//   x.in-addr.arpa / ip6.arpa of a cluster IP or inside a cluster CIDR → itself (PTR)
//
// A short form answers only if the Service exists in the snapshot: a
// namespace named like a TLD (`dev`) never captures that TLD, so
// `example.dev` goes to the system resolver unless `example` is a Service in
// namespace `dev` (telepresence#2395). Everything else is a system name.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { ClusterIndex } from './snapshot.ts';

/** Rule names the rule that decided a name's route (shown by `devnet dns test`). */
export type Rule =
  | 'cluster-domain'
  | 'cluster-reverse'
  | 'service-short'
  | 'service-namespace'
  | 'pod-hostname'
  | 'service-port'
  | 'namespace-without-service'
  | 'reverse-not-cluster'
  | 'not-cluster'
  | 'not-a-hostname';

/** Route says where a name is resolved: the cluster (and which name to ask it) or the system resolver. */
export type Route =
  | { to: 'cluster'; rule: Rule; query: string; detail: string }
  | { to: 'system'; rule: Rule; detail: string };

/** reverseNameToIp turns a full in-addr.arpa / ip6.arpa name into the address it names (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseNameToIp(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.reverse().join('.');
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const hex = nibbles.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4).replace(/^0+(?=.)/, ''));
    return groups.join(':');
  }
  return undefined;
}

/** cidrBlockList builds a BlockList of CIDRs, ignoring malformed entries. */
export function cidrBlockList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, len] = c.split('/');
    if (addr === undefined || len === undefined) continue;
    if (isIPv4(addr)) list.addSubnet(addr, Number(len), 'ipv4');
    else if (isIPv6(addr)) list.addSubnet(addr, Number(len), 'ipv6');
  }
  return list;
}

function inList(list: BlockList, ip: string): boolean {
  return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
}

const cidrCache = new WeakMap<ClusterIndex, BlockList>();

function cidrsOf(index: ClusterIndex): BlockList {
  let list = cidrCache.get(index);
  if (!list) {
    list = cidrBlockList([...index.snapshot.serviceCIDRs, ...index.snapshot.podCIDRs]);
    cidrCache.set(index, list);
  }
  return list;
}

/**
 * routeName decides where a normalised (lower-case, no trailing dot) name is
 * resolved. It is pure over the index: the same name and snapshot always
 * give the same route.
 */
export function routeName(name: string, index: ClusterIndex): Route {
  const domain = index.domain;
  if (name === '') return { to: 'system', rule: 'not-cluster', detail: 'the root is not a cluster name' };
  if (domain !== '' && (name === domain || name.endsWith(`.${domain}`)))
    return { to: 'cluster', rule: 'cluster-domain', query: name, detail: `under the cluster domain ${domain}` };
  if (name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa')) {
    const ip = reverseNameToIp(name);
    if (ip && (index.clusterIPs.has(ip) || inList(cidrsOf(index), ip)))
      return { to: 'cluster', rule: 'cluster-reverse', query: name, detail: `reverse name of cluster address ${ip}` };
    return { to: 'system', rule: 'reverse-not-cluster', detail: 'reverse name outside the cluster CIDRs' };
  }
  let labels = name.split('.');
  let svcSuffix = false;
  if (labels.length >= 3 && labels[labels.length - 1] === 'svc') {
    labels = labels.slice(0, -1);
    svcSuffix = true;
  }
  const cluster = (rule: Rule, q: string, detail: string): Route => ({
    to: 'cluster',
    rule,
    query: `${q}.svc.${domain}`,
    detail,
  });
  const exists = (svc: string, ns: string) => index.services.has(`${svc}.${ns}`);
  const connected = index.snapshot.namespace.toLowerCase();

  // _port._proto.svc[.ns]: SRV for a named port.
  if (labels.length >= 3 && labels[0]?.startsWith('_') && labels[1]?.startsWith('_')) {
    const [port, proto, svc, ns = svcSuffix ? undefined : connected] = labels as [string, string, string, string?];
    if (labels.length <= 4 && ns !== undefined && exists(svc, ns))
      return cluster('service-port', `${port}.${proto}.${svc}.${ns}`, `port ${port} of Service ${ns}/${svc}`);
    return { to: 'system', rule: 'not-cluster', detail: 'no such Service port in the cluster' };
  }
  if (labels.length === 1 && !svcSuffix) {
    const svc = labels[0] as string;
    if (exists(svc, connected))
      return cluster('service-short', `${svc}.${connected}`, `Service ${svc} in the connected namespace ${connected}`);
    return { to: 'system', rule: 'not-cluster', detail: `no Service ${svc} in the connected namespace ${connected}` };
  }
  if (labels.length === 2 || labels.length === 3) {
    const ns = labels[labels.length - 1] as string;
    const svc = labels[labels.length - 2] as string;
    if (exists(svc, ns)) {
      if (labels.length === 2) return cluster('service-namespace', `${svc}.${ns}`, `Service ${ns}/${svc}`);
      return cluster('pod-hostname', name.replace(/\.svc$/, ''), `a pod hostname of Service ${ns}/${svc}`);
    }
    if (index.namespaces.has(ns))
      return {
        to: 'system',
        rule: 'namespace-without-service',
        detail: `namespace ${ns} exists but has no Service ${svc}: the name falls through, so a namespace never captures a TLD`,
      };
  }
  return { to: 'system', rule: 'not-cluster', detail: 'not a cluster name' };
}
