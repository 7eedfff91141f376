// A fake "internet" DNS server (dns2's own UDP+TCP server, a different
// implementation from devnet's) answering fixed A records and NXDOMAIN for
// everything else. It stands in for the laptop's real upstream, so tests
// never send a query to the machine's DNS server.
import { createSocket } from 'node:dgram';
import dns2, { Packet } from 'dns2';
import type { DnsEndpoint } from '../../src/dns/forwarder.ts';

/** FakeUpstream is a running fake upstream server and the names it was asked. */
export interface FakeUpstream {
  endpoint: DnsEndpoint;
  asked: string[];
  close(): Promise<void>;
}

/** serveUpstream answers `records` (name → IPv4) at an endpoint over UDP and TCP. */
export async function serveUpstream(
  records: Record<string, string>,
  at: DnsEndpoint,
  attempt = 0,
): Promise<FakeUpstream> {
  const asked: string[] = [];
  const server = dns2.createServer({
    udp: true,
    tcp: true,
    handle(request, send) {
      const response = Packet.createResponseFromRequest(request);
      response.header.ra = 1;
      const q = request.questions[0];
      const name = q?.name.toLowerCase() ?? '';
      asked.push(name);
      const ip = records[name];
      if (q && ip && q.type === Packet.TYPE.A)
        response.answers.push({ name: q.name, type: Packet.TYPE.A, class: 1, ttl: 60, address: ip } as never);
      else if (!ip) response.header.rcode = Packet.RCODE.NXDOMAIN;
      send(response);
    },
  });
  // dns2 binds UDP and TCP separately: with port 0, pick a port free for
  // UDP and use it for both, trying again on a clash with someone's TCP.
  const port = at.port === 0 ? await freeUdpPort(at.address) : at.port;
  const failed = new Promise<Error>((resolve) => server.once('error', resolve));
  const result = await Promise.race([
    server.listen({ udp: { port, address: at.address }, tcp: { port, address: at.address } }),
    failed,
  ]);
  if (!(result instanceof Error))
    return { endpoint: { address: at.address, port }, asked, close: async () => void (await server.close()) };
  for (const s of Object.values((server as unknown as { servers: Record<string, { close(): void }> }).servers))
    s.close();
  if (at.port !== 0 || attempt >= 5) throw result;
  return serveUpstream(records, at, attempt + 1);
}

function freeUdpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, address, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
