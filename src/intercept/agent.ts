// The intercept pod (`node src/gateway/main.ts intercept`, the gateway image
// in intercept mode). It listens on the intercepted Service's target ports
// and, per connection (global intercept) or per HTTP request (personal
// intercepts), sends traffic up one tunnel session to the gateway, which
// joins it to the owner's laptop; everything else goes to the original
// endpoints through the original-endpoints Service. It also judges the
// leases (ARCHITECTURE decision 13): every second it reads the Service; an
// intercept whose `renewed` value has not changed for LEASE_TTL_MS (by this
// pod's clock) no longer takes traffic — its connections go to the original
// endpoints, so a crashed laptop breaks nothing — and takes it again if its
// owner renews. The pod writes nothing to the cluster (its Role only reads
// its Service, docs/security.md "a compromised pod"): the Service is restored
// and the pod removed with a devnet user's own credentials — the owner's at
// `leave`/`quit` or their next `connect` on that machine, anyone's who may
// edit the Service once a lease lapsed (they ask this pod, POST /leases:
// lapse.ts), or `devnet gateway uninstall`. Each laptop connection names the owner's key as recorded on
// the Service, so the gateway hands it only to the owner's session. Mirror
// intercepts get copies (mirror.ts); personal and mirror intercepts fall
// back to the original endpoints while their laptop is unreachable. When
// the pod mounts the target's PersistentVolumeClaims (read-only, below
// VOLUMES_DIR) it serves them over SFTP to owners who present the token.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { isNotFound } from '../cluster/kube.ts';
import { channelDuplex, connectSession, type Session, StreamChannel } from '../tunnel/index.ts';
import { VERSION } from '../version.ts';
import { HttpRouter, type Opener, pipeBoth } from './http-router.ts';
import type { LeaseReport } from './lapse.ts';
import { INTERCEPT_HEALTH_PORT, INTERCEPT_SFTP_PORT, VOLUMES_DIR } from './manifests.ts';
import { Mirror, type MirrorStats } from './mirror.ts';
import {
  type Entry,
  entries,
  interceptId,
  isIntercepted,
  LeaseClock,
  type LeaseView,
  matches,
  modeOf,
  serviceKey,
} from './model.ts';
import { acceptSftp } from './sftp-auth.ts';

/** AgentConfig is the intercept pod's configuration (from its environment). */
export interface AgentConfig {
  namespace: string;
  service: string;
  pod: string;
  original: string;
  /** ports: targetPort → servicePort. */
  ports: Map<number, number>;
  gateway: { host: string; port: number };
  token: string;
  /** sftpToken is what owners present to read the mounted volumes (model.sftpToken); empty: no volumes. */
  sftpToken: string;
}

