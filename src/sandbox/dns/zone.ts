// The cluster.local zone, computed from API state the way CoreDNS's
// kubernetes plugin answers (Kubernetes DNS-Based Service Discovery spec,
// github.com/kubernetes/dns/blob/master/docs/specification.md):
//   <svc>.<ns>.svc.cluster.local           A  ClusterIP, or ready endpoint IPs if headless;
//                                          CNAME externalName for ExternalName services
//   <host>.<svc>.<ns>.svc.cluster.local    A  endpoint with that hostname (or dashed IP) of a headless svc
//   _<port>._<proto>.<svc>.<ns>.svc...     SRV for each named port
//   <a-b-c-d>.<ns>.pod.cluster.local       A  of a pod with that IP in that namespace
//   d.c.b.a.in-addr.arpa                   PTR for service and pod IPs
// Names under cluster.local that do not exist are NXDOMAIN; existing names
// without records of the asked type are NODATA; names outside the zone and
// its reverse zones are REFUSED (the sandbox never forwards to the host).
import type { V1EndpointSlice, V1Pod, V1Service } from '@kubernetes/client-node';
import { CLUSTER_DOMAIN } from '../constants.ts';

/** TTL is the answer TTL in seconds (CoreDNS kubernetes plugin default). */
export const TTL = 5;

/** RecordType names the record types the zone serves. */
export type RecordType = 'A' | 'AAAA' | 'CNAME' | 'SRV' | 'PTR' | 'SOA';

/** DnsRecord is one resource record, in presentation terms. */
export type DnsRecord =
  | { name: string; type: 'A' | 'AAAA'; address: string }
  | { name: string; type: 'CNAME' | 'PTR'; target: string }
  | { name: string; type: 'SRV'; priority: number; weight: number; port: number; target: string };

/** Answer is the result of a lookup: a response code, answers and extra records. */
export interface Answer {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  answers: DnsRecord[];
  additionals: DnsRecord[];
  /** authoritative is true inside the zone (the SOA goes in the authority section for negative answers). */
  authoritative: boolean;
}

const dashed = (ip: string) => ip.replace(/\./g, '-');

/** reverseName is the in-addr.arpa name of an IPv4 address (RFC 1035 §3.5). */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** Zone answers questions about cluster.local from a snapshot of services, endpoint slices and pods. */
export class Zone {
  readonly #records = new Map<string, DnsRecord[]>();
  readonly #names = new Set<string>();
  readonly domain: string;

