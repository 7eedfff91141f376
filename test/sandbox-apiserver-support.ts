// Helpers for the sandbox API server's tests: a server in a temporary
// state directory, client-node configs for its users, Status parsing, and a
// real port-forward shim (a unix-socket relay to a loopback port speaking
// the runtime's `<port>\n` → `OK\n` | `ERR msg\n` protocol).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { type ApiServer, startApiServer } from '../src/sandbox/apiserver/index.ts';
import { shimSocketPath } from '../src/sandbox/apiserver/portforward.ts';

/** NAMESPACE_DELAY_MS is how long deleted namespaces stay Terminating in tests: long enough for a request to see the state on a loaded machine. */
export const NAMESPACE_DELAY_MS = 3000;

/** TestCluster is a running server plus its directories. */
export interface TestCluster {
  server: ApiServer;
  stateDir: string;
  runDir: string;
  root: string;
  kc(user?: 'admin' | 'dev' | 'nobody'): KubeConfig;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** startTestCluster starts an API server on a free loopback port in a fresh temporary directory. */
export async function startTestCluster(opts: { root?: string; port?: number } = {}): Promise<TestCluster> {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'devnet-apiserver-'));
  const stateDir = join(root, 'state');
  const runDir = join(root, 'run');
  mkdirSync(runDir, { recursive: true });
  let server = await startApiServer({
    stateDir,
    runDir,
    port: opts.port ?? 0,
    namespaceFinalizeDelayMs: NAMESPACE_DELAY_MS,
  });
  const cluster: TestCluster = {
    get server() {
      return server;
    },
    stateDir,
    runDir,
    root,
    kc(user = 'admin') {
      const kc = new KubeConfig();
      const token = user === 'admin' ? server.tokens.admin : user === 'dev' ? server.tokens.dev : 'not-a-valid-token';
      kc.loadFromOptions({
        clusters: [
          { name: 'devnet-sandbox', server: server.url, caData: Buffer.from(server.caCertPem).toString('base64') },
        ],
        users: [{ name: user, token }],
        contexts: [{ name: 'ctx', cluster: 'devnet-sandbox', user }],
        currentContext: 'ctx',
      });
      return kc;
    },
    async restart() {
      const port = Number(new URL(server.url).port);
      await server.close();
      server = await startApiServer({ stateDir, runDir, port, namespaceFinalizeDelayMs: NAMESPACE_DELAY_MS });
    },
    async close() {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** StatusBody is the parsed Status of a failed call. */
export interface StatusBody {
  code: number;
  reason: string;
  message: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason: string; message: string; field: string }[];
  };
}

/** statusOf awaits a call that must fail and returns its parsed Status. */
export async function statusOf(p: Promise<unknown>): Promise<StatusBody> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) {
      // client-node keeps the raw Status text, except for codes its generated
      // code documents (such as 401), where the body is dropped.
      const body = typeof err.body === 'string' && err.body !== '' ? JSON.parse(err.body) : err.body;
      return (body ?? { code: err.code, reason: '', message: '' }) as StatusBody;
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** TestShim is a port-forward shim for one pod. */
export interface TestShim {
  path: string;
  /** connections counts accepted shim connections. */
  connections: number;
  close(): Promise<void>;
}

/** startTestShim listens on the pod's portforward.sock and relays to 127.0.0.1:<port> like the runtime's shim. */
export async function startTestShim(runDir: string, namespace: string, pod: string): Promise<TestShim> {
  const path = shimSocketPath(runDir, namespace, pod);
  mkdirSync(dirname(path), { recursive: true });
  const sockets = new Set<Socket>();
  const shim: TestShim = { path, connections: 0, close: async () => {} };
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    shim.connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) return;
      client.off('data', onData);
      client.pause();
      const port = Number(buf.subarray(0, nl).toString());
      const rest = buf.subarray(nl + 1);
      const upstream = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'ECONNREFUSED' ? `dial tcp4 127.0.0.1:${port}: connect: connection refused` : err.message;
        client.end(`ERR ${why}\n`);
      });
      upstream.once('connect', () => {
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.write('OK\n');
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    client.on('data', onData);
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  shim.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return shim;
}

/** cleanupDir removes a test directory. */
export function cleanupDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
