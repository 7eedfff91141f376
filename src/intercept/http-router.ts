// Per-request routing for personal intercepts. Connections that start like
// an HTTP/1.x request line are parsed by Node's own HTTP server (llhttp,
// the parser Node itself relies on: keep-alive, pipelining answered in
// order, chunked and fixed-length bodies, Expect: 100-continue, Upgrade),
// and each request is forwarded to the target its headers pick — the
// owner's laptop or the original endpoints. Anything else is carried as
// raw bytes to the original endpoints. A malformed request gets Node's
// 400 Bad Request and that connection alone is closed (RFC 9112 §2.2).
import {
  Agent,
  type ClientRequestArgs,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Opener connects to one target (the laptop through the gateway, or the original endpoints). */
export type Opener = () => Promise<Duplex>;

/**
 * Target is where requests go: connections to the same key are pooled and
 * reused (keep-alive). When `open` fails and there is a `fallback`, the
 * request goes there instead, over a connection used for that request only.
 */
export interface Target {
  key: string;
  open: Opener;
  fallback?: Opener;
}

/** HttpRouterOptions choose targets. */
export interface HttpRouterOptions {
  /** pick returns where a request goes, from its head (method, url, headers). */
  pick(req: IncomingMessage): Target;
  /** raw is where a non-HTTP connection goes. */
  raw: Opener;
  /** sniffMs: how long to wait for a client's first bytes before treating the connection as not HTTP (server-speaks-first protocols). */
  sniffMs?: number;
  /** onError is told about failed upstream opens (for logs and counters). */
  onError?: (err: Error) => void;
  /** onRequest sees each parsed request before it is forwarded (mirrors copy it; it must not consume the body). */
  onRequest?: (req: IncomingMessage) => void;
  /** onRaw sees each connection carried as raw bytes before they flow (mirrors copy them). */
  onRaw?: (sock: Socket) => void;
}

// RFC 9110 §7.6.1 hop-by-hop fields, plus those Node's client sets itself.
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

// A Duplex that is not a net.Socket (a tunnel channel) lacks the socket
// methods Node's Agent calls on pooled connections; they are no-ops here.
// Like an HTTP client socket (allowHalfOpen false), a pooled connection the
// target has ended is closed, so the Agent drops it instead of reusing it.
/** socketLike gives a Duplex the socket methods Node's HTTP Agent calls. */
export function socketLike(d: Duplex): Duplex {
  const s = d as Duplex & Record<string, unknown>;
  for (const m of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref'])
    if (typeof s[m] !== 'function') s[m] = () => d;
  d.once('end', () => d.end());
  return d;
}

// Connections opened by a target's fallback serve one request and are closed.
const singleUse = new WeakSet<Duplex>();

// PooledAgent keeps idle upstream connections of one target for reuse.
class PooledAgent extends Agent {
  readonly #target: Target;

  constructor(target: Target) {
    super({ keepAlive: true, maxFreeSockets: 32, timeout: 60_000 });
    this.#target = target;
    // After the Agent pooled a freed connection, a single-use one is closed (and so leaves the pool).
    this.on('free', (socket: Duplex) => {
      if (singleUse.has(socket)) socket.destroy();
    });
  }

  override createConnection(
    _o: ClientRequestArgs,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const { open, fallback } = this.#target;
    open()
      .catch((err: Error) => {
        if (!fallback) throw err;
        return fallback().then((d) => {
          singleUse.add(d);
          return d;
        });
      })
      .then(
        (s) => cb?.(null, socketLike(s)),
        (err: Error) => cb?.(err, undefined as unknown as Duplex),
      );
    return undefined;
  }
}

/** looksLikeHttp says whether the first bytes of a connection start an HTTP/1.x request line (a method token and a space). */
export function looksLikeHttp(head: Buffer): boolean | undefined {
  const n = Math.min(head.length, 24);
  for (let i = 0; i < n; i++) {
    const c = head[i] as number;
    if (c === 0x20) return i > 0;
    // tchar per RFC 9110 §5.6.2, upper-case letters only in practice for methods
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)) return false;
  }
  return n < 24 ? undefined : false; // undefined: need more bytes
}

