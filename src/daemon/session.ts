// ConnectSession wires one `devnet connect`: the gateway, the cluster's
// ranges, the TUN (made by the root helper, handed over as a descriptor), the
// netstack, the tunnel over the API server's port-forward (or a direct TCP
// connection), and DNS. It contains no protocol logic of its own: it composes
// the components and keeps the tunnel up (heartbeat, reconnect with backoff).
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { CoreV1Api, type KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type Cidr, mergeCidrs, parseCidr } from '../cidr.ts';
import { ensureGateway, GATEWAY_TUNNEL_PORT, type GatewayInfo, waitForGateway } from '../cluster/gateway.ts';
import { connectKube, contextNamespace } from '../cluster/kube.ts';
import { openPortForward } from '../cluster/portforward.ts';
import { discoverPodRanges, discoverServiceRanges } from '../cluster/subnets.ts';
import { type ClusterUser, whoAmI } from '../cluster/whoami.ts';
import type { ConnectParams } from '../control/daemon-protocol.ts';
import { DNS_ADDRESS, TUN_ADDRESS } from '../control/helper-protocol.ts';
import { serveDnsStream } from '../dataplane/dns-stream.ts';
import { StackDriver } from '../dataplane/stack-driver.ts';
import { TunnelSessions } from '../dataplane/tunnel-sessions.ts';
import { TunnelUpstream } from '../dataplane/tunnel-upstream.ts';
import type { ExplainContext } from '../dns/explain.ts';
import type { ClusterResolver } from '../dns/forwarder.ts';
import { encodeQuery, QTYPE } from '../dns/message.ts';
import { detectMode, gatherProbes } from '../dns/os/index.ts';
import type { BaseConfig, DnsMode, OSConfig, OSConfigurator } from '../dns/os/types.ts';
import { DnsSession, type DnsStatus } from '../dns/session.ts';
import type { ClusterSnapshot } from '../dns/snapshot.ts';
import { DevnetError } from '../errors.ts';
import { conflictError, planRoutes } from '../helper/routes.ts';
import type { HelperClient } from '../helper/service.ts';
import { tlsCarrier } from '../tls/carrier.ts';
import { loadAddon } from '../tun/addon.ts';
import { NativeTun } from '../tun/native.ts';
import { connectSession, type Session, SessionIdentity } from '../tunnel/index.ts';
import { VERSION } from '../version.ts';
import { readSnapshot } from './cluster-view.ts';

export type { ConnectParams };

/** SessionDeps are passed in by the daemon. */
export interface SessionDeps {
  helper: HelperClient;
  fdSocket: string;
  logger: Logger;
  progress(message: string): void;
}

export { DNS_ADDRESS, TUN_ADDRESS };

const TUN_MTU = 65520;
const RECONNECT_MAX_MS = 5000;
const REFRESH_MS = 10_000;

/** SessionStatus is `devnet status` in data. */
export interface SessionStatus {
  connected: boolean;
  context: string;
  cluster: string;
  namespace: string;
  gateway: { namespace: string; pod: string; version: string; transport: string } | undefined;
  device: string;
  routes: string[];
  serviceRanges: { cidrs: string[]; source: string };
  podRanges: { cidrs: string[]; source: string };
  dns: DnsStatus | undefined;
  tunnel: {
    up: boolean;
    rttMs: number;
    bytesSent: number;
    bytesReceived: number;
    reconnects: number;
    lastError: string;
    since: string;
    /** draining counts the open channels of replaced sessions still finishing (after a gateway rollout). */
    draining: { sessions: number; channels: number };
  };
  flows: { tcp: number; datagram: number; opened: number; rejected: number };
}

// HelperConfigurator is the DNS OSConfigurator as seen from the unprivileged
// daemon: the real configurator runs in the root helper.
class HelperConfigurator implements OSConfigurator {
  readonly mode: DnsMode;
  readonly #helper: HelperClient;
  #split = false;

  constructor(helper: HelperClient, mode: DnsMode) {
    this.#helper = helper;
    this.mode = mode;
  }

  async setDNS(cfg: OSConfig): Promise<void> {
    this.#split = (await this.#helper.call('dnsSet', { config: cfg })).splitDns;
  }

  supportsSplitDNS(): boolean {
    return this.#split;
  }

