// Mirror intercepts (`--mirror`): the Service's pods keep answering every
// request, and the owner's laptop gets a copy — each HTTP/1.1 request on its
// own (method, target, headers, body), or for anything else the bytes the
// client sent. The laptop's answers are read and discarded. A copy never
// slows the real exchange: the client's stream is never paused for it, each
// copy may hold at most `maxBufferedBytes` not yet taken by the tunnel and
// at most `maxInFlight` copies run at once; a copy over either bound, or
// whose laptop side cannot be opened, is dropped and counted.
import { Agent, type ClientRequestArgs, createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { forwardHeaders, looksLikeHttp, type Opener, socketLike } from './http-router.ts';

/** MirrorStats are one mirror's counters, shown by `devnet list`. */
export interface MirrorStats {
  /** copied: requests (HTTP) or connections (other protocols) handed to the laptop whole. */
  copied: number;
  /** dropped: copies given up (laptop unreachable, too slow, or too many at once). */
  dropped: number;
  lastError: string;
}

/** MirrorLimits bound what one mirror may hold. */
export interface MirrorLimits {
  maxBufferedBytes: number;
  maxInFlight: number;
}

/** DEFAULT_MIRROR_LIMITS: 1 MiB per copy, 32 copies at once. */
export const DEFAULT_MIRROR_LIMITS: MirrorLimits = { maxBufferedBytes: 1 << 20, maxInFlight: 32 };

// A keep-alive pool of connections to the laptop (through the tunnel).
class LaptopAgent extends Agent {
  readonly #open: Opener;
  constructor(open: Opener) {
    super({ keepAlive: true, maxFreeSockets: 8, timeout: 30_000 });
    this.#open = open;
  }
  override createConnection(
    _o: ClientRequestArgs,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    this.#open().then(
      (s) => cb?.(null, socketLike(s)),
      (err: Error) => cb?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** Mirror sends copies of one Service port's traffic to one owner's laptop. */
export class Mirror {
  readonly stats: MirrorStats = { copied: 0, dropped: 0, lastError: '' };
  readonly #open: Opener;
  readonly #limits: MirrorLimits;
  readonly #agent: LaptopAgent;
  #inFlight = 0;

  constructor(open: Opener, limits: MirrorLimits = DEFAULT_MIRROR_LIMITS) {
    this.#open = open;
    this.#limits = limits;
    this.#agent = new LaptopAgent(open);
  }

  #drop(why: string): void {
    this.stats.dropped++;
    this.stats.lastError = why;
  }

  #take(): boolean {
    if (this.#inFlight >= this.#limits.maxInFlight) {
      this.#drop(`more than ${this.#limits.maxInFlight} copies at once`);
      return false;
    }
    this.#inFlight++;
    return true;
  }

  /** copyRequest sends a copy of one HTTP request (its body as it arrives) to the laptop. */
  copyRequest(req: IncomingMessage): void {
    if (!this.#take()) return;
    let done = false;
    const finish = (why?: string) => {
      if (done) return;
      done = true;
      this.#inFlight--;
      if (why === undefined) this.stats.copied++;
      else this.#drop(why);
    };
    const out = httpRequest({
      method: req.method,
      path: req.url,
      headers: { ...forwardHeaders(req.rawHeaders), ...(req.headers.host ? { host: req.headers.host } : {}) },
      setHost: false,
      agent: this.#agent,
    });
    out.on('response', (res) => {
      res.resume(); // the laptop's answer is discarded
      res.on('end', () => finish());
      res.on('error', () => finish('the laptop’s answer broke off'));
    });
    out.on('error', (err) => finish(`the laptop: ${err.message}`));
    const onData = (chunk: Buffer) => {
      if (done) return;
      if (out.writableLength > this.#limits.maxBufferedBytes) {
        finish(`the laptop takes the copy slower than the client sends (${this.#limits.maxBufferedBytes} bytes held)`);
        out.destroy();
        return;
      }
      out.write(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (!done) out.end();
    });
    req.once('close', () => {
      if (!req.complete && !done) {
        finish('the client broke off the request');
        out.destroy();
      }
    });
  }

  /**
   * copyConnection copies a connection that goes straight to the pods (a port
   * with mirrors only, so nothing waits for routing): its bytes are read
   * alongside, parsed on the side when they start like HTTP — each request
   * copied on its own — and copied raw otherwise.
   */
  copyConnection(sock: Socket): void {
    let head = Buffer.alloc(0);
    const flowing = sock.readableFlowing === true;
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const verdict = looksLikeHttp(head);
      if (verdict === undefined) return;
      sock.off('data', onData);
      if (verdict) this.#parseAside(sock, head);
      else this.copyStream(sock, head);
    };
    sock.on('data', onData);
    if (!flowing) sock.pause();
  }

  // The client's bytes, from `head` on, go through an HTTP parser of their own whose answers go nowhere.
  #parseAside(sock: Socket, head: Buffer): void {
    const limit = this.#limits.maxBufferedBytes;
    const copy = socketLike(
      new Duplex({
        read() {},
        write(_chunk, _enc, cb) {
          cb(); // the parser's own answers are discarded
        },
      }),
    );
    const feed = (d: Buffer) => {
      if (copy.destroyed) return;
      if (copy.readableLength > limit) {
        this.#drop('the copied requests pile up faster than they are parsed');
        copy.destroy();
        return;
      }
      copy.push(d);
    };
    sock.on('data', feed);
    sock.once('end', () => copy.push(null));
    sock.once('close', () => copy.destroy());
    copy.on('error', () => undefined);
    feed(head);
    this.#aside.emit('connection', copy);
  }

  readonly #aside = createServer({ requireHostHeader: false }, (req, res) => {
    this.copyRequest(req);
    req.resume();
    req.once('end', () => res.end());
  }).on('clientError', (_err: Error, s: Duplex) => s.destroy());

  /** copyStream sends a copy of the bytes a (non-HTTP) client sends on `sock` (after `head`, already read) to the laptop. */
  copyStream(sock: Socket, head?: Buffer): void {
    if (!this.#take()) return;
    let up: Duplex | undefined;
    let held: Buffer[] = head && head.length > 0 ? [head] : [];
    let heldBytes = head?.length ?? 0;
    let done = false;
    const finish = (why?: string) => {
      if (done) return;
      done = true;
      this.#inFlight--;
      sock.off('data', onData);
      held = [];
      if (why === undefined) this.stats.copied++;
      else {
        this.#drop(why);
        up?.destroy();
      }
    };
    const tooSlow = () => finish(`the laptop takes the copy slower than the client sends`);
    const onData = (chunk: Buffer) => {
      if (!up) {
        heldBytes += chunk.length;
        if (heldBytes > this.#limits.maxBufferedBytes) return tooSlow();
        held.push(chunk);
      } else if (up.writableLength > this.#limits.maxBufferedBytes) tooSlow();
      else up.write(chunk);
    };
    // Listening must not start the flow: whoever pipes the connection to the pods decides when bytes move.
    const flowing = sock.readableFlowing === true;
    sock.on('data', onData);
    if (!flowing) sock.pause();
    sock.once('end', () => {
      if (up && !done) {
        up.end();
        finish();
      }
    });
    sock.once('close', () => {
      if (!up) finish('the client left before the laptop answered');
    });
    this.#open().then(
      (d) => {
        if (done) return void d.destroy();
        up = d;
        d.on('error', () => finish('the laptop closed the copy'));
        d.resume(); // the laptop's answer is discarded
        for (const b of held) d.write(b);
        held = [];
        if (sock.readableEnded) {
          d.end();
          finish();
        }
      },
      (err: Error) => finish(`the laptop: ${err.message}`),
    );
  }

  /** close drops pooled laptop connections. */
  close(): void {
    this.#agent.destroy();
    this.#aside.close();
  }
}
