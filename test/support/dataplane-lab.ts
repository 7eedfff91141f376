// DataplaneLab: the whole data path in one process, for soak tests. The
// "laptop" is a network namespace whose routes to the lab prefixes go
// through a TUN driven by the netstack here (NetstackLab). Its flows ride
// TunnelUpstream over a tunnel session, carried by a TCP connection on this
// process's loopback, to a GatewayServer here, which dials the
// destinations: servers on this process's loopback (the lab addresses are
// mapped to 127.0.0.1 / ::1 on the way, as LocalDial's resolve does). So
// every live table of the path — netstack connections, tunnel channels on
// both ends, the gateway's destination sockets — can be asserted here.

import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { TunnelUpstream } from '../../src/dataplane/tunnel-upstream.ts';
import { denyList } from '../../src/gateway/config.ts';
import { GatewayMetrics } from '../../src/gateway/metrics.ts';
import { GatewayServer } from '../../src/gateway/server.ts';
import type { Flow, Upstream } from '../../src/netstack/upstream.ts';
import { connectSession, type Session, type SessionLimits } from '../../src/tunnel/index.ts';
import { NetstackLab } from './netstack-lab.ts';

const TOKEN = 'dataplane-lab-token';
const SOAK_PEER = join(import.meta.dirname, 'soak-peer.ts');

/** DataplaneTables is what is alive along the path right now. */
export interface DataplaneTables {
  /** netstack lists the states of the laptop netstack's TCP connections. */
  netstack: string[];
  /** laptopChannels are the channel ids open on the laptop's sessions. */
  laptopChannels: number[];
  /** gatewayChannels are the channel ids open on the gateway's sessions. */
  gatewayChannels: number[];
  /** gatewaySockets counts the gateway's live destination sockets. */
  gatewaySockets: number;
}

/** DataplaneLabOptions tune the lab's sessions. */
export interface DataplaneLabOptions {
  limits?: Partial<SessionLimits>;
}

/** DataplaneLab is one laptop namespace, netstack, tunnel and gateway in this process. */
export class DataplaneLab {
  readonly net: NetstackLab;
  readonly gateway: GatewayServer;
  readonly #port: number;
  readonly #limits: Partial<SessionLimits>;
  readonly #sessions: Session[] = [];
  readonly #pinned = new Map<number, Session>();
  #active: Session | undefined;

  private constructor(net: NetstackLab, gateway: GatewayServer, port: number, limits: Partial<SessionLimits>) {
    this.net = net;
    this.gateway = gateway;
    this.#port = port;
    this.#limits = limits;
  }

  /** create builds the lab and connects its first session. */
  static async create(tag: string, opts: DataplaneLabOptions = {}): Promise<DataplaneLab> {
    const gateway = new GatewayServer({
      token: TOKEN,
      logger: pino({ level: 'silent' }),
      metrics: new GatewayMetrics(),
      resolver: undefined,
      icmp: { ok: false, reason: 'lab' },
      deny: denyList([]), // the lab's destinations are this process's loopback servers
      maxSessions: 16,
      ...(opts.limits ? { sessionLimits: opts.limits } : {}),
    });
    const addr = await gateway.listen('127.0.0.1', 0);
    let lab: DataplaneLab | undefined;
    // One TunnelUpstream per session: a flow uses the session pinned to its port, else the active one.
    const upstreams = new WeakMap<Session, TunnelUpstream>();
    const tunnelFor = (port: number): TunnelUpstream => {
      const s = lab?.sessionFor(port);
      if (!s) return new TunnelUpstream({ session: () => undefined });
      let u = upstreams.get(s);
      if (!u) {
        u = new TunnelUpstream({ session: () => s, dialTimeoutMs: 5000 });
        upstreams.set(s, u);
      }
      return u;
    };
    const loopback = (flow: Flow): Flow => ({
      ...flow,
      dst: { address: flow.version === 4 ? '127.0.0.1' : '::1', port: flow.dst.port },
    });
    const toLoopback: Upstream = {
      openStream: (flow, stream) => tunnelFor(flow.dst.port).openStream(loopback(flow), stream),
      openDatagram: (flow, dg) => tunnelFor(flow.dst.port).openDatagram(loopback(flow), dg),
    };
    const net = await NetstackLab.create(tag, { upstream: () => toLoopback, stack: { verifyChecksums: false } });
    lab = new DataplaneLab(net, gateway, addr.port, opts.limits ?? {});
    await lab.connect();
    return lab;
  }

  /** active is the session new flows use. */
  get active(): Session | undefined {
    return this.#active;
  }

  /** connect opens a fresh session to the gateway and makes it the one new flows use. */
  async connect(): Promise<Session> {
    const sock = tcpConnect({ host: '127.0.0.1', port: this.#port });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    const s = await connectSession(sock, {
      token: TOKEN,
      clientId: `lab-${this.#sessions.length}`,
      limits: this.#limits,
    });
    this.#sessions.push(s);
    this.#active = s;
    return s;
  }

  /** use makes an existing session the one new flows use. */
  use(s: Session): void {
    this.#active = s;
  }

  /** pin makes flows to a destination port use session `s` (so two sessions can be measured side by side). */
  pin(port: number, s: Session): void {
    this.#pinned.set(port, s);
  }

  /** sessionFor is the session a new flow to `port` uses. */
  sessionFor(port: number): Session | undefined {
    return this.#pinned.get(port) ?? this.#active;
  }

  /** tables returns what is alive along the path. */
  tables(): DataplaneTables {
    const gw = this.gateway.tables();
    return {
      netstack: [...this.net.driver.stack.connections()].map((c) => c.state),
      laptopChannels: this.#sessions.filter((s) => !s.closed).flatMap((s) => s.tables().channels),
      gatewayChannels: gw.sessions.flatMap((s) => s.channels),
      gatewaySockets: gw.sockets.tcp + gw.sockets.udp,
    };
  }

  /** soakPeer runs test/support/soak-peer.ts in the laptop namespace and returns its JSON result. */
  async soakPeer(args: Array<string | number>, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const stdout = await this.net.ns.exec(process.execPath, [SOAK_PEER, ...args.map(String)], { timeout: timeoutMs });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  }

  /** close takes everything down. */
  async close(): Promise<void> {
    for (const s of this.#sessions) s.destroy();
    await this.net.close();
    await this.gateway.shutdown(0);
  }
}
