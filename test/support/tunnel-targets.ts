// Real servers for the gateway tests, run inside a test network namespace:
//   node test/support/tunnel-targets.ts ADDR
// TCP ADDR:7000 answers the sha256 (hex) of everything it received once the
// client half-closes; TCP ADDR:7001 reads a decimal byte count and a newline,
// then sends that many pattern bytes (byte i = (i * 31 + 7) & 255) and closes;
// UDP ADDR:7002 echoes datagrams; DNS ADDR:53 (UDP and TCP) serves
// web.ns1.svc.cluster.local A 10.96.0.20 and many.ns1.svc.cluster.local with
// 60 A records (too big for UDP: truncated, so resolvers retry over TCP);
// every other name is NXDOMAIN. Prints "ready" when all listen.
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import dns2 from 'dns2';
import { pattern } from './tunnel-pattern.ts';

const addr = process.argv[2] ?? '127.0.0.1';

const sink = createServer({ allowHalfOpen: true }, (s) => {
  const h = createHash('sha256');
  s.on('data', (d) => h.update(d));
  s.on('end', () => s.end(h.digest('hex')));
  s.on('error', () => s.destroy());
});
const source = createServer({ allowHalfOpen: true }, (s) => {
  let line = '';
  s.on('data', (d) => {
    if (line.includes('\n')) return;
    line += d.toString();
    if (!line.includes('\n')) return;
    let left = Number(line.trim());
    let off = 0;
    const chunk = 256 * 1024;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(chunk, left);
        const ok = s.write(pattern(off, n));
        off += n;
        left -= n;
        if (!ok) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  s.on('error', () => s.destroy());
});
const udp = createSocket('udp4');
udp.on('message', (msg, r) => udp.send(msg, r.port, r.address));

const { Packet } = dns2;
const dns = dns2.createServer({
  udp: true,
  tcp: true,
  handle: (request, send) => {
    const name = (request.questions[0]?.name ?? '').toLowerCase();
    const response = Packet.createResponseFromRequest(request);
    type Answer = (typeof response.answers)[number];
    const a = (address: string): Answer =>
      ({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 30, address }) as unknown as Answer;
    if (name === 'web.ns1.svc.cluster.local') {
      response.answers.push(a('10.96.0.20'));
    } else if (name === 'many.ns1.svc.cluster.local') {
      for (let i = 1; i <= 60; i++) response.answers.push(a(`10.97.0.${i}`));
    } else {
      response.header.rcode = 3;
    }
    send(response);
  },
});

await Promise.all([
  new Promise<void>((r) => sink.listen(7000, addr, r)),
  new Promise<void>((r) => source.listen(7001, addr, r)),
  new Promise<void>((r) => udp.bind(7002, addr, r)),
  dns.listen({ udp: { port: 53, address: addr }, tcp: { port: 53, address: addr } }),
]);
process.stdout.write('ready\n');
process.stdin.on('end', () => process.exit(0)); // the test ends us by closing stdin
process.stdin.resume();