  constructor(services: V1Service[], slices: V1EndpointSlice[], pods: V1Pod[], domain = CLUSTER_DOMAIN) {
    this.domain = domain;
    for (const n of [domain, `svc.${domain}`, `pod.${domain}`]) this.#names.add(n);
    const podPtr = new Map<string, string>();
    for (const pod of pods) {
      const ip = pod.status?.podIP;
      const ns = pod.metadata?.namespace;
      if (!ip || !ns) continue;
      const name = `${dashed(ip)}.${ns}.pod.${domain}`;
      this.#add({ name, type: 'A', address: ip });
      if (!podPtr.has(ip)) podPtr.set(ip, name);
    }
    for (const svc of services) {
      const ns = svc.metadata?.namespace;
      const name = svc.metadata?.name;
      const spec = svc.spec;
      if (!ns || !name || !spec) continue;
      const fqdn = `${name}.${ns}.svc.${domain}`;
      this.#names.add(`${ns}.svc.${domain}`);
      this.#names.add(fqdn);
      if (spec.type === 'ExternalName') {
        if (spec.externalName)
          this.#add({ name: fqdn, type: 'CNAME', target: spec.externalName.replace(/\.$/, '').toLowerCase() });
        continue;
      }
      const headless = spec.clusterIP === 'None';
      if (!headless && spec.clusterIP) {
        this.#add({ name: fqdn, type: 'A', address: spec.clusterIP });
        this.#add({ name: reverseName(spec.clusterIP), type: 'PTR', target: fqdn });
        for (const p of spec.ports ?? []) {
          if (!p.name) continue;
          const proto = (p.protocol ?? 'TCP').toLowerCase();
          this.#add({
            name: `_${p.name}._${proto}.${fqdn}`,
            type: 'SRV',
            priority: 0,
            weight: 100,
            port: p.port,
            target: fqdn,
          });
        }
        continue;
      }
      if (!headless) continue;
      const mine = slices.filter(
        (s) =>
          s.metadata?.namespace === ns &&
          s.metadata?.labels?.['kubernetes.io/service-name'] === name &&
          s.addressType === 'IPv4',
      );
      const publishNotReady = spec.publishNotReadyAddresses === true;
      for (const slice of mine) {
        for (const ep of slice.endpoints ?? []) {
          if (!publishNotReady && ep.conditions?.ready === false) continue;
          for (const ip of ep.addresses ?? []) {
            const host = `${ep.hostname ?? dashed(ip)}.${fqdn}`;
            this.#add({ name: fqdn, type: 'A', address: ip });
            this.#add({ name: host, type: 'A', address: ip });
            this.#add({ name: reverseName(ip), type: 'PTR', target: host });
            for (const p of slice.ports ?? []) {
              if (!p.name || !p.port) continue;
              const proto = (p.protocol ?? 'TCP').toLowerCase();
              this.#add({
                name: `_${p.name}._${proto}.${fqdn}`,
                type: 'SRV',
                priority: 0,
                weight: 100,
                port: p.port,
                target: host,
              });
            }
          }
        }
      }
    }
    for (const [ip, name] of podPtr) {
      const rev = reverseName(ip);
      if (!this.#records.has(rev)) this.#add({ name: rev, type: 'PTR', target: name });
    }
  }

  #add(r: DnsRecord): void {
    const list = this.#records.get(r.name) ?? [];
    if (!list.some((x) => JSON.stringify(x) === JSON.stringify(r))) list.push(r);
    this.#records.set(r.name, list);
    // Every ancestor of an existing name exists (RFC 8020: NXDOMAIN means nothing below).
    const labels = r.name.split('.');
    for (let i = 1; i < labels.length; i++) this.#names.add(labels.slice(i).join('.'));
    this.#names.add(r.name);
  }

  /** inZone reports whether the zone is authoritative for a name (cluster.local or a reverse zone of ours). */
  inZone(name: string): boolean {
    return name === this.domain || name.endsWith(`.${this.domain}`) || name.endsWith('.10.in-addr.arpa');
  }

  /** lookup answers one question; name is case-insensitive, with or without the final dot. */
  lookup(qname: string, qtype: RecordType | 'ANY' | string): Answer {
    const name = qname.toLowerCase().replace(/\.$/, '');
    if (!this.inZone(name)) return { rcode: 'REFUSED', answers: [], additionals: [], authoritative: false };
    const answers: DnsRecord[] = [];
    const additionals: DnsRecord[] = [];
    const records = this.#records.get(name) ?? [];
    const cname = records.find((r) => r.type === 'CNAME');
    if (cname && qtype !== 'CNAME') {
      answers.push(cname);
      // Follow the CNAME inside the zone, as CoreDNS does (one level is all ExternalName needs).
      const target = (cname as { target: string }).target;
      if (this.inZone(target))
        answers.push(...(this.#records.get(target) ?? []).filter((r) => r.type === qtype || qtype === 'ANY'));
    } else {
      answers.push(...records.filter((r) => r.type === qtype || qtype === 'ANY'));
    }
    for (const r of answers) {
      if (r.type === 'SRV') additionals.push(...(this.#records.get(r.target) ?? []).filter((x) => x.type === 'A'));
    }
    if (answers.length === 0 && !this.#names.has(name) && !records.length) {
      return { rcode: 'NXDOMAIN', answers, additionals, authoritative: true };
    }
    return { rcode: 'NOERROR', answers, additionals, authoritative: true };
  }
}
