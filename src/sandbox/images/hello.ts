// demo-hello: an HTTP server (port $PORT, default 8080). `GET /` answers
// "hello from <pod-name>" (or "<namespace>/<pod-name>" when
// HELLO_SHOW_NAMESPACE is "true"); `GET /headers` answers the request
// headers as JSON; `GET /greeting` answers the file $HELLO_GREETING_FILE
// (default /etc/hello/greeting, the demo's ConfigMap volume) as read now;
// `GET /healthz` answers "ok".
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { type DemoContext, envPort, type RunningDemo } from './program.ts';

/** startHello starts the demo-hello server. */
export async function startHello(ctx: DemoContext): Promise<RunningDemo> {
  const name = ctx.env.POD_NAME ?? 'unknown';
  const who = ctx.env.HELLO_SHOW_NAMESPACE === 'true' ? `${ctx.env.POD_NAMESPACE ?? 'default'}/${name}` : name;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${who}\n`);
    } else if (path === '/greeting') {
      readFile(ctx.env.HELLO_GREETING_FILE ?? '/etc/hello/greeting', 'utf8').then(
        (g) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${g}\n`),
        (err: NodeJS.ErrnoException) => res.writeHead(404, { 'content-type': 'text/plain' }).end(`${err.code}\n`),
      );
    } else if (path === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(req.headers)}\n`);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = envPort(ctx.env, 'PORT', 8080);
  await listen(server, port);
  console.log(`hello: listening on :${port}`);
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** listen binds a server on all addresses, rejecting on EADDRINUSE and the like. */
export function listen(
  server: {
    listen(port: number, cb: () => void): unknown;
    once(ev: 'error', cb: (e: Error) => void): unknown;
    off(ev: 'error', cb: (e: Error) => void): unknown;
  },
  port: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