/** parseAgentConfig reads the DEVNET_INTERCEPT_* variables manifests.ts sets. */
export function parseAgentConfig(env: Record<string, string | undefined>): AgentConfig {
  const need = (k: string): string => {
    const v = env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const ports = new Map<number, number>();
  for (const p of need('DEVNET_INTERCEPT_PORTS').split(',')) {
    const [t, s] = p.split(':').map(Number);
    if (!Number.isInteger(t) || !Number.isInteger(s)) throw new Error(`bad DEVNET_INTERCEPT_PORTS entry "${p}"`);
    ports.set(t as number, s as number);
  }
  const gw = /^(.+):(\d+)$/.exec(need('DEVNET_INTERCEPT_GATEWAY'));
  if (!gw) throw new Error('DEVNET_INTERCEPT_GATEWAY is not HOST:PORT');
  return {
    namespace: need('DEVNET_INTERCEPT_NAMESPACE'),
    service: need('DEVNET_INTERCEPT_SERVICE'),
    pod: need('DEVNET_INTERCEPT_POD'),
    original: need('DEVNET_INTERCEPT_ORIGINAL'),
    ports,
    gateway: { host: gw[1] as string, port: Number(gw[2]) },
    token: need('DEVNET_INTERCEPT_TOKEN'),
    sftpToken: env.DEVNET_INTERCEPT_SFTP_TOKEN ?? '',
  };
}

/** LAPTOP_DOWN_MS: after a failed open toward a laptop, its personal requests go to the pods for this long. */
const LAPTOP_DOWN_MS = 2000;

/** InterceptStats are one intercept's counters as the pod sees them (GET /stats). */
export interface InterceptStats extends MirrorStats {
  name: string;
  /** fallbacks: requests sent to the pods because the laptop side was down (personal intercepts). */
  fallbacks: number;
}

/** InterceptAgent runs one intercepted Service's pod. */
export class InterceptAgent {
  readonly #c: AgentConfig;
  readonly #log: Logger;
  readonly #core: CoreV1Api;
  readonly #leases = new LeaseClock();
  readonly #now: () => number;
  /** #views: the leases as last observed, and when (this pod's clock; -1: never). */
  #views: LeaseView[] = [];
  #observedAt = -1;
  readonly #servers: Server[] = [];
  #volumeServer: Server | undefined;
  #routers = new Map<number, HttpRouter>();
  #entries: Entry[] = [];
  /** #mirrors: one per mirror intercept and port, by `<name>/<session>/<target port>`. */
  readonly #mirrors = new Map<string, Mirror>();
  /** #down: when an intercept's laptop last failed to answer, by `<name>/<session>`. */
  readonly #down = new Map<string, number>();
  readonly #fallbacks = new Map<string, number>();
  #session: Session | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #ticking: Promise<void> | undefined;

  constructor(cfg: AgentConfig, core: CoreV1Api, log: Logger, now: () => number = Date.now) {
    this.#c = cfg;
    this.#core = core;
    this.#log = log;
    this.#now = now;
  }

  /** ready: listening on every port and connected to the gateway. */
  get ready(): boolean {
    return this.#servers.length === this.#c.ports.size && this.#session !== undefined && !this.#session.closed;
  }

  /** start listens on the target ports, connects to the gateway and starts the lease loop. */
  async start(): Promise<void> {
    for (const [target, servicePort] of this.#c.ports) {
      const router = new HttpRouter({
        pick: (req) => {
          const e = this.#entries.find(
            (x) =>
              modeOf(x) === 'personal' &&
              x.ports.some((p) => p.targetPort === target) &&
              matches(x.headers, (name) => req.headersDistinct[name]),
          );
          if (!e) return { key: 'original', open: this.#toOriginal(servicePort) };
          const key = `${e.name}/${e.session}`;
          // A laptop that just failed is not asked again at once: its requests go to the pods meanwhile.
          if (Date.now() - (this.#down.get(key) ?? 0) < LAPTOP_DOWN_MS) {
            this.#fallbacks.set(key, (this.#fallbacks.get(key) ?? 0) + 1);
            return { key: 'original', open: this.#toOriginal(servicePort) };
          }
          const fallback = this.#toOriginal(servicePort);
          return {
            key: `laptop/${key}`,
            open: this.#toLaptop(e, target, req.socket),
            fallback: () => {
              this.#fallbacks.set(key, (this.#fallbacks.get(key) ?? 0) + 1);
              return fallback();
            },
          };
        },
        raw: this.#toOriginal(servicePort),
        onError: (err) => this.#log.debug({ err: err.message }, 'upstream failed'),
        onRequest: (req) => {
          for (const m of this.#mirrorsOf(target)) m.copyRequest(req);
        },
        onRaw: (sock) => {
          for (const m of this.#mirrorsOf(target)) m.copyStream(sock);
        },
      });
      this.#routers.set(target, router);
      const server = createServer({ noDelay: true, allowHalfOpen: true }, (sock) =>
        this.#accept(sock, target, servicePort),
      );
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen({ host: '0.0.0.0', port: target }, () => res());
      });
      this.#servers.push(server);
    }
    if (this.#c.sftpToken) await this.#serveVolumes();
    this.#connect();
    await this.sync();
    this.#timer = setInterval(() => void this.sync(), 1000);
  }

  // The mounted PersistentVolumeClaims, read-only over SFTP, for owners presenting the token (sftp-auth.ts).
  async #serveVolumes(): Promise<void> {
    const server = createServer({ noDelay: true }, (sock) =>
      acceptSftp(sock, { token: this.#c.sftpToken, root: VOLUMES_DIR, log: this.#log }),
    );
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen({ host: '0.0.0.0', port: INTERCEPT_SFTP_PORT }, () => res());
    });
    this.#volumeServer = server;
  }

  /** stats returns each intercept's counters (mirror copies and drops, fallbacks to the pods). */
  stats(): InterceptStats[] {
    return this.#entries.map((e) => {
      const key = `${e.name}/${e.session}`;
      const out: InterceptStats = { name: e.name, copied: 0, dropped: 0, lastError: '', fallbacks: 0 };
      out.fallbacks = this.#fallbacks.get(key) ?? 0;
      for (const [k, m] of this.#mirrors)
        if (k.startsWith(`${key}/`)) {
          out.copied += m.stats.copied;
          out.dropped += m.stats.dropped;
          out.lastError ||= m.stats.lastError;
        }
      return out;
    });
  }

  // The mirrors of a target port, made when first needed (one keep-alive pool toward each laptop).
  #mirrorsOf(target: number): Mirror[] {
    const out: Mirror[] = [];
    for (const e of this.#entries) {
      if (modeOf(e) !== 'mirror' || !e.ports.some((p) => p.targetPort === target)) continue;
      const key = `${e.name}/${e.session}/${target}`;
      let m = this.#mirrors.get(key);
      if (!m) {
        m = new Mirror(this.#toLaptop(e, target, {}));
        this.#mirrors.set(key, m);
      }
      out.push(m);
    }
    return out;
  }

  /** sync re-reads the Service now (concurrent calls share one read) and returns the intercepts it knows. */
  async sync(): Promise<{ name: string; renewed: string }[]> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = undefined;
    });
    await this.#ticking;
    return this.#entries.map((e) => ({ name: e.name, renewed: e.renewed }));
  }

  /**
   * leases re-reads the Service now and reports every intercept recorded on
   * it with how long its lease value has stood still by this pod's clock
   * (what the pod routes by); it fails when the Service cannot be read.
   */
  async leases(): Promise<LeaseReport> {
    const asked = this.#now();
    await this.sync();
    if (this.#observedAt < asked) throw new Error('the Service could not be read');
    return { leases: this.#views.map(({ name, renewed, unchangedMs }) => ({ name, renewed, unchangedMs })) };
  }

  #accept(sock: Socket, target: number, servicePort: number): void {
    sock.on('error', () => undefined);
    const mine = this.#entries.filter((e) => e.ports.some((p) => p.targetPort === target));
    const global = mine.find((e) => modeOf(e) === 'global');
    if (global) {
      this.#toLaptop(global, target, sock)().then(
        (up) => pipeBoth(sock, up),
        (err: Error) => {
          this.#log.info({ err: err.message, intercept: global.name }, 'laptop unreachable; connection reset');
          sock.resetAndDestroy();
        },
      );
    } else if (mine.some((e) => modeOf(e) === 'personal')) this.#routers.get(target)?.handle(sock);
    else if (mine.length > 0) {
      // Mirrors only: nothing to route, so the connection goes to the pods at once and is copied alongside.
      for (const m of this.#mirrorsOf(target)) m.copyConnection(sock);
      this.#toOriginal(servicePort)().then(
        (up) => pipeBoth(sock, up),
        () => sock.resetAndDestroy(),
      );
    } else
      this.#toOriginal(servicePort)().then(
        (up) => pipeBoth(sock, up),
        () => sock.resetAndDestroy(),
      );
  }

  #toLaptop(e: Entry, target: number, from: { remoteAddress?: string; remotePort?: number }): Opener {
    return async () => {
      const s = this.#session;
      if (!s || s.closed) throw new Error('not connected to the gateway');
      const port = e.ports.find((p) => p.targetPort === target)?.local as number;
      const r = await s.open({
        protocol: 'tcp',
        host: '127.0.0.1',
        port,
        interceptId: interceptId(this.#c.namespace, this.#c.service, e.name),
        ownerKey: e.key,
        sourceHost: from.remoteAddress ?? '',
        sourcePort: from.remotePort ?? 0,
      });
      if (!r.ok) {
        this.#down.set(`${e.name}/${e.session}`, Date.now());
        throw new Error(`${r.reason}: ${r.message}`);
      }
      if (!(r.channel instanceof StreamChannel)) throw new Error('not a stream channel');
      return channelDuplex(r.channel);
    };
  }

  #toOriginal(servicePort: number): Opener {
    const host = `${this.#c.original}.${this.#c.namespace}.svc`;
    return () =>
      new Promise<Duplex>((resolve, reject) => {
        const s = tcpConnect({ host, port: servicePort, noDelay: true, allowHalfOpen: true });
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
  }

  #connect(): void {
    if (this.#closing) return;
    const sock = tcpConnect({ host: this.#c.gateway.host, port: this.#c.gateway.port, noDelay: true });
    const retry = () => {
      if (!this.#closing) setTimeout(() => this.#connect(), 1000).unref();
    };
    sock.once('error', (err) => {
      this.#log.warn({ err: err.message }, 'cannot reach the gateway; retrying');
      retry();
    });
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      sock.on('error', () => undefined);
      connectSession(sock, {
        token: this.#c.token,
        clientId: serviceKey(this.#c.namespace, this.#c.service),
        clientName: `devnet-intercept/${VERSION} ${this.#c.namespace}/${this.#c.service}`,
      }).then(
        (s) => {
          this.#session = s;
          this.#log.info('connected to the gateway');
          s.on('open', (ch) => ch.reject('forbidden', 'intercept pods accept no channels'));
          s.on('close', (end) => {
            if (this.#session === s) this.#session = undefined;
            this.#log.warn({ reason: end.reason, message: end.message }, 'gateway session ended; reconnecting');
            retry();
          });
        },
        (err: Error) => {
          this.#log.warn({ err: err.message }, 'gateway refused the session; retrying');
          sock.destroy();
          retry();
        },
      );
    });
  }

  // One pass of the lease loop: read the Service and route by the intercepts
  // whose leases are alive; nothing is written.
  async #tick(): Promise<void> {
    if (this.#closing) return;
    let svc: V1Service;
    try {
      svc = await this.#core.readNamespacedService({ name: this.#c.service, namespace: this.#c.namespace });
    } catch (err) {
      if (isNotFound(err)) {
        this.#entries = [];
        this.#views = [];
        this.#observedAt = this.#now();
      } else this.#log.warn({ err: String(err) }, 'reading the Service failed');
      return;
    }
    const now = this.#now();
    this.#views = this.#leases.observe(svc, now);
    this.#observedAt = now;
    const expired = new Set(this.#views.filter((v) => v.lapsed).map((v) => v.name));
    const live = isIntercepted(svc)
      ? [...entries(svc).values()].filter((e): e is Entry => e !== undefined && !expired.has(e.name))
      : [];
    const lapsed = this.#entries.filter((e) => expired.has(e.name)).map((e) => e.name);
    if (lapsed.length > 0) this.#log.info({ lapsed }, 'leases ran out; their connections go to the original endpoints');
    this.#entries = live;
    for (const [k, m] of this.#mirrors)
      if (!this.#entries.some((e) => k.startsWith(`${e.name}/${e.session}/`))) {
        m.close();
        this.#mirrors.delete(k);
      }
  }

  /** close stops listening and leaves the gateway. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#timer);
    for (const s of this.#servers) s.close();
    this.#volumeServer?.close();
    for (const r of this.#routers.values()) r.close();
    for (const m of this.#mirrors.values()) m.close();
    this.#session?.close('intercept pod stopping');
  }
}

/** main runs the intercept pod. */
export async function main(): Promise<void> {
  const log = pino({
    level: process.env.DEVNET_GATEWAY_LOG_LEVEL ?? 'info',
    base: { component: 'intercept', version: VERSION },
  });
  const cfg = parseAgentConfig(process.env);
  const kc = new KubeConfig();
  kc.loadFromCluster();
  const agent = new InterceptAgent(
    cfg,
    kc.makeApiClient(CoreV1Api),
    log.child({ service: `${cfg.namespace}/${cfg.service}` }),
  );
  const health = createHttpServer((req, res) => {
    // POST /sync: the owner asks the pod to pick up a change to the Service at once (one read at a time).
    if (req.url === '/sync' && req.method === 'POST')
      agent.sync().then(
        (known) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(known)),
        () => res.writeHead(500).end(),
      );
    // POST /leases: how long each lease stood still by this pod's clock, for a user judging a lapse (lapse.ts).
    else if (req.url === '/leases' && req.method === 'POST')
      agent.leases().then(
        (report) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report)),
        () => res.writeHead(503).end(),
      );
    else if (req.url === '/stats' && req.method === 'GET')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(agent.stats()));
    else if (req.url === '/readyz') res.writeHead(agent.ready ? 200 : 503).end(agent.ready ? 'ready\n' : 'not ready\n');
    else if (req.url === '/healthz') res.writeHead(200).end('ok\n');
    else res.writeHead(404).end();
  });
  health.listen(INTERCEPT_HEALTH_PORT, '0.0.0.0');
  await agent.start();
  const stop = () => {
    agent.close();
    health.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