  getBaseConfig(): Promise<BaseConfig> {
    return this.#helper.call('dnsBaseConfig', { mode: this.mode });
  }

  async close(): Promise<void> {
    await this.#helper.call('dnsClose', null);
  }
}

function receiveFd(path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    loadAddon().receiveFd(path, timeoutMs, (err, fd) => (err ? reject(err) : resolve(fd as number)));
  });
}

/** ConnectSession is one live connection of this machine to one cluster. */
export class ConnectSession {
  readonly #deps: SessionDeps;
  readonly #params: ConnectParams;
  readonly #log: Logger;
  #kc!: KubeConfig;
  #core!: CoreV1Api;
  #namespace = '';
  #gatewayNs = '';
  #gateway: GatewayInfo | undefined;
  #routes: string[] = [];
  #svcRanges = { cidrs: [] as string[], source: '' };
  #podRanges = { cidrs: [] as string[], source: '' };
  #clusterDomain = 'cluster.local';
  #tun: NativeTun | undefined;
  #driver: StackDriver | undefined;
  #upstream: TunnelUpstream | undefined;
  /** #session is the session new flows use; replaced ones drain in #sessions. */
  #session: Session | undefined;
  readonly #sessions = new TunnelSessions();
  #dns: DnsSession | undefined;
  #snapshotSeen: ClusterSnapshot | undefined;
  #reconnects = 0;
  #lastError = '';
  #since = '';
  #closed = false;
  #refreshTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnecting = false;
  readonly #clientId = randomUUID();
  #user: ClusterUser = { name: '', verified: false };
  /** identity is this session's key pair, for every tunnel it opens (src/tunnel/identity.ts). */
  readonly identity = SessionIdentity.generate();

  private constructor(params: ConnectParams, deps: SessionDeps) {
    this.#params = params;
    this.#deps = deps;
    this.#log = deps.logger;
  }

