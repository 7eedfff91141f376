// A fake "internet" DNS server (dns2's own UDP+TCP server, a different
// implementation from devnet's) answering fixed A records and NXDOMAIN for
// everything else. It stands in for the laptop's real upstream, so tests
// never send a query to the machine's DNS server.
import dns2, { Packet } from 'dns2';
import type { DnsEndpoint } from '../../src/dns/forwarder.ts';

/** FakeUpstream is a running fake upstream server and the names it was asked. */
export interface FakeUpstream {
  endpoint: DnsEndpoint;
  asked: string[];
  close(): Promise<void>;
}

/** serveUpstream answers `records` (name → IPv4) at an endpoint over UDP and TCP. */
export async function serveUpstream(records: Record<string, string>, at: DnsEndpoint): Promise<FakeUpstream> {
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
  const addrs = await server.listen({
    udp: { port: at.port, address: at.address },
    tcp: { port: at.port, address: at.address },
  });
  const port = (addrs as { udp: { port: number } }).udp.port;
  if (at.port === 0) {
    // dns2 binds UDP and TCP independently: with port 0 they differ, so
    // re-listen TCP on the UDP port.
    await server.close();
    return serveUpstream(records, { address: at.address, port });
  }
  return { endpoint: { address: at.address, port }, asked, close: async () => void (await server.close()) };
}
