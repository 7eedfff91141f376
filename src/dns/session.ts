// DnsSession is the DNS part of a connect session, for the daemon to wire:
// start the server, read the system's servers BEFORE changing anything (they
// become devnet's upstreams for non-cluster names), install the split-DNS
// config through the configurator (which journals first), follow snapshot
// changes, and undo it all on close. The order matters: the server answers
// before the system is pointed at it, and the system is restored before the
// server stops, so no name ever goes unanswered.
import type { Logger } from 'pino';
import { type ClusterResolver, type DnsEndpoint, DnsForwarder } from './forwarder.ts';
import { osConfigFor } from './os/compile.ts';
import type { BaseConfig, DnsMode, OSConfig, OSConfigurator } from './os/types.ts';
import { Responder, type ResponderStats } from './responder.ts';
import { DnsServer } from './server.ts';
import type { ClusterSnapshot } from './snapshot.ts';

/** DnsSessionOptions are what the daemon passes in. */
export interface DnsSessionOptions {
  logger: Logger;
  snapshot: ClusterSnapshot;
  /** cluster is the tunnel's resolver, or undefined until the tunnel is up. */
  cluster?: ClusterResolver;
  /** listen is where devnet's DNS server binds sockets (port 53 for resolv.conf mode). */
  listen?: DnsEndpoint[];
  /**
   * served are endpoints answered without sockets: the daemon routes an
   * address into the TUN and hands its DNS packets to `responder` (so an
   * unprivileged daemon needs no port 53). Used instead of listen.
   */
  served?: DnsEndpoint[];
  configurator: OSConfigurator;
  /** reason is why this mode was chosen (from detectMode), shown by `devnet status`. */
  reason?: string;
  clusterTimeoutMs?: number;
}

/** DnsStatus is the DNS part of `devnet status`. */
export interface DnsStatus {
  mode: DnsMode;
  reason: string;
  servers: DnsEndpoint[];
  upstreams: DnsEndpoint[];
  searchDomains: string[];
  matchDomains: string[];
  clusterReachable: boolean;
  stats: ResponderStats;
}

/** DnsSession is a running DNS integration; see the file comment. */
export class DnsSession {
  readonly #opts: DnsSessionOptions;
  readonly #responder: Responder;
  readonly #server: DnsServer;
  #servers: DnsEndpoint[] = [];
  #base: BaseConfig = { nameservers: [], searchDomains: [] };
  #os: OSConfig | undefined;
  #cluster: ClusterResolver | undefined;

  private constructor(opts: DnsSessionOptions) {
    this.#opts = opts;
    this.#cluster = opts.cluster;
    this.#responder = new Responder({
      logger: opts.logger,
      snapshot: opts.snapshot,
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
      ...(opts.clusterTimeoutMs ? { clusterTimeoutMs: opts.clusterTimeoutMs } : {}),
    });
    this.#server = new DnsServer(this.#responder, opts.logger);
  }

  /** start runs the server and installs the OS config; on failure nothing is left changed. */
  static async start(opts: DnsSessionOptions): Promise<DnsSession> {
    const s = new DnsSession(opts);
    s.#servers = opts.served ?? (await s.#server.listen(opts.listen ?? []));
    try {
      s.#base = await opts.configurator.getBaseConfig();
      if (s.#base.nameservers.length > 0) s.#responder.setUpstream(new DnsForwarder({ servers: s.#base.nameservers }));
      s.#os = osConfigFor(opts.snapshot, s.#servers);
      await opts.configurator.setDNS(s.#os);
    } catch (err) {
      await opts.configurator.close().catch(() => undefined);
      await s.#server.close();
      throw err;
    }
    return s;
  }

  /** setSnapshot follows the cluster: new names resolve at once, and routing domains follow Services. */
  async setSnapshot(snapshot: ClusterSnapshot): Promise<void> {
    this.#responder.setSnapshot(snapshot);
    const next = osConfigFor(snapshot, this.#servers);
    if (JSON.stringify(next) !== JSON.stringify(this.#os)) {
      await this.#opts.configurator.setDNS(next);
      this.#os = next;
    }
  }

  /** setCluster installs the tunnel's resolver, or undefined while the tunnel is down (cluster names fail fast). */
  setCluster(cluster: ClusterResolver | undefined): void {
    this.#cluster = cluster;
    this.#responder.setCluster(cluster);
  }

  /** status reports the mode, servers and counters. */
  status(): DnsStatus {
    return {
      mode: this.#opts.configurator.mode,
      reason: this.#opts.reason ?? '',
      servers: this.#servers,
      upstreams: this.#base.nameservers,
      searchDomains: this.#os?.searchDomains ?? [],
      matchDomains: this.#os?.matchDomains ?? [],
      clusterReachable: this.#cluster !== undefined,
      stats: { ...this.#responder.stats },
    };
  }

  /** responder answers DNS messages (for servers reached through the netstack). */
  get responder(): Responder {
    return this.#responder;
  }

  /** osConfig is what was installed (for `devnet dns test`). */
  get osConfig(): OSConfig | undefined {
    return this.#os;
  }

  /** close restores the system resolver, then stops the server. */
  async close(): Promise<void> {
    try {
      await this.#opts.configurator.close();
    } finally {
      await this.#server.close();
    }
  }
}
