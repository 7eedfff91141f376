// The gateway's listener for intercept pods. An intercept pod holds one
// tunnel session here (token: model.podToken of the gateway token and its
// `<namespace>.<service>`, presented with that key as its client id) and
// opens one channel per intercepted connection, naming the intercept id, the
// owner's key (as recorded on the Service) and the owner's local port. The
// gateway checks that the id belongs to that Service and the port to the
// owner's registration, opens a channel toward the session that proved that
// key (InterceptRegistry.openToLaptop) and joins the two. The
// listener is routable (pods reach it through the gateway's Service), so it
// serves nothing else: no dials, no DNS.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { podToken } from '../intercept/model.ts';
import {
  type AnyChannel,
  acceptSession,
  channelDuplex,
  type Session,
  type SessionLimits,
  StreamChannel,
} from '../tunnel/index.ts';
import { VERSION } from '../version.ts';
import { HandshakeGate } from './handshake-gate.ts';
import type { InterceptRegistry } from './intercepts.ts';
import { tokenMatches } from './token.ts';

/** InterceptRelayOptions configure the relay. */
export interface InterceptRelayOptions {
  token: string;
  registry: InterceptRegistry;
  logger: Logger;
  /** maxSessions bounds concurrent intercept pod sessions. */
  maxSessions?: number;
  /** maxHandshakes bounds connections still in their handshake (default 64); more are closed at once. */
  maxHandshakes?: number;
  /** sessionLimits override the sessions' limits (e.g. the handshake timeout). */
  sessionLimits?: Partial<SessionLimits>;
}

/** InterceptRelay accepts intercept pods' sessions and joins their channels to the owners' laptops. */
export class InterceptRelay {
  readonly #o: InterceptRelayOptions;
  readonly #sessions = new Set<Session>();
  readonly #gate: HandshakeGate;
  #server: Server | undefined;

  constructor(opts: InterceptRelayOptions) {
    this.#o = opts;
    this.#gate = new HandshakeGate(opts.maxHandshakes);
  }

  /** listen starts the TCP listener. */
  listen(host: string, port: number): Promise<Server> {
    const server = createServer({ noDelay: true }, (sock: Socket) => this.serve(sock));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  /** serve runs one intercept pod session over a connected socket. */
  serve(sock: Socket): void {
    const log = this.#o.logger;
    sock.on('error', () => undefined);
    if (!this.#gate.admit(sock)) {
      log.warn(
        { remote: sock.remoteAddress, inHandshake: this.#gate.size },
        'intercept pod refused: too many connections in their handshake',
      );
      sock.destroy();
      return;
    }
    acceptSession(sock, {
      gatewayName: `devnet-gateway/${VERSION}`,
      logger: log,
      limits: this.#o.sessionLimits,
      authenticate: (hello) => {
        if (!/^[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}$/.test(hello.clientId)) return 'not an intercept pod';
        if (!tokenMatches(podToken(this.#o.token, hello.clientId), hello.token)) return 'the intercept token is wrong';
        if (this.#sessions.size >= (this.#o.maxSessions ?? 1024)) return 'too many intercept pods';
        return undefined;
      },
    }).then(
      (s) => {
        this.#gate.done(sock);
        this.#sessions.add(s);
        s.on('close', () => this.#sessions.delete(s));
        s.on('open', (ch) => this.#open(s, ch));
        log.info({ service: s.peer.clientId, remote: sock.remoteAddress }, 'intercept pod connected');
      },
      (err: Error) => {
        this.#gate.done(sock);
        log.warn({ remote: sock.remoteAddress, reason: err.message }, 'intercept pod refused');
        sock.destroy();
      },
    );
  }

  #open(s: Session, ch: AnyChannel): void {
    const req = ch.request;
    const owner = req.ownerKey ?? '';
    const reg = this.#o.registry.lookup(req.interceptId, owner);
    if (!(ch instanceof StreamChannel)) ch.reject('invalid', 'intercepts carry TCP streams only');
    else if (!req.interceptId.startsWith(`${s.peer.clientId}.`))
      ch.reject('forbidden', 'that intercept belongs to another Service');
    else if (owner === '') ch.reject('invalid', 'an intercept channel must name its owner’s key');
    else if (!reg) ch.reject('unreachable', `the owner of intercept ${req.interceptId} is not connected`);
    else if (!reg.ports.includes(req.port)) ch.reject('forbidden', `port ${req.port} is not intercepted`);
    else this.#relay(s, ch);
  }

  #relay(s: Session, ch: StreamChannel): void {
    const req = ch.request;
    this.#o.registry
      .openToLaptop(req.interceptId, req.ownerKey ?? '', req.port, { host: req.sourceHost, port: req.sourcePort })
      .then((r) => {
        if (!r.ok) return ch.reject(r.reason, r.message);
        if (ch.state !== 'pending' || s.closed || !(r.channel instanceof StreamChannel)) {
          r.channel.reset('cancel', 'the intercept pod gave up');
          return;
        }
        ch.accept();
        joinChannels(ch, r.channel);
      });
  }

  /** close stops the listener and ends every intercept pod session. */
  close(): void {
    this.#server?.close();
    for (const s of this.#sessions) s.close('the gateway is shutting down');
  }
}

/** joinChannels pipes two stream channels into each other: half-close passes through, a reset resets the other. */
export function joinChannels(a: StreamChannel, b: StreamChannel): void {
  const da = channelDuplex(a);
  const db = channelDuplex(b);
  da.pipe(db);
  db.pipe(da);
  da.on('error', (err) => db.destroy(err));
  db.on('error', (err) => da.destroy(err));
}
