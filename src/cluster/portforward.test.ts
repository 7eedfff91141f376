// The port-forward client against a server that behaves like the real
// kubelet/containerd streaming server: it writes the 101 answer, both
// port-prefix messages and the pod's first bytes in one TCP write, so they
// reach the client in one read, before any listener added after 'open' could
// see them (found on a real cluster: the first two bytes of the gateway's
// WELCOME were taken for the port prefix and the handshake failed).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { openPortForward } from './portforward.ts';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** wsFrame encodes one unmasked binary server frame (RFC 6455 §5.2), payloads < 126 bytes. */
function wsFrame(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
}

async function kubeletLikeServer(firstBytes: Buffer): Promise<{ url: string; close: () => void }> {
  const server = createServer();
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${WS_GUID}`).digest('base64');
    const head = Buffer.from(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`,
    );
    const port = Buffer.from([0x6c, 0x20]); // 8300, little-endian
    socket.write(
      Buffer.concat([
        head,
        wsFrame(Buffer.concat([Buffer.from([0]), port])),
        wsFrame(Buffer.concat([Buffer.from([1]), port])),
        wsFrame(Buffer.concat([Buffer.from([0]), firstBytes])),
        Buffer.from([0x88, 0x02, 0x03, 0xe8]), // close 1000: the forwarded connection ended
      ]),
    );
    socket.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

test('the first bytes from the pod survive when they arrive with the upgrade answer', async (t) => {
  const hello = Buffer.from('WELCOME from the gateway');
  const srv = await kubeletLikeServer(hello);
  t.teardown(srv.close);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: srv.url, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const stream = await openPortForward(kc, { namespace: 'devnet', pod: 'gw', port: 8300, timeoutMs: 5000 });
  const got = await new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
  t.is(got.toString(), hello.toString());
});
