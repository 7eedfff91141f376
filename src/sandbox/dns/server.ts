// Cluster DNS: answers queries from the Zone over UDP and TCP (RFC 1035
// §4.2; TCP messages carry a 2-byte length prefix). Malformed queries are
// counted and dropped (or answered FORMERR when the header is readable);
// a TCP peer that sends garbage or stalls is disconnected.
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import dns2 from 'dns2';
import type { Logger } from 'pino';
import { type Answer, type DnsRecord, TTL, type Zone } from './zone.ts';

const { Packet } = dns2;
const TCP_IDLE_MS = 10_000;
/** UDP_MAX is the classic UDP payload limit; larger answers set TC so the client retries over TCP (RFC 1035 §4.2.1). */
const UDP_MAX = 512;

type PacketT = InstanceType<typeof Packet>;

/** DnsCounters counts what the server did, for status and tests. */
export interface DnsCounters {
  queries: number;
  malformed: number;
}

function toResource(r: DnsRecord): Record<string, unknown> {
  const base = { name: r.name, class: Packet.CLASS.IN, ttl: TTL };
  switch (r.type) {
    case 'A':
      return { ...base, type: Packet.TYPE.A, address: r.address };
    case 'AAAA':
      return { ...base, type: Packet.TYPE.AAAA, address: r.address };
    case 'CNAME':
      return { ...base, type: Packet.TYPE.CNAME, domain: r.target };
    case 'PTR':
      return { ...base, type: Packet.TYPE.PTR, domain: r.target };
    case 'SRV':
      return { ...base, type: Packet.TYPE.SRV, priority: r.priority, weight: r.weight, port: r.port, target: r.target };
  }
}

function soa(zone: Zone): Record<string, unknown> {
  return {
    name: zone.domain,
    type: Packet.TYPE.SOA,
    class: Packet.CLASS.IN,
    ttl: TTL,
    primary: `ns.dns.${zone.domain}`,
    admin: `hostmaster.${zone.domain}`,
    serial: 1,
    refresh: 7200,
    retry: 1800,
    expiration: 86400,
    minimum: TTL,
  };
}

const RCODES: Record<Answer['rcode'], number> = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 };

/** answerQuery builds the response bytes for a query, or undefined when the query cannot be parsed at all. */
export function answerQuery(
  query: Buffer,
  zone: Zone,
  counters: DnsCounters,
  maxSize = Number.POSITIVE_INFINITY,
): Buffer | undefined {
  let req: PacketT;
  try {
    req = Packet.parse(query);
  } catch {
    counters.malformed++;
    return formErr(query);
  }
  counters.queries++;
  const res = Packet.createResponseFromRequest(req);
  const q = req.questions[0];
  if (req.header.qr || req.header.opcode !== 0 || req.questions.length !== 1 || !q) {
    res.header.rcode = req.header.opcode !== 0 ? 4 : 1; // NOTIMP for other opcodes, else FORMERR
    return res.toBuffer();
  }
  const qtype = Packet.typeName(q.type);
  const ans = zone.lookup(String(q.name), qtype);
  res.header.rcode = RCODES[ans.rcode];
  res.header.aa = ans.authoritative ? 1 : 0;
  res.header.ra = 0;
  res.answers = ans.answers.map((r) => new Packet.Resource(toResource(r)));
  res.additionals = ans.additionals.map((r) => new Packet.Resource(toResource(r)));
  if (ans.authoritative && ans.answers.length === 0) res.authorities = [new Packet.Resource(soa(zone))];
  let buf = res.toBuffer();
  if (buf.length > maxSize) {
    res.answers = [];
    res.additionals = [];
    res.authorities = [];
    res.header.tc = 1;
    buf = res.toBuffer();
  }
  return buf;
}

function formErr(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  // Echo the ID, set QR and RCODE=FORMERR, no sections (RFC 1035 §4.1.1).
  const out = Buffer.alloc(12);
  query.copy(out, 0, 0, 2);
  out[2] = 0x80 | ((query[2] ?? 0) & 0x78);
  out[3] = 1;
  return out;
}

/** ClusterDns serves a Zone on a bound UDP socket and TCP server (both opened in the node namespace). */
export class ClusterDns {
  zone: Zone;
  readonly counters: DnsCounters = { queries: 0, malformed: 0 };
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #sockets = new Set<Socket>();

  constructor(udp: UdpSocket, tcp: Server, zone: Zone, logger: Logger) {
    this.zone = zone;
    this.#udp = udp;
    this.#tcp = tcp;
    udp.on('message', (msg, rinfo) => {
      const out = answerQuery(msg, this.zone, this.counters, UDP_MAX);
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    udp.on('error', (err) => logger.warn({ err: err.message }, 'dns udp error'));
    tcp.on('connection', (s) => this.#serveTcp(s));
    tcp.on('error', (err) => logger.warn({ err: err.message }, 'dns tcp error'));
  }

  #serveTcp(s: Socket): void {
    this.#sockets.add(s);
    s.on('close', () => this.#sockets.delete(s));
    s.on('error', () => s.destroy());
    s.setTimeout(TCP_IDLE_MS, () => s.destroy());
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const out = answerQuery(msg, this.zone, this.counters);
        if (!out) {
          s.destroy();
          return;
        }
        const len2 = Buffer.alloc(2);
        len2.writeUInt16BE(out.length);
        s.write(Buffer.concat([len2, out]));
      }
    });
  }

  /** close stops serving. */
  close(): void {
    for (const s of this.#sockets) s.destroy();
    this.#udp.close();
    this.#tcp.close();
  }
}
