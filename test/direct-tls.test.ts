// The direct transport on the wire (docs/security.md, "an on-path observer of
// the direct transport"): the real gateway process with its direct listener,
// devnet's TLS carrier, and a recording relay in between standing for the
// network. The relay sees only TLS records (never the session token), a
// plaintext client gets no tunnel, and a server without the pinned
// certificate gets no byte of the tunnel. Loopback only.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { tlsCarrier } from '../src/tls/carrier.ts';
import { makeCertificate } from '../src/tls/certificate.ts';
import { connectSession } from '../src/tunnel/index.ts';

const gatewayMain = resolve(import.meta.dirname, '../src/gateway/main.ts');
const TOKEN = 'a-session-token-that-must-never-cross-the-wire-in-clear';
const children: ChildProcess[] = [];
test.after.always(() => {
  for (const c of children) c.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** startGateway runs the gateway process with a direct listener on 127.0.0.1 and returns its port. */
async function startGateway(cert: { certPem: string; keyPem: string }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-tls-'));
  writeFileSync(join(dir, 'tls.crt'), cert.certPem);
  writeFileSync(join(dir, 'tls.key'), cert.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.53\n');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      gatewayMain,
      '--listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
      '--direct-listen',
      `127.0.0.1:${port}`,
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--resolv-conf',
      join(dir, 'resolv.conf'),
    ],
    { env: { ...process.env, DEVNET_GATEWAY_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  await new Promise<void>((res, rej) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (l) => {
      if (l.includes('direct listener ready')) res();
    });
    child.once('exit', (code) => rej(new Error(`gateway exited ${code}`)));
  });
  return port;
}

/** Relay is a TCP relay that records every byte each way (the network an observer taps). */
interface Relay {
  port: number;
  up: Buffer[];
  down: Buffer[];
  server: Server;
}

async function relay(to: number): Promise<Relay> {
  const r: Relay = { port: 0, up: [], down: [], server: createServer() };
  r.server.on('connection', (a) => {
    const b = connect(to, '127.0.0.1');
    a.on('data', (d) => {
      r.up.push(d);
      b.write(d);
    });
    b.on('data', (d) => {
      r.down.push(d);
      a.write(d);
    });
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
  });
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', () => res()));
  r.port = (r.server.address() as AddressInfo).port;
  return r;
}

/** tlsRecords splits a byte stream into TLS records (RFC 8446 §5.1); it throws on anything else. */
function tlsRecords(bytes: Buffer): number[] {
  const types: number[] = [];
  let off = 0;
  while (off < bytes.length) {
    if (off + 5 > bytes.length) throw new Error(`a torn record header at ${off}`);
    const type = bytes[off] as number;
    const version = bytes.readUInt16BE(off + 1);
    const len = bytes.readUInt16BE(off + 3);
    if (![20, 21, 22, 23].includes(type)) throw new Error(`byte ${off}: content type ${type} is not TLS`);
    if (version !== 0x0301 && version !== 0x0303)
      throw new Error(`byte ${off}: record version ${version.toString(16)}`);
    if (len > (1 << 14) + 256) throw new Error(`byte ${off}: record of ${len} bytes`);
    types.push(type);
    off += 5 + len;
  }
  return types;
}

test('a plaintext client on the direct port gets no tunnel: HELLO with the right token is dropped unread', async (t) => {
  const port = await startGateway(makeCertificate('devnet-gateway'));
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const answered: Buffer[] = [];
  sock.on('data', (d) => answered.push(d));
  const closed = new Promise((r) => sock.once('close', r));
  await t.throwsAsync(
    connectSession(sock, {
      token: TOKEN,
      clientId: 'plaintext',
      clientName: 'test',
      limits: { handshakeTimeoutMs: 5000 },
    }),
  );
  await closed;
  // Whatever came back (at most a TLS alert) is TLS, never a WELCOME frame.
  t.notThrows(() => tlsRecords(Buffer.concat(answered)));
});

test('the direct transport carries only TLS records: the token never appears on the wire', async (t) => {
  const cert = makeCertificate('devnet-gateway');
  const r = await relay(await startGateway(cert));
  const carrier = await tlsCarrier({ address: `127.0.0.1:${r.port}`, fingerprint: cert.fingerprint })();
  const s = await connectSession(carrier, { token: TOKEN, clientId: 'laptop', clientName: 'test' });
  t.false(s.closed);
  s.close('test done');
  await new Promise((res) => carrier.once('close', res));
  const up = Buffer.concat(r.up);
  const down = Buffer.concat(r.down);
  t.true(up.length > 0 && down.length > 0);
  t.true(tlsRecords(up).includes(23), 'application data went up');
  t.true(tlsRecords(down).includes(23), 'application data came down');
  t.is(up.indexOf(TOKEN), -1);
  t.is(up.indexOf(Buffer.from(TOKEN).subarray(0, 12)), -1);
  r.server.close();
});

test('a server without the pinned certificate (someone in the middle) is refused before any tunnel byte', async (t) => {
  const pinned = makeCertificate('devnet-gateway');
  const impostor = makeCertificate('devnet-gateway');
  const r = await relay(await startGateway(impostor));
  const err = await t.throwsAsync(tlsCarrier({ address: `127.0.0.1:${r.port}`, fingerprint: pinned.fingerprint })());
  t.regex(err?.message ?? '', /presented certificate [0-9A-F:]+, not the gateway's pinned [0-9A-F:]+/);
  await new Promise((res) => setTimeout(res, 200));
  // Only the handshake went up: no application data record, so no HELLO and no token.
  t.false(tlsRecords(Buffer.concat(r.up)).includes(23));
  t.is(Buffer.concat(r.up).indexOf(TOKEN), -1);
  r.server.close();
});