  /** start connects; on failure everything it set up is taken down again. */
  static async start(params: ConnectParams, deps: SessionDeps): Promise<ConnectSession> {
    const s = new ConnectSession(params, deps);
    try {
      await s.#start();
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  async #start(): Promise<void> {
    const p = this.#params;
    const progress = this.#deps.progress;
    this.#kc = (
      await connectKube({
        ...(p.kubeconfig ? { kubeconfig: p.kubeconfig } : {}),
        ...(p.kubeconfigFiles ? { kubeconfigFiles: p.kubeconfigFiles } : {}),
        ...(p.context ? { context: p.context } : {}),
      })
    ).kc;
    this.#core = this.#kc.makeApiClient(CoreV1Api);
    this.#namespace = p.namespace ?? contextNamespace(this.#kc);
    this.#gatewayNs = p.gatewayNamespace ?? 'devnet';

    progress(`checking the gateway in namespace ${this.#gatewayNs}; discovering the cluster’s ranges`);
    const apis = { core: this.#core, networking: this.#kc.makeApiClient(NetworkingV1Api) };
    const [gateway, svc, pods, local, user] = await Promise.all([
      ensureGateway({ kc: this.#kc, core: this.#core, progress }, this.#gatewayNs),
      discoverServiceRanges(apis, this.#namespace),
      discoverPodRanges(apis, this.#namespace),
      this.#deps.helper.call('routes', null),
      whoAmI(this.#kc),
    ]);
    this.#user = user;
    this.#gateway = gateway;
    this.#svcRanges = svc;
    this.#podRanges = pods;
    if (svc.cidrs.length === 0 && pods.cidrs.length === 0 && (p.alsoProxy ?? []).length === 0) {
      throw new DevnetError('cluster', 'could not find any service or pod range in this cluster', {
        hint: 'Give them with --also-proxy CIDR.',
      });
    }
    const tunName = p.tunName ?? 'devnet0';
    const plan = planRoutes({
      cluster: [
        ...svc.cidrs.map((cidr) => ({ cidr, why: 'service range' })),
        ...pods.cidrs.map((cidr) => ({ cidr, why: 'pod range' })),
      ],
      alsoProxy: p.alsoProxy ?? [],
      neverProxy: p.neverProxy ?? [],
      allowConflicts: p.allowConflict ?? [],
      local,
      tunName,
    });
    if (plan.conflicts.length > 0) throw conflictError(plan.conflicts);
    this.#routes = plan.routes;

    progress(`creating ${tunName} and routing ${this.#routes.join(', ')}`);
    const fdPromise = receiveFd(this.#deps.fdSocket, 10_000);
    // If openTun fails, the wait for the descriptor fails later on its own: nobody awaits it then.
    fdPromise.catch(() => undefined);
    // The helper adds the TUN's address and the route to devnet's DNS server itself.
    await this.#deps.helper.call('openTun', {
      name: tunName,
      mtu: TUN_MTU,
      routes: this.#routes.map((dst) => ({ dst })),
      fdSocket: this.#deps.fdSocket,
    });
    const fd = await fdPromise;
    this.#tun = NativeTun.fromFd(fd, tunName, { mtu: TUN_MTU });

    progress('opening the tunnel');
    await this.#connectTunnel();
    await this.#discoverClusterDomain();

    progress('starting DNS');
    this.#upstream = new TunnelUpstream({
      session: () => this.#session,
      dialTimeoutMs: 5000,
      localDatagram: new Map([[`${DNS_ADDRESS}:53`, (m: Uint8Array) => this.#dns?.responder.respond(m, false)]]),
      localStream: new Map([
        [`${DNS_ADDRESS}:53`, (stream) => serveDnsStream(stream, (m) => this.#dns?.responder.respond(m, true))],
      ]),
    });
    const addon = loadAddon();
    this.#driver = new StackDriver(this.#tun, {
      upstream: this.#upstream,
      secret: randomBytes(32),
      mtu: TUN_MTU,
      checksum: addon.checksum,
      verifyChecksums: false,
      onError: (err) => this.#log.error({ err: err.message }, 'TUN device or data path error (the session goes on)'),
      onFault: (flow, err) =>
        this.#log.warn(
          {
            flow: `${flow.protocol} ${flow.src.address}:${flow.src.port} → ${flow.dst.address}:${flow.dst.port}`,
            err: String(err),
          },
          'flow reset after an internal error',
        ),
    });
    await this.#startDns();
    this.#refreshTimer = setInterval(() => {
      this.#refresh().catch((err: Error) => this.#log.warn({ err: err.message }, 'refresh failed'));
    }, REFRESH_MS);
    this.#refreshTimer.unref();
  }

  async #startDns(): Promise<void> {
    const requested = this.#params.dnsMode ?? 'auto';
    const detected = detectMode(requested, await gatherProbes());
    const snapshot = await this.#snapshot();
    this.#dns = await DnsSession.start({
      logger: this.#log.child({ component: 'dns' }),
      snapshot,
      cluster: this.#clusterResolver(),
      served: [{ address: DNS_ADDRESS, port: 53 }],
      configurator: new HelperConfigurator(this.#deps.helper, detected.mode),
      reason: detected.reason,
    });
  }

  #clusterResolver(): ClusterResolver {
    return {
      query: async (message) => {
        const s = this.#session;
        if (!s || s.closed) throw new Error('the tunnel is down');
        const a = await s.dnsQuery(message, { timeoutMs: 3000 });
        if (a.error !== 'ok') throw new Error(`cluster DNS: ${a.error} ${a.errorMessage}`);
        return a.message;
      },
    };
  }

