// DnsForwarder against small raw UDP servers on loopback that misbehave on purpose.
import { createSocket, type Socket } from 'node:dgram';
import test from 'ava';
import { DnsForwarder } from './forwarder.ts';
import { encodeQuery } from './message.ts';

/** udpServer answers each query with reply(query), or not at all when it returns undefined. */
async function udpServer(reply: (q: Buffer) => Buffer[] | undefined): Promise<{ port: number; sock: Socket }> {
  const sock = createSocket('udp4');
  sock.on('message', (m, r) => {
    for (const out of reply(m) ?? []) sock.send(out, r.port, r.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, sock };
}

const asResponse = (q: Buffer, flags = 0x80): Buffer => {
  const r = Buffer.from(q);
  r[2] = (r[2] as number) | flags;
  return r;
};

test('forged or stale answers (wrong ID, wrong question) are ignored; the right one is returned with the caller’s ID', async (t) => {
  const s = await udpServer((q) => {
    const wrongId = asResponse(q);
    wrongId.writeUInt16BE((q.readUInt16BE(0) + 1) & 0xffff, 0);
    const wrongName = Buffer.from(encodeQuery(q.readUInt16BE(0), 'evil.example', 1, 1));
    wrongName[2] = (wrongName[2] as number) | 0x80;
    return [wrongId, wrongName, asResponse(q)];
  });
  t.teardown(() => s.sock.close());
  const f = new DnsForwarder({ servers: [{ address: '127.0.0.1', port: s.port }], timeoutMs: 500 });
  const answer = await f.query(encodeQuery(0xabcd, 'www.example.com', 1, 1));
  t.is((answer[0] << 8) | answer[1], 0xabcd);
  t.is(answer[2] & 0x80, 0x80);
});

test('a silent server times out and the next one answers; when all fail the error names each', async (t) => {
  const silent = await udpServer(() => undefined);
  const good = await udpServer((q) => [asResponse(q)]);
  t.teardown(() => {
    silent.sock.close();
    good.sock.close();
  });
  const f = new DnsForwarder({
    servers: [
      { address: '127.0.0.1', port: silent.port },
      { address: '127.0.0.1', port: good.port },
    ],
    timeoutMs: 200,
  });
  t.truthy(await f.query(encodeQuery(1, 'a.example', 1, 1)));
  const none = new DnsForwarder({ servers: [{ address: '127.0.0.1', port: silent.port }], timeoutMs: 100 });
  await t.throwsAsync(none.query(encodeQuery(1, 'a.example', 1, 1)), { message: /127\.0\.0\.1:\d+: timed out/ });
});

test('a truncated answer from a server without TCP is returned as is (TC set) for the client to handle', async (t) => {
  const s = await udpServer((q) => [asResponse(q, 0x82)]);
  t.teardown(() => s.sock.close());
  const f = new DnsForwarder({ servers: [{ address: '127.0.0.1', port: s.port }], timeoutMs: 300 });
  const answer = await f.query(encodeQuery(5, 'big.example', 1, 1));
  t.is(answer[2] & 0x02, 0x02);
});
