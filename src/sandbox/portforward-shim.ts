// The pod side of port-forward: a unix socket the API server connects to,
// playing the kubelet/CRI part of `pods/portforward` (k8s-wire-facts.md).
// Unix sockets are named in the file system, so the API server (host
// namespace) reaches a listener opened inside the pod's network namespace.
//
// Protocol, per connection: the client writes ASCII `<port>\n` (1..65535).
// The shim dials 127.0.0.1:<port> from inside the pod and answers `OK\n`,
// then relays bytes both ways, propagating half-close; or answers
// `ERR <message>\n` (Go's wording, e.g. `ERR dial tcp4 127.0.0.1:9: connect:
// connection refused`) and closes. A malformed or missing request line
// (nothing within 10 s, over 8 bytes, not a port) gets `ERR ...` and a close.
import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

const HEADER_TIMEOUT_MS = 10_000;
const MAX_HEADER = 8;

/** dialErrorText renders a dial failure the way the Go kubelet reports it. */
export function dialErrorText(port: number, err: NodeJS.ErrnoException): string {
  const target = `dial tcp4 127.0.0.1:${port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `${target}: connect: connection refused`;
    case 'ETIMEDOUT':
      return `${target}: i/o timeout`;
    case 'ENETUNREACH':
      return `${target}: connect: network is unreachable`;
    default:
      return `${target}: ${err.message}`;
  }
}

/** parsePortLine parses the request line (without its newline); undefined if it is not a port. */
export function parsePortLine(line: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(line)) return undefined;
  const port = Number(line);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** servePortForward listens on a unix socket path and relays each connection to the given port on 127.0.0.1. */
export function servePortForward(path: string): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer({ allowHalfOpen: true }, handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function handle(client: Socket): void {
  let buf = Buffer.alloc(0);
  client.setTimeout(HEADER_TIMEOUT_MS, () => refuse(client, 'timed out waiting for the port line'));
  client.on('error', () => client.destroy());
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const nl = buf.indexOf(0x0a);
    if (nl < 0) {
      if (buf.length > MAX_HEADER) refuse(client, 'malformed port line');
      return;
    }
    client.off('data', onData);
    client.off('end', onEnd);
    client.pause();
    client.setTimeout(0);
    const port = parsePortLine(buf.subarray(0, nl).toString('latin1').replace(/\r$/, ''));
    if (port === undefined) {
      refuse(client, 'malformed port line');
      return;
    }
    const rest = buf.subarray(nl + 1);
    dial(client, port, rest);
  };
  const onEnd = () => refuse(client, 'connection closed before the port line');
  client.on('data', onData);
  client.on('end', onEnd);
}

function dial(client: Socket, port: number, early: Buffer): void {
  const upstream = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  upstream.once('error', (err: NodeJS.ErrnoException) => refuse(client, dialErrorText(port, err)));
  upstream.once('connect', () => {
    upstream.removeAllListeners('error');
    upstream.on('error', () => client.destroy());
    client.removeAllListeners('error');
    client.on('error', () => upstream.destroy());
    upstream.setNoDelay(true);
    client.write('OK\n');
    if (early.length > 0) upstream.write(early);
    client.pipe(upstream);
    upstream.pipe(client);
    // A reset on either side resets the other; orderly FINs travel through pipe().
    client.on('close', (hadError) => hadError && upstream.destroy());
    upstream.on('close', (hadError) => hadError && client.destroy());
    client.resume();
  });
  client.once('close', () => upstream.connecting && upstream.destroy());
}

function refuse(client: Socket, message: string): void {
  if (client.destroyed) return;
  client.end(`ERR ${message}\n`);
  client.destroySoon();
}
