// The control transport between devnet's CLI, its user daemon and its root
// helper: JSON lines over a unix socket. Access control is the socket file's
// owner and mode (0600, owned by the invoking user), so only that user and
// root can talk to it.
//
//   request   {"id":N,"method":"connect","params":{...}}
//   progress  {"id":N,"progress":"installing the gateway"}     (zero or more)
//   result    {"id":N,"result":...}  or  {"id":N,"error":{"category","message","hint"?}}
//
// Every message is checked where it is received (docs/security.md): a server
// parses each request's params with its method's schema before any handler
// sees them, and a client parses each result with the schema of the method it
// called. A request that does not fit its schema gets a `user` error naming
// the field; it never reaches the handler. Errors keep their category across
// the socket (DevnetError.toJSON/fromJSON). A peer that sends a line over
// MAX_LINE bytes or anything that is not a request object gets one error line
// and is disconnected; the server keeps serving everyone else.
import { chmod, chown, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { asDevnetError, DevnetError } from '../errors.ts';

/** MAX_LINE bounds one control message. */
export const MAX_LINE = 1 << 20;

/** Method is one control method: the schema of its params and of its result. */
export interface Method<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  params: P;
  result: R;
}

/** Protocol is a set of methods by name (src/control/helper-protocol.ts, daemon-protocol.ts). */
export type Protocol = Record<string, Method>;

/** ParamsOf is what a caller passes to method K (before parsing). */
export type ParamsOf<P extends Protocol, K extends keyof P> = z.input<P[K]['params']>;
/** ResultOf is what a caller gets back from method K (after parsing). */
export type ResultOf<P extends Protocol, K extends keyof P> = z.output<P[K]['result']>;

/** Handlers answer every method of a protocol with parsed params; progress() streams status lines to the caller. */
export type Handlers<P extends Protocol> = {
  [K in keyof P]: (
    params: z.output<P[K]['params']>,
    progress: (message: string) => void,
    peer: Socket,
  ) => Promise<z.input<P[K]['result']>>;
};

/** ControlServerOptions say where to listen and who may connect. */
export interface ControlServerOptions {
  path: string;
  /** ownerUid/ownerGid: chown the socket so that user (and root) can connect. */
  ownerUid?: number;
  ownerGid?: number;
  logger: Logger;
  /** onDisconnect is told when a client connection closes (the helper watches its daemon this way). */
  onDisconnect?: (peer: Socket) => void;
}

/** describeIssues renders a schema failure as one line naming each bad field, e.g. `routes.0.dst: ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** lineReader feeds complete lines from a stream to onLine; it reports an over-long line once. */
export function lineReader(onLine: (line: string) => void, onTooLong: () => void): (chunk: Buffer) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onLine(line);
      nl = buf.indexOf('\n');
    }
    if (buf.length > MAX_LINE) {
      buf = '';
      onTooLong();
    }
  };
}

