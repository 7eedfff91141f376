import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parsePortLine, servePortForward } from './portforward-shim.ts';

const dir = mkdtempSync(join(tmpdir(), 'devnet-shim-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function talk(path: string, send: string, endAfter = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = '';
    s.on('data', (d) => {
      got += String(d);
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.write(send);
    if (endAfter) s.end();
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

test('the request line must be a port', (t) => {
  t.is(parsePortLine('8080'), 8080);
  t.is(parsePortLine('0'), undefined);
  t.is(parsePortLine('65536'), undefined);
  t.is(parsePortLine('80 '), undefined);
  t.is(parsePortLine(''), undefined);
});

test('relays both ways after OK and propagates half-close', async (t) => {
  const upstream = createServer({ allowHalfOpen: true }, (s) => {
    let body = '';
    s.on('data', (d) => {
      body += String(d);
    });
    s.on('end', () => s.end(`got:${body}`));
  });
  const port = await listen(upstream);
  const shim = await servePortForward(join(dir, 'a.sock'));
  const reply = await talk(join(dir, 'a.sock'), `${port}\nhello`, true);
  t.is(reply, 'OK\ngot:hello');
  shim.close();
  upstream.close();
});

test('a refused dial answers ERR with the kubelet wording and closes', async (t) => {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const shim = await servePortForward(join(dir, 'b.sock'));
  t.is(await talk(join(dir, 'b.sock'), `${port}\n`), `ERR dial tcp4 127.0.0.1:${port}: connect: connection refused\n`);
  shim.close();
});

test('a malformed request line is refused without a crash', async (t) => {
  const shim = await servePortForward(join(dir, 'c.sock'));
  t.regex(await talk(join(dir, 'c.sock'), 'GET / HTTP/1.1\r\n'), /^ERR malformed port line\n$/);
  t.regex(await talk(join(dir, 'c.sock'), 'abc', true), /^ERR connection closed before the port line\n$/);
  shim.close();
});