/** pipeBoth joins two streams; the end of one half-closes the other, an error destroys both. */
export function pipeBoth(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => {
    if (!b.writableEnded) b.destroy();
  });
  b.on('close', () => {
    if (!a.writableEnded) a.destroy();
  });
}

/** forwardHeaders copies a message's headers without the hop-by-hop ones (RFC 9110 §7.6.1). */
export function forwardHeaders(raw: string[]): OutgoingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i] as string;
    const v = raw[i + 1] as string;
    const lk = k.toLowerCase();
    if (HOP.has(lk)) continue;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

function rawHead(req: IncomingMessage): string {
  let s = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) s += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return `${s}\r\n`;
}

/** HttpRouter takes accepted connections and routes them per request. */
export class HttpRouter {
  readonly #o: HttpRouterOptions;
  readonly #server = createServer({ requireHostHeader: false, keepAliveTimeout: 60_000, headersTimeout: 30_000 });
  readonly #agents = new Map<string, PooledAgent>();

  constructor(opts: HttpRouterOptions) {
    this.#o = opts;
    this.#server.on('request', (req, res) => this.#forward(req, res, false));
    this.#server.on('checkContinue', (req, res) => this.#forward(req, res, true));
    this.#server.on('upgrade', (req: IncomingMessage, sock: Duplex, head: Buffer) => this.#upgrade(req, sock, head));
  }

  /** handle sniffs a connection's first bytes and serves it as HTTP or carries it raw. */
  handle(sock: Socket): void {
    let head = Buffer.alloc(0);
    let decided = false;
    const decide = (http: boolean) => {
      if (decided) return;
      decided = true;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.pause();
      if (head.length > 0) sock.unshift(head);
      if (http) {
        this.#server.emit('connection', sock);
        sock.resume();
      } else this.#raw(sock);
    };
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const verdict = looksLikeHttp(head);
      if (verdict !== undefined) decide(verdict);
    };
    const timer = setTimeout(() => decide(false), this.#o.sniffMs ?? 1000);
    sock.on('data', onData);
    sock.once('end', () => decide(false));
    sock.once('error', () => {
      clearTimeout(timer);
      sock.destroy();
    });
  }

  #raw(sock: Socket): void {
    this.#o.onRaw?.(sock);
    this.#o.raw().then(
      (up) => pipeBoth(sock, up),
      (err: Error) => {
        this.#o.onError?.(err);
        sock.destroy();
      },
    );
  }

  #agent(t: Target): PooledAgent {
    let a = this.#agents.get(t.key);
    if (!a) {
      a = new PooledAgent(t);
      this.#agents.set(t.key, a);
    }
    return a;
  }

  #forward(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    this.#o.onRequest?.(req);
    const out = httpRequest({
      method: req.method,
      path: req.url,
      headers: { ...forwardHeaders(req.rawHeaders), ...(req.headers.host ? { host: req.headers.host } : {}) },
      setHost: false,
      agent: this.#agent(this.#o.pick(req)),
    });
    if (expectContinue) out.on('continue', () => res.writeContinue());
    out.on('response', (up) => {
      const headers = forwardHeaders(up.rawHeaders);
      res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    out.on('error', (err) => {
      this.#o.onError?.(err);
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
        res.end(`devnet intercept: the upstream failed: ${err.message}\n`);
      } else res.destroy();
    });
    req.on('error', () => out.destroy());
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  }

  #upgrade(req: IncomingMessage, sock: Duplex, head: Buffer): void {
    sock.pause(); // Node leaves no 'data' listener after an upgrade: hold bytes until the target is open
    const t = this.#o.pick(req);
    t.open()
      .catch((err: Error) => {
        if (!t.fallback) throw err;
        return t.fallback();
      })
      .then(
        (up) => {
          up.write(rawHead(req));
          if (head.length > 0) up.write(head);
          pipeBoth(sock, up);
        },
        (err: Error) => {
          this.#o.onError?.(err);
          sock.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        },
      );
  }

  /** close stops serving (open connections end with their clients). */
  close(): void {
    for (const a of this.#agents.values()) a.destroy();
    this.#server.close();
    this.#server.closeAllConnections();
  }
}