function send(sock: Socket, msg: unknown): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(msg)}\n`);
}

/** serveControl listens on a unix socket and dispatches each request, its params parsed, to its handler. */
export async function serveControl<P extends Protocol>(
  protocol: P,
  handlers: Handlers<P>,
  opts: ControlServerOptions,
): Promise<Server> {
  await rm(opts.path, { force: true });
  const server = createServer((sock) => {
    const protocolError = (message: string) => {
      send(sock, { id: null, error: new DevnetError('user', message).toJSON() });
      sock.end();
      opts.logger.warn({ reason: message }, 'control client sent bad input; disconnected');
    };
    sock.on(
      'data',
      lineReader(
        (line) => {
          let req: { id?: unknown; method?: unknown; params?: unknown };
          try {
            req = JSON.parse(line);
          } catch {
            return protocolError('control message is not JSON');
          }
          if (typeof req !== 'object' || req === null || typeof req.method !== 'string' || !Number.isInteger(req.id)) {
            return protocolError('control message needs an integer "id" and a string "method"');
          }
          const { id, method } = req as { id: number; method: string };
          const spec = Object.hasOwn(protocol, method) ? protocol[method] : undefined;
          const handler = spec ? (handlers[method] as Handlers<Protocol>[string]) : undefined;
          if (!spec || !handler) {
            send(sock, { id, error: new DevnetError('user', `unknown control method "${method}"`).toJSON() });
            return;
          }
          const parsed = spec.params.safeParse(req.params ?? null);
          if (!parsed.success) {
            const message = `${method} refused: ${describeIssues(parsed.error)}`;
            opts.logger.warn({ method, reason: message }, 'control request does not fit its schema');
            send(sock, { id, error: new DevnetError('user', message).toJSON() });
            return;
          }
          handler(parsed.data, (message) => send(sock, { id, progress: message }), sock).then(
            (result) => send(sock, { id, result: result ?? null }),
            (err) => send(sock, { id, error: asDevnetError(err).toJSON() }),
          );
        },
        () => protocolError(`control message longer than ${MAX_LINE} bytes`),
      ),
    );
    sock.on('error', () => undefined);
    sock.on('close', () => opts.onDisconnect?.(sock));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.path, () => resolve());
  });
  await chmod(opts.path, 0o600);
  if (opts.ownerUid !== undefined) await chown(opts.path, opts.ownerUid, opts.ownerGid ?? opts.ownerUid);
  return server;
}

/** ConnectTarget is where a client connects: a path, or a descriptor path (/proc/self/fd/N) for a socket already checked (owned-files.linux.ts). */
export interface ConnectTarget {
  /** path names the socket in messages. */
  path: string;
  /** via is what is actually connected to, when it differs from path. */
  via?: string;
  /** release is called once the connection is made or failed (closes a descriptor behind `via`). */
  release?: () => void;
}

/** ControlClient is one connection to a control socket speaking protocol P; calls may overlap. */
export class ControlClient<P extends Protocol> {
  readonly #sock: Socket;
  readonly #protocol: P;
  #next = 1;
  readonly #pending = new Map<
    number,
    { method: string; resolve(v: unknown): void; reject(e: Error): void; progress?: (m: string) => void }
  >();
  #closedError: Error | undefined;

  private constructor(sock: Socket, protocol: P) {
    this.#sock = sock;
    this.#protocol = protocol;
    sock.on(
      'data',
      lineReader(
        (line) => this.#onLine(line),
        () => this.#fail(new DevnetError('internal', 'control peer sent an over-long line')),
      ),
    );
    sock.on('error', (err) => this.#fail(err));
    sock.on('close', () => this.#fail(new DevnetError('internal', 'the devnet daemon closed the connection')));
  }

  /** connect opens a client; a missing or dead socket is a DevnetError whose message is notRunning. */
  static connect<P extends Protocol>(
    protocol: P,
    target: string | ConnectTarget,
    notRunning: string,
    hint?: string,
  ): Promise<ControlClient<P>> {
    const t = typeof target === 'string' ? { path: target } : target;
    return new Promise((resolve, reject) => {
      const sock = createConnection(t.via ?? t.path);
      sock.once('connect', () => {
        t.release?.();
        resolve(new ControlClient(sock, protocol));
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        t.release?.();
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
          reject(new DevnetError('user', notRunning, hint ? { hint } : {}));
        else if (err.code === 'EACCES') {
          reject(
            new DevnetError('user', `no permission to talk to devnet at ${t.path}`, {
              hint: 'Run as the user who connected, or with sudo.',
            }),
          );
        } else reject(err);
      });
    });
  }

  /** call sends one request and resolves to its result, parsed with the method's schema; progress lines go to onProgress. */
  call<K extends keyof P & string>(
    method: K,
    params: ParamsOf<P, K>,
    onProgress?: (m: string) => void,
  ): Promise<ResultOf<P, K>> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = this.#next++;
    return new Promise<ResultOf<P, K>>((resolve, reject) => {
      this.#pending.set(id, {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(onProgress ? { progress: onProgress } : {}),
      });
      send(this.#sock, { id, method, params: params ?? null });
    });
  }

  /** socket is the underlying connection (its close tells that the peer went away). */
  get socket(): Socket {
    return this.#sock;
  }

  close(): void {
    this.#sock.end();
  }

  #onLine(line: string): void {
    let msg: { id?: unknown; progress?: unknown; result?: unknown; error?: unknown };
    try {
      msg = JSON.parse(line);
    } catch {
      this.#fail(new DevnetError('internal', 'control peer sent something that is not JSON'));
      return;
    }
    if (typeof msg !== 'object' || msg === null) {
      this.#fail(new DevnetError('internal', 'control peer sent something that is not a message'));
      return;
    }
    if (msg.id === null && msg.error) {
      this.#fail(DevnetError.fromJSON(msg.error));
      return;
    }
    const p = typeof msg.id === 'number' ? this.#pending.get(msg.id) : undefined;
    if (!p) return;
    if (typeof msg.progress === 'string') {
      p.progress?.(msg.progress.slice(0, 1000));
      return;
    }
    this.#pending.delete(msg.id as number);
    if (msg.error !== undefined) {
      p.reject(DevnetError.fromJSON(msg.error));
      return;
    }
    const parsed = (this.#protocol[p.method] as Method).result.safeParse(msg.result);
    if (parsed.success) p.resolve(parsed.data);
    else
      p.reject(
        new DevnetError(
          'internal',
          `the answer to ${p.method} does not fit its schema: ${describeIssues(parsed.error)}`,
        ),
      );
  }

  #fail(err: Error): void {
    this.#closedError ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#sock.destroy();
  }
}
