// The control protocol between devnet's CLI, its user daemon and its root
// helper: JSON lines over a unix socket. Access control is the socket file's
// owner and mode (0600, owned by the invoking user), so only that user and
// root can talk to it.
//
//   request   {"id":N,"method":"connect","params":{...}}
//   progress  {"id":N,"progress":"installing the gateway"}     (zero or more)
//   result    {"id":N,"result":...}  or  {"id":N,"error":{"category","message","hint"?}}
//
// Errors keep their category across the socket (DevnetError.toJSON/fromJSON).
// A peer that sends a line over MAX_LINE bytes or anything that is not a
// request object gets one error line and is disconnected; the server keeps
// serving everyone else.
import { chmod, chown, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { asDevnetError, DevnetError } from '../errors.ts';

/** MAX_LINE bounds one control message. */
export const MAX_LINE = 1 << 20;

/** ControlHandler answers one method; progress() streams status lines to the caller. */
export type ControlHandler = (params: unknown, progress: (message: string) => void, peer: Socket) => Promise<unknown>;

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

/** splitLines feeds complete lines from a stream to onLine; it reports an over-long line once. */
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

/** serveControl listens on a unix socket and dispatches requests to handlers. */
export async function serveControl(
  handlers: Record<string, ControlHandler>,
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
          const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined;
          if (!handler) {
            send(sock, { id, error: new DevnetError('user', `unknown control method "${method}"`).toJSON() });
            return;
          }
          handler(req.params, (message) => send(sock, { id, progress: message }), sock).then(
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

/** ControlClient is one connection to a control socket; calls may overlap. */
export class ControlClient {
  readonly #sock: Socket;
  #next = 1;
  readonly #pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; progress?: (m: string) => void }
  >();
  #closedError: Error | undefined;

  private constructor(sock: Socket) {
    this.#sock = sock;
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
  static connect(path: string, notRunning: string, hint?: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      sock.once('connect', () => resolve(new ControlClient(sock)));
      sock.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
          reject(new DevnetError('user', notRunning, hint ? { hint } : {}));
        else if (err.code === 'EACCES') {
          reject(
            new DevnetError('user', `no permission to talk to devnet at ${path}`, {
              hint: 'Run as the user who connected, or with sudo.',
            }),
          );
        } else reject(err);
      });
    });
  }

  /** call sends one request and resolves to its result; progress lines go to onProgress. */
  call<T = unknown>(method: string, params?: unknown, onProgress?: (m: string) => void): Promise<T> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
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
    if (msg.id === null && msg.error) {
      this.#fail(DevnetError.fromJSON(msg.error));
      return;
    }
    const p = typeof msg.id === 'number' ? this.#pending.get(msg.id) : undefined;
    if (!p) return;
    if (typeof msg.progress === 'string') {
      p.progress?.(msg.progress);
      return;
    }
    this.#pending.delete(msg.id as number);
    if (msg.error !== undefined) p.reject(DevnetError.fromJSON(msg.error));
    else p.resolve(msg.result);
  }

  #fail(err: Error): void {
    this.#closedError ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#sock.destroy();
  }
}
