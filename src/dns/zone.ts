// ClusterZone answers a cluster domain from a snapshot the way CoreDNS's
// kubernetes plugin does (the Kubernetes DNS specification, "DNS-Based
// Service Discovery" v1.1.0): A/AAAA for Services (ClusterIPs, or endpoint
// IPs when headless), hostnames of StatefulSet pods, SRV for named ports,
// PTR for ClusterIPs and named endpoints, CNAME for ExternalName, NODATA for
// names that exist with other types, NXDOMAIN with the zone's SOA otherwise.
// It is the cluster DNS stand-in of devnet's tests and DNS benchmark, served
// over real sockets by serveZone.
import { isIPv4 } from 'node:net';
import { Packet, type Resource } from 'dns2';
import { pino } from 'pino';
import type { DnsEndpoint } from './forwarder.ts';
import { QTYPE, RCODE } from './message.ts';
import { DnsServer } from './server.ts';
import { type ClusterSnapshot, normaliseName } from './snapshot.ts';

/** ZONE_TTL is the TTL of every record (CoreDNS's default). */
export const ZONE_TTL = 5;

function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const groups = ip.split('::');
  const head = groups[0] ? groups[0].split(':') : [];
  const tail = groups[1] ? groups[1].split(':') : [];
  const all = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
  return `${all
    .map((g) => g.padStart(4, '0'))
    .join('')
    .split('')
    .reverse()
    .join('.')}.ip6.arpa`;
}

/** ClusterZone holds a cluster domain's records; see the file comment. */
export class ClusterZone {
  readonly domain: string;
  readonly #records = new Map<string, Resource[]>();
  readonly #names = new Set<string>();

  constructor(snapshot: ClusterSnapshot) {
    this.domain = normaliseName(snapshot.clusterDomain);
    const d = this.domain;
    this.#exists(d);
    for (const ns of snapshot.namespaces) this.#exists(`${ns}.svc.${d}`);
    for (const s of snapshot.services) {
      const fqdn = `${s.name}.${s.namespace}.svc.${d}`;
      this.#exists(fqdn);
      if (s.type === 'ExternalName' && s.externalName) {
        this.#add(fqdn, { type: QTYPE.CNAME, domain: normaliseName(s.externalName) });
        continue;
      }
      const headless = s.clusterIPs.length === 0;
      const endpoints = s.endpoints ?? [];
      const addrs = headless ? endpoints.map((e) => e.ip) : s.clusterIPs;
      for (const ip of addrs)
        this.#add(fqdn, isIPv4(ip) ? { type: QTYPE.A, address: ip } : { type: QTYPE.AAAA, address: ip });
      for (const ip of s.clusterIPs) this.#add(reverseName(ip), { type: QTYPE.PTR, domain: fqdn });
      for (const e of endpoints) {
        if (!e.hostname) continue;
        const host = `${e.hostname}.${fqdn}`;
        this.#add(host, isIPv4(e.ip) ? { type: QTYPE.A, address: e.ip } : { type: QTYPE.AAAA, address: e.ip });
        this.#add(reverseName(e.ip), { type: QTYPE.PTR, domain: host });
      }
      for (const p of s.ports) {
        if (!p.name) continue;
        const srv = `_${p.name}._${p.protocol.toLowerCase()}.${fqdn}`;
        const targets = headless ? endpoints.filter((e) => e.hostname).map((e) => `${e.hostname}.${fqdn}`) : [fqdn];
        for (const target of targets)
          this.#add(srv, { type: QTYPE.SRV, priority: 0, weight: 100, port: p.port, target });
      }
    }
  }

  #exists(name: string): void {
    // A name exists, and so do all its ancestors (empty non-terminals, RFC 8020).
    for (let n = name; n.length > 0; n = n.slice(n.indexOf('.') + 1)) {
      this.#names.add(n);
      if (!n.includes('.')) break;
    }
  }

  #add(name: string, rr: Partial<Resource>): void {
    this.#exists(name);
    const list = this.#records.get(name) ?? [];
    list.push(new Packet.Resource({ name, class: 1, ttl: ZONE_TTL, ...rr }));
    this.#records.set(name, list);
  }

  #soa(): Resource {
    return new Packet.Resource({
      name: this.domain,
      type: QTYPE.SOA,
      class: 1,
      ttl: ZONE_TTL,
      primary: `ns.dns.${this.domain}`,
      admin: `hostmaster.${this.domain}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expiration: 86400,
      minimum: ZONE_TTL,
    });
  }

  /** answer builds the response to one parsed query. */
  answer(request: InstanceType<typeof Packet>): InstanceType<typeof Packet> {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    response.header.ra = 1;
    const opt = request.additionals.find((r) => r.type === QTYPE.OPT);
    if (opt) response.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 1232 }) as Resource);
    const q = request.questions[0];
    if (request.questions.length !== 1 || !q) {
      response.header.rcode = RCODE.FORMERR;
      return response;
    }
    const name = normaliseName(q.name);
    const inZone = name === this.domain || name.endsWith(`.${this.domain}`) || name.endsWith('.arpa');
    if (!inZone) {
      response.header.rcode = RCODE.REFUSED;
      response.header.aa = 0;
      return response;
    }
    const records = this.#records.get(name) ?? [];
    const cname = records.find((r) => r.type === QTYPE.CNAME);
    const matching = cname ? [cname] : records.filter((r) => r.type === q.type || q.type === Packet.TYPE.ANY);
    for (const r of matching) response.answers.push({ ...r, name: q.name } as Resource);
    // Follow an in-zone CNAME (ExternalName to another Service), as CoreDNS does.
    if (cname?.domain && q.type !== QTYPE.CNAME)
      for (const r of this.#records.get(cname.domain) ?? []) if (r.type === q.type) response.answers.push(r);
    if (matching.length === 0) {
      if (!this.#names.has(name) && !this.#records.has(name)) response.header.rcode = RCODE.NXDOMAIN;
      response.authorities.push(this.#soa());
    }
    return response;
  }
}

/** ZoneServer is a running ClusterZone on real UDP and TCP sockets. */
export interface ZoneServer {
  endpoint: DnsEndpoint;
  close(): Promise<void>;
}

/** serveZone serves a ClusterZone over UDP and TCP at an endpoint (port 0 picks a free one). */
export async function serveZone(zone: ClusterZone, at: DnsEndpoint): Promise<ZoneServer> {
  const server = new DnsServer(
    {
      respond(msg: Uint8Array): Uint8Array | undefined {
        let request: InstanceType<typeof Packet>;
        try {
          request = Packet.parse(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength));
        } catch {
          return undefined;
        }
        if (request.header.qr) return undefined;
        const out = zone.answer(request).toBuffer();
        return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      },
    },
    pino({ level: 'silent' }),
  );
  const [endpoint] = await server.listen([at]);
  return { endpoint: endpoint as DnsEndpoint, close: () => server.close() };
}