  async #snapshot(): Promise<ClusterSnapshot> {
    this.#snapshotSeen = await readSnapshot(this.#core, {
      clusterDomain: this.#clusterDomain,
      namespace: this.#namespace,
      extraNamespaces: [this.#gatewayNs],
      serviceCIDRs: this.#svcRanges.cidrs,
      podCIDRs: this.#podRanges.cidrs,
    });
    return this.#snapshotSeen;
  }

  /** dnsContext is what `devnet dns test` explains names against. */
  dnsContext(): ExplainContext | undefined {
    const os = this.#dns?.osConfig;
    const mode = this.#dns?.status().mode;
    if (!os || !mode || !this.#snapshotSeen) return undefined;
    return { snapshot: this.#snapshotSeen, mode, os };
  }

  // The cluster domain is read from the gateway pod's own resolver: the name
  // `kubernetes.default.svc` expanded by the pod's search list.
  async #discoverClusterDomain(): Promise<void> {
    const s = this.#session;
    if (!s) return;
    const a = await s.dnsQuery(encodeQuery(1, 'kubernetes.default.svc', QTYPE.A, 1), {
      useSearch: true,
      timeoutMs: 3000,
    });
    const m = /^kubernetes\.default\.svc\.(.+?)\.?$/.exec(a.resolvedName);
    if (a.error === 'ok' && m?.[1]) this.#clusterDomain = m[1];
    else
      this.#log.warn(
        { answer: a.error, name: a.resolvedName },
        'could not discover the cluster domain; using cluster.local',
      );
  }

  async #openCarrier(gw: GatewayInfo): Promise<Duplex> {
    if ((this.#params.transport ?? 'portforward') === 'direct') {
      const address = this.#params.directAddress;
      if (!address) throw new DevnetError('user', '--transport direct needs --direct-address HOST:PORT');
      if (!gw.tlsFingerprint)
        throw new DevnetError('cluster', `the gateway's Secret in namespace ${gw.namespace} has no tls-fingerprint`, {
          hint: 'Run `devnet gateway install` to give the direct listener its certificate.',
        });
      return tlsCarrier({ address, fingerprint: gw.tlsFingerprint })();
    }
    return openPortForward(this.#kc, { namespace: gw.namespace, pod: gw.pod, port: GATEWAY_TUNNEL_PORT });
  }

  async #connectTunnel(): Promise<void> {
    const gw = this.#gateway as GatewayInfo;
    const carrier = await this.#openCarrier(gw);
    const session = await connectSession(carrier, {
      token: gw.token,
      clientId: this.#clientId,
      clientName: `devnet ${VERSION} on ${hostname()}`,
      identity: this.identity,
      logger: this.#log.child({ component: 'tunnel' }),
    });
    this.#session = session;
    this.#sessions.replace(session, 'replaced by a new session');
    this.#since = new Date().toISOString();
    this.onTunnel?.(session);
    session.on('close', (end) => {
      const current = this.#session === session;
      if (current) this.#session = undefined;
      // A session we replaced ourselves needs no new reconnect; how its drain ended is worth a line.
      if (!current && !this.#closed)
        this.#log.info({ session: session.id, reason: end.reason, message: end.message }, 'a replaced session ended');
      if (this.#closed || !current) return;
      this.#lastError = `${end.reason}: ${end.message}`;
      this.#log.warn({ reason: end.reason, message: end.message }, 'tunnel lost; reconnecting');
      this.#dns?.setCluster(undefined);
      this.#scheduleReconnect(0);
    });
    session.on('goaway', (code, message) => {
      if (this.#closed || this.#session !== session) return;
      this.#lastError = `gateway going away (${code}): ${message}`;
      this.#scheduleReconnect(0);
    });
    this.#dns?.setCluster(this.#clusterResolver());
  }

  #scheduleReconnect(attempt: number): void {
    if (this.#closed || this.#reconnectTimer || this.#reconnecting) return;
    const delay = attempt === 0 ? 0 : Math.min(RECONNECT_MAX_MS, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#reconnecting = true;
      this.#reconnect().then(
        () => {
          this.#reconnecting = false;
          this.#reconnects++;
          this.#log.info({ pod: this.#gateway?.pod, reconnects: this.#reconnects }, 'tunnel re-established');
        },
        (err: Error) => {
          this.#reconnecting = false;
          this.#lastError = err.message;
          this.#log.warn({ err: err.message, attempt }, 'reconnect failed');
          this.#scheduleReconnect(attempt + 1);
        },
      );
    }, delay);
  }

  async #reconnect(): Promise<void> {
    if (this.#closed) return;
    // The old session is not closed: its open channels keep flowing while it
    // drains (a gateway rollout sends GOAWAY SHUTTING_DOWN first); new flows
    // wait for the new session.
    this.#session = undefined;
    this.#sessions.replace(undefined, 'the gateway is going away: reconnecting');
    this.#gateway = await waitForGateway(
      { kc: this.#kc, core: this.#core, progress: () => undefined },
      this.#gatewayNs,
      RECONNECT_MAX_MS,
    );
    await this.#connectTunnel();
  }

  async #refresh(): Promise<void> {
    if (this.#closed) return;
    const apis = { core: this.#core, networking: this.#kc.makeApiClient(NetworkingV1Api) };
    const pods = await discoverPodRanges(apis, this.#namespace);
    const known = this.#routes.map((r) => parseCidr(r) as Cidr);
    const fresh = pods.cidrs
      .map((c) => parseCidr(c) as Cidr)
      .filter((c) => !known.some((k) => k.family === c.family && k.first <= c.first && c.last <= k.last));
    if (fresh.length > 0) {
      const local = await this.#deps.helper.call('routes', null);
      const plan = planRoutes({
        cluster: fresh.map((c) => ({ cidr: c.text, why: 'pod range' })),
        alsoProxy: [],
        neverProxy: this.#params.neverProxy ?? [],
        allowConflicts: this.#params.allowConflict ?? [],
        local,
        tunName: this.#tun?.name ?? 'devnet0',
      });
      if (plan.conflicts.length === 0 && plan.routes.length > 0) {
        await this.#deps.helper.call('addRoutes', { routes: plan.routes.map((dst) => ({ dst })) });
        this.#routes = mergeCidrs([...known, ...plan.routes.map((r) => parseCidr(r) as Cidr)]).map((c) => c.text);
        this.#podRanges = {
          cidrs: mergeCidrs([...this.#podRanges.cidrs, ...plan.routes].map((r) => parseCidr(r) as Cidr)).map(
            (c) => c.text,
          ),
          source: pods.source,
        };
        this.#log.info({ routes: plan.routes }, 'new pod ranges routed');
      }
    }
    await this.#dns?.setSnapshot(await this.#snapshot());
  }

  /** status reports the session (see SessionStatus). */
  status(): SessionStatus {
    const s = this.#session;
    const st = s?.stats();
    const cluster = this.#kc?.getCurrentCluster();
    return {
      connected: s !== undefined && !s.closed,
      context: this.#kc?.getCurrentContext() ?? '',
      cluster: cluster?.server ?? '',
      namespace: this.#namespace,
      gateway: this.#gateway
        ? {
            namespace: this.#gateway.namespace,
            pod: this.#gateway.pod,
            version: this.#gateway.version,
            transport: this.#params.transport ?? 'portforward',
          }
        : undefined,
      device: this.#tun?.name ?? '',
      routes: this.#routes,
      serviceRanges: this.#svcRanges,
      podRanges: this.#podRanges,
      dns: this.#dns?.status(),
      tunnel: {
        up: s !== undefined && !s.closed,
        rttMs: st?.rttMs ?? 0,
        bytesSent: st?.bytesSent ?? 0,
        bytesReceived: st?.bytesReceived ?? 0,
        reconnects: this.#reconnects,
        lastError: this.#lastError,
        since: this.#since,
        draining: {
          sessions: this.#sessions.draining.length,
          channels: this.#sessions.draining.reduce((n, d) => n + d.channelCount, 0),
        },
      },
      flows: {
        tcp: this.#driver?.stack.tcpConnections ?? 0,
        datagram: this.#driver?.stack.datagramFlows ?? 0,
        opened: (this.#upstream?.stats.streamsOpened ?? 0) + (this.#upstream?.stats.datagramFlowsOpened ?? 0),
        rejected: this.#upstream?.stats.rejected ?? 0,
      },
    };
  }

  /** onTunnel is told about every new tunnel session (intercepts register on each). */
  onTunnel: ((s: Session) => void) | undefined;

  /** kube is the session's Kubernetes clients. */
  get kube(): { kc: KubeConfig; core: CoreV1Api } {
    return { kc: this.#kc, core: this.#core };
  }

  /** gatewayInfo is the gateway the tunnel goes to. */
  get gatewayInfo(): GatewayInfo | undefined {
    return this.#gateway;
  }

  /** user is who the cluster says the user is (src/cluster/whoami.ts). */
  get user(): ClusterUser {
    return this.#user;
  }

  /** namespace is the connected namespace. */
  get namespace(): string {
    return this.#namespace;
  }

  /** session is the live tunnel session (intercepts register on it). */
  get session(): Session | undefined {
    return this.#session;
  }

  /** close takes everything down: DNS restored first, then flows reset, the tunnel closed and the TUN released. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#refreshTimer) clearInterval(this.#refreshTimer);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    await this.#dns?.close().catch((err: Error) => this.#log.warn({ err: err.message }, 'DNS restore failed'));
    this.#driver?.close();
    this.#sessions.close('devnet quit');
    this.#tun?.close();
  }
}
