// The `kubernetes` Service's data path: pods reach the API server at
// https://10.96.0.1:443 (kubernetes.default.svc, in its certificate) like
// in a real cluster. A listener opened in the node namespace (where the
// service range is local) hands every connection to the API server on the
// host's loopback; TLS passes through untouched.
import { connect, type Server, type Socket } from 'node:net';

/** relayToApiServer relays each connection accepted by server to host:port; it returns a function that stops it. */
export function relayToApiServer(server: Server, host: string, port: number): () => void {
  const open = new Set<Socket>();
  server.on('connection', (client: Socket) => {
    const upstream = connect({ host, port });
    open.add(client);
    client.on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return () => {
    for (const s of open) s.destroy();
    server.close();
  };
}
