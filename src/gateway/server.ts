// GatewayServer: accepts tunnel sessions (over TCP listeners or any Duplex),
// checks the token, and serves each OPEN by dialling the real destination,
// each DNS_QUERY through the pod's resolver. Shutdown is GOAWAY, drain, close.
import type { Socket as UdpSocket } from 'node:dgram';
import type { AddressInfo, BlockList, Server, Socket } from 'node:net';
import { createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import {
  type AnyChannel,
  acceptSession,
  DatagramChannel,
  GoAwayCode,
  goAwayName,
  HandshakeError,
  type Session,
  type SessionLimits,
  StreamChannel,
} from '../tunnel/index.ts';
import { VERSION } from '../version.ts';
import { checkDestination, dialTcp, dialTimeout, rejectReasonFor } from './dial.ts';
import { bridgeDatagrams, bridgeStream, openUdp } from './flows.ts';
import { HandshakeGate } from './handshake-gate.ts';
import { bridgeIcmp, type IcmpSupport } from './icmp.ts';
import { InterceptRegistry } from './intercepts.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PodResolver } from './resolver.ts';
import { tokenMatches } from './token.ts';

/** UDP_IDLE_MS is how long a UDP channel may carry nothing before the gateway resets it. */
export const UDP_IDLE_MS = 120_000;

/** GatewayServerOptions configure a gateway. */
export interface GatewayServerOptions {
  token: string;
  logger: Logger;
  metrics: GatewayMetrics;
  resolver: PodResolver | undefined;
  icmp: IcmpSupport;
  /** deny lists destinations no session may reach (e.g. the gateway pod's own loopback). */
  deny: BlockList;
  maxSessions: number;
  /** maxHandshakes bounds the connections per listener still in their handshake (default 64). */
  maxHandshakes?: number;
  sessionLimits?: Partial<SessionLimits>;
  /** udpIdleMs resets UDP channels without traffic for this long. */
  udpIdleMs?: number;
  /** tcpKeepaliveMs is the silence after which destination sockets are probed (default DEFAULT_TCP_KEEPALIVE_MS). */
  tcpKeepaliveMs?: number;
}

/** GatewayTables is a read-only snapshot of a gateway's live tables (for soak and regression tests). */
export interface GatewayTables {
  /** sessions are the established sessions with the ids of their live channels. */
  sessions: { id: string; clientId: string; channels: number[] }[];
  /** sockets counts the live destination sockets the gateway dialled or opened for channels. */
  sockets: { tcp: number; udp: number };
  /** handshakes is the number of connections in their handshake now. */
  handshakes: number;
}

/** GatewayServer is the in-cluster end of devnet tunnels. */
export class GatewayServer {
  /** intercepts holds the laptop sessions' intercept registrations. */
  readonly intercepts = new InterceptRegistry();
  readonly #o: GatewayServerOptions;
  readonly #log: Logger;
  readonly #sessions = new Set<Session>();
  readonly #servers: (Server | TlsServer)[] = [];
  readonly #carriers = new Set<Duplex>();
  /** #sockets are the live destination sockets, TCP and UDP, until they close. */
  readonly #sockets = { tcp: new Set<Socket>(), udp: new Set<UdpSocket>() };
  readonly #counted = new WeakMap<Session, { up: number; down: number }>();
  /** #gates bound handshakes per listener; the first serves carriers handed to serve() directly. */
  readonly #gates: HandshakeGate[];
  #draining = false;

  constructor(opts: GatewayServerOptions) {
    this.#o = opts;
    this.#log = opts.logger;
    if (opts.token.length === 0) throw new Error('the gateway needs a non-empty session token');
    this.#gates = [new HandshakeGate(opts.maxHandshakes)];
  }

  /** collect brings the byte counters up to date from the live sessions (call before a scrape; not per frame). */
  collect(): void {
    for (const s of this.#sessions) this.#countBytes(s, this.#o.metrics.bytes);
  }

  /** ready says whether the gateway accepts new sessions (false while draining). */
  get ready(): boolean {
    return !this.#draining && this.#servers.every((s) => s.listening);
  }

  /** handshakes is the number of connections in their handshake now, over all listeners. */
  get handshakes(): number {
    return this.#gates.reduce((n, g) => n + g.size, 0);
  }

  /** tables returns a read-only snapshot of the live sessions, channels and destination sockets. */
  tables(): GatewayTables {
    return {
      sessions: [...this.#sessions].map((s) => ({
        id: s.id,
        clientId: s.peer.clientId,
        channels: s.tables().channels,
      })),
      sockets: { tcp: this.#sockets.tcp.size, udp: this.#sockets.udp.size },
      handshakes: this.handshakes,
    };
  }

  /** sessionCount is the number of established sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** listen starts a TCP listener for tunnel sessions. */
  listen(host: string, port: number): Promise<AddressInfo> {
    const gate = new HandshakeGate(this.#o.maxHandshakes);
    this.#gates.push(gate);
    const server = createServer({ noDelay: true, allowHalfOpen: false }, (sock: Socket) => {
      sock.on('error', () => undefined); // a peer gone mid-handshake is the session's business, not a crash
      this.serve(sock, `${sock.remoteAddress}:${sock.remotePort}`, gate);
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.#log.error({ err }, 'tunnel listener failed'));
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /**
   * listenTls starts the direct transport's listener: TLS 1.3 only, with the
   * certificate laptops pin (src/tls/carrier.ts). A client that does not
   * complete a TLS 1.3 handshake — a plaintext HELLO included — is dropped
   * before any tunnel byte is read.
   */
  listenTls(host: string, port: number, tls: { cert: string; key: string }): Promise<AddressInfo> {
    const server = createTlsServer(
      { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', handshakeTimeout: 10_000 },
      (sock: TLSSocket) => {
        sock.setNoDelay(true);
        this.serve(sock, `${sock.remoteAddress}:${sock.remotePort} (tls)`);
      },
    );
    server.on('tlsClientError', (err, sock) => {
      this.#o.metrics.sessionsTotal.inc({ result: 'TLS' });
      this.#log.warn(
        { remote: `${sock.remoteAddress}:${sock.remotePort}`, reason: err.message },
        'direct connection refused: no TLS 1.3 handshake',
      );
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.#log.error({ err }, 'direct listener failed'));
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** serve runs one tunnel session over `carrier` (any Duplex); `remote` names the peer in logs. */
  serve(carrier: Duplex, remote: string, gate: HandshakeGate = this.#gates[0] as HandshakeGate): void {
    const m = this.#o.metrics;
    if (!gate.admit(carrier)) {
      m.sessionsTotal.inc({ result: 'LIMIT' });
      this.#log.warn(
        { remote, inHandshake: gate.size },
        'tunnel connection refused: too many connections in their handshake',
      );
      carrier.destroy();
      return;
    }
    this.#carriers.add(carrier);
    carrier.once('close', () => this.#carriers.delete(carrier));
    acceptSession(carrier, {
      gatewayName: `devnet-gateway/${VERSION}`,
      limits: this.#o.sessionLimits,
      logger: this.#log,
      authenticate: (hello) => {
        if (!tokenMatches(this.#o.token, hello.token)) return 'the session token is wrong';
        if (this.#draining) return { code: GoAwayCode.SHUTTING_DOWN, message: 'the gateway is shutting down' };
        if (this.#sessions.size >= this.#o.maxSessions)
          return { code: GoAwayCode.LIMIT, message: `too many sessions (${this.#o.maxSessions})` };
        return undefined;
      },
    }).then(
      (s) => {
        gate.done(carrier);
        this.#run(s, remote);
      },
      (err: unknown) => {
        gate.done(carrier);
        const code = err instanceof HandshakeError ? err.code : GoAwayCode.INTERNAL_ERROR;
        m.sessionsTotal.inc({ result: goAwayName(code) });
        this.#log.warn({ remote, code: goAwayName(code), reason: (err as Error).message }, 'tunnel connection refused');
      },
    );
  }

  #run(s: Session, remote: string): void {
    const m = this.#o.metrics;
    this.#sessions.add(s);
    m.sessions.set(this.#sessions.size);
    m.sessionsTotal.inc({ result: 'ok' });
    const log = this.#log.child({ sessionId: s.id, clientId: s.peer.clientId });
    log.info({ remote, client: s.peer.name, version: s.version }, 'tunnel session started');
    s.dnsHandler = async (q) => {
      const r = this.#o.resolver;
      const a = r
        ? await r.resolve(q)
        : { message: new Uint8Array(0), error: 'unavailable' as const, errorMessage: 'no resolver', resolvedName: '' };
      m.dnsQueries.inc({ result: a.error });
      return a;
    };
    s.interceptHandler = {
      register: (r) => this.intercepts.register(s, r),
      unregister: (id) => this.intercepts.unregister(s, id),
    };
    s.on('open', (ch) => this.#open(s, ch, log));
    s.on('close', (end) => {
      this.#sessions.delete(s);
      this.#countBytes(s, m.bytes);
      m.sessions.set(this.#sessions.size);
      m.sessionEnds.inc({ reason: end.reason });
      log.info({ remote, reason: end.reason, message: end.message, ...s.stats() }, 'tunnel session ended');
    });
  }

  #countBytes(s: Session, bytes: GatewayMetrics['bytes']): void {
    const st = s.stats();
    const prev = this.#counted.get(s) ?? { up: 0, down: 0 };
    bytes.inc({ direction: 'up' }, st.bytesReceived - prev.up);
    bytes.inc({ direction: 'down' }, st.bytesSent - prev.down);
    this.#counted.set(s, { up: st.bytesReceived, down: st.bytesSent });
  }

  #open(s: Session, ch: AnyChannel, log: Logger) {
    const m = this.#o.metrics;
    const req = ch.request;
    const done = (result: string, message = ''): void => {
      m.opens.inc({ protocol: req.protocol, result });
      if (result !== 'ok')
        log.debug({ channel: ch.id, dst: `${req.host}:${req.port}`, result, message }, 'open rejected');
    };
    if (req.interceptId !== '') {
      ch.reject('invalid', 'intercept channels are opened by the gateway, not toward it');
      return done('invalid');
    }
    const bad = checkDestination(req.host, req.port, req.protocol, this.#o.deny);
    if (bad) {
      ch.reject(bad.reason, bad.message);
      return done(bad.reason, bad.message);
    }
    const opened = (): void => {
      m.channels.inc({ protocol: req.protocol });
      ch.once('close', () => m.channels.dec({ protocol: req.protocol }));
      done('ok');
    };
    if (ch instanceof StreamChannel) {
      dialTcp(req.host, req.port, dialTimeout(req.timeoutMs), this.#o.tcpKeepaliveMs).then((r) => {
        if (!r.ok) {
          ch.reject(r.reason, r.message);
          return done(r.reason, r.message);
        }
        if (ch.state !== 'pending' || s.closed) {
          r.socket.destroy(); // the opener gave up meanwhile
          return;
        }
        this.#sockets.tcp.add(r.socket);
        r.socket.once('close', () => this.#sockets.tcp.delete(r.socket));
        ch.accept();
        opened();
        bridgeStream(ch, r.socket);
      });
      return;
    }
    if (!(ch instanceof DatagramChannel)) return;
    if (req.protocol === 'icmp') {
      const icmp = this.#o.icmp;
      if (!icmp.ok) {
        ch.reject('forbidden', icmp.reason);
        return done('forbidden', icmp.reason);
      }
      ch.accept();
      opened();
      bridgeIcmp(ch, icmp.ping);
      return;
    }
    openUdp(req.host, req.port).then((r) => {
      if (!r.ok) {
        ch.reject(rejectReasonFor(r.err.code), r.err.message);
        return done(rejectReasonFor(r.err.code), r.err.message);
      }
      if (ch.state !== 'pending' || s.closed) {
        r.socket.close();
        return;
      }
      this.#sockets.udp.add(r.socket);
      r.socket.once('close', () => this.#sockets.udp.delete(r.socket));
      ch.accept();
      opened();
      bridgeDatagrams(ch, r.socket, this.#o.udpIdleMs ?? UDP_IDLE_MS);
    });
  }

  /** shutdown stops accepting, sends GOAWAY to every session, waits up to drainMs for channels, then closes all. */
  async shutdown(drainMs: number): Promise<void> {
    this.#draining = true;
    this.#log.info({ sessions: this.#sessions.size, drainMs }, 'gateway draining');
    // Stop accepting now; server.close() calls back only once every connection is gone, so it is not awaited here.
    const closed = this.#servers.map((srv) => new Promise<void>((r) => srv.close(() => r())));
    await Promise.all([...this.#sessions].map((s) => s.drain(drainMs, 'the gateway is shutting down')));
    // Each drained session has ended its carrier after its last frames (the
    // final DATA and CLOSEs, then GOAWAY). Destroying it now would drop what
    // is still in its write buffer, and the laptop would reset every flow
    // whose CLOSE was lost (seen in a rollout on a loaded real cluster): let
    // the bytes out, bounded, then destroy what is left.
    await flushed([...this.#carriers], CARRIER_FLUSH_MS);
    for (const c of this.#carriers) c.destroy();
    await Promise.all(closed);
    this.#log.info({}, 'gateway stopped');
  }
}

/** CARRIER_FLUSH_MS bounds how long shutdown waits for ended carriers to write out their last frames. */
export const CARRIER_FLUSH_MS = 5000;

/** flushed resolves once every carrier has closed (its written bytes are out), or after boundMs. */
function flushed(carriers: Duplex[], boundMs: number): Promise<void> {
  const open = carriers.filter((c) => !c.destroyed);
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, boundMs);
    timer.unref();
    let left = open.length;
    for (const c of open)
      c.once('close', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
  });
}
