// The laptop's side of intercepts, run by the daemon: it puts intercepts in
// place (reconcile.engage), registers them on the tunnel session (again on
// every new session after a reconnect), renews their leases, answers the
// gateway's channels by dialling 127.0.0.1:LOCAL, and undoes them on
// `leave`, `quit` or at start for a crashed session's leftovers.
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { type Socket, connect as tcpConnect } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayInfo } from '../cluster/gateway.ts';
import { DevnetError } from '../errors.ts';
import { type AnyChannel, channelDuplex, type Session, type SessionIdentity, StreamChannel } from '../tunnel/index.ts';
import { pipeBoth } from './http-router.ts';
import { GATEWAY_INTERCEPT_PORT, INTERCEPT_HEALTH_PORT } from './manifests.ts';
import {
  type Entry,
  entries,
  type InterceptPort,
  interceptId,
  isDnsLabel,
  LEASE_TTL_MS,
  podToken,
  RENEW_MS,
  serviceKey,
} from './model.ts';
import {
  disengage,
  engage,
  type KubeClients,
  listIntercepted,
  readService,
  renew,
  resolveTargetPorts,
  type TargetEnv,
  targetEnvironment,
} from './reconcile.ts';

/** InterceptParams are `devnet intercept`'s options, as sent over the control socket. */
export interface InterceptParams {
  service: string;
  namespace?: string;
  name?: string;
  /** port is LOCAL or LOCAL:SVCPORT. */
  port: string;
  headers?: Record<string, string>;
  /** env: also return the environment of one of the Service's pods (--env-file). */
  env?: boolean;
}

/** InterceptInfo describes one of this session's intercepts (the answer of intercept and part of status). */
export interface InterceptInfo {
  name: string;
  namespace: string;
  service: string;
  mode: 'global' | 'personal';
  headers: Record<string, string>;
  ports: InterceptPort[];
  owner: string;
  /** healthy: registered on a live tunnel session and its lease renewed recently. */
  healthy: boolean;
  engagedMs: number;
  lastError: string;
  /** env is the target pod's environment, when asked for. */
  env?: TargetEnv;
}

/** ListedIntercept is one intercept found on a Service, whoever owns it (`devnet list`). */
export interface ListedIntercept {
  namespace: string;
  service: string;
  name: string;
  owner: string;
  mine: boolean;
  mode: 'global' | 'personal';
  headers: Record<string, string>;
  ports: InterceptPort[];
  /** health: ok (renewed within the lease), stale, or malformed. */
  health: string;
}

/** InterceptDeps are what the daemon passes in. */
export interface InterceptDeps {
  kube(): KubeClients;
  session(): Session | undefined;
  gateway(): GatewayInfo;
  defaultNamespace(): string;
  /** identity is the daemon's session key: recorded on the Service, it is what the gateway routes by. */
  identity: SessionIdentity;
  /** owner is the user's name as the cluster knows them (src/cluster/whoami.ts). */
  owner: string;
  logger: Logger;
}

interface Live {
  namespace: string;
  service: string;
  entry: Entry;
  engagedMs: number;
  lastRenew: number;
  lastError: string;
  registered: Session | undefined;
  podIP: string;
}

/** parsePortSpec parses LOCAL[:SVCPORT]. */
export function parsePortSpec(spec: string): { local: number; servicePort: number | undefined } {
  const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(spec);
  const ok = (n: number) => n >= 1 && n <= 65535;
  const local = Number(m?.[1]);
  const svc = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!m || !ok(local) || (svc !== undefined && !ok(svc)))
    throw new DevnetError('user', `--port "${spec}" is not LOCAL[:SVCPORT]`, {
      hint: 'e.g. --port 8080 or --port 8080:80',
    });
  return { local, servicePort: svc };
}

/** LaptopIntercepts holds this daemon session's intercepts. */
export class LaptopIntercepts {
  readonly #d: InterceptDeps;
  readonly #live = new Map<string, Live>(); // by namespace/name
  readonly #sessionId = randomUUID();
  readonly #host = hostname();
  #timer: NodeJS.Timeout | undefined;
  #attached = new WeakSet<Session>();

  constructor(deps: InterceptDeps) {
    this.#d = deps;
  }

  /** attach serves a (new) tunnel session: answers its intercept channels and registers every intercept on it. */
  async attach(s: Session): Promise<void> {
    if (!this.#attached.has(s)) {
      this.#attached.add(s);
      s.on('open', (ch) => this.#onOpen(ch));
    }
    for (const l of this.#live.values()) await this.#register(l, s);
  }

  async #register(l: Live, s: Session): Promise<void> {
    const id = interceptId(l.namespace, l.service, l.entry.name);
    const r = await s.registerIntercept(
      id,
      l.entry.ports.map((p) => p.local),
    );
    if (!r.ok) {
      l.lastError = `registering at the gateway: ${r.message}`;
      throw new DevnetError('cluster', `the gateway refused intercept ${id}: ${r.message}`);
    }
    l.registered = s;
    l.lastError = '';
  }

  #onOpen(ch: AnyChannel): void {
    const req = ch.request;
    const l = [...this.#live.values()].find(
      (x) => interceptId(x.namespace, x.service, x.entry.name) === req.interceptId,
    );
    if (!l || !(ch instanceof StreamChannel)) {
      ch.reject('forbidden', 'no such intercept on this laptop');
      return;
    }
    // Only the intercept's own local ports: the gateway must never make us dial anything else.
    if (!l.entry.ports.some((p) => p.local === req.port)) {
      ch.reject('forbidden', `port ${req.port} is not intercepted`);
      return;
    }
    const sock = tcpConnect({ host: '127.0.0.1', port: req.port, noDelay: true, allowHalfOpen: true });
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      if (ch.state !== 'pending') return sock.destroy();
      ch.accept();
      pipeBoth(sock, channelDuplex(ch));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      l.lastError = `127.0.0.1:${req.port}: ${err.code ?? err.message}`;
      if (ch.state === 'pending') ch.reject(err.code === 'ECONNREFUSED' ? 'refused' : 'unreachable', err.message);
    });
  }

  /** add puts an intercept in place and returns how to reach it. */
  async add(p: InterceptParams, progress: (m: string) => void): Promise<InterceptInfo> {
    const namespace = p.namespace ?? this.#d.defaultNamespace();
    const name = p.name ?? p.service;
    for (const [what, v] of [
      ['namespace', namespace],
      ['service', p.service],
      ['--name', name],
    ] as const)
      if (!isDnsLabel(v))
        throw new DevnetError('user', `${what} "${v}" is not a valid name (lower-case letters, digits, -)`);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.headers ?? {})) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k))
        throw new DevnetError('user', `--header: "${k}" is not a header name`);
      headers[k.toLowerCase()] = v;
    }
    const key = `${namespace}/${name}`;
    if (this.#live.has(key))
      throw new DevnetError('user', `you already have an intercept named ${name} in ${namespace}`, {
        hint: `Run \`devnet leave ${name}\` first, or pick another --name.`,
      });
    const session = this.#d.session();
    if (!session || session.closed) throw new DevnetError('cluster', 'the tunnel is down; try again in a moment');
    const k = this.#d.kube();
    const { local, servicePort } = parsePortSpec(p.port);
    const svc = await readService(k.core, namespace, p.service);
    const ports = await resolveTargetPorts(k.core, svc);
    const chosen = servicePort === undefined ? ports[0] : ports.find((x) => x.port === servicePort);
    if (!chosen)
      throw new DevnetError('user', `Service ${namespace}/${p.service} has no port ${servicePort ?? ''}`.trim(), {
        hint: `Its ports: ${ports.map((x) => x.port).join(', ') || 'none'}.`,
      });
    const clash = ports.find((x) => x.targetPort === INTERCEPT_HEALTH_PORT);
    if (clash)
      throw new DevnetError(
        'user',
        `Service port ${clash.port} targets port ${INTERCEPT_HEALTH_PORT}, which the intercept pod uses for its health checks`,
        {
          hint: 'This Service cannot be intercepted by this devnet version.',
        },
      );
    if (servicePort === undefined && ports.length > 1)
      throw new DevnetError(
        'user',
        `Service ${namespace}/${p.service} has several ports (${ports.map((x) => x.port).join(', ')})`,
        {
          hint: `Say which: --port ${local}:SVCPORT.`,
        },
      );
    const env = p.env ? await targetEnvironment(k.core, svc, chosen.targetPort) : undefined;
    const started = performance.now();
    const entry: Entry = {
      name,
      owner: this.#d.owner,
      key: this.#d.identity.id,
      host: this.#host,
      session: this.#sessionId,
      headers,
      ports: [{ servicePort: chosen.port, targetPort: chosen.targetPort, local }],
      renewed: new Date().toISOString(),
    };
    const live: Live = {
      namespace,
      service: p.service,
      entry,
      engagedMs: 0,
      lastRenew: Date.now(),
      lastError: '',
      registered: undefined,
      podIP: '',
    };
    this.#live.set(key, live);
    try {
      await this.attach(session);
      const gw = this.#d.gateway();
      live.podIP = await engage(k, {
        namespace,
        service: p.service,
        entry,
        gateway: `devnet-gateway.${gw.namespace}.svc:${GATEWAY_INTERCEPT_PORT}`,
        podToken: podToken(gw.token, serviceKey(namespace, p.service)),
        progress,
      });
      await this.#awaitPod(live, true);
    } catch (err) {
      this.#live.delete(key);
      live.registered?.unregisterIntercept(interceptId(namespace, p.service, name)).catch(() => undefined);
      throw err;
    }
    live.engagedMs = Math.round(performance.now() - started);
    live.lastRenew = Date.now();
    this.#startRenewing();
    return { ...this.#info(live), ...(env ? { env } : {}) };
  }

  // The intercept pod reads the Service every second; asking it to sync now
  // (POST /sync on its health port, through the tunnel) makes the change
  // take effect before `intercept` or `leave` returns.
  async #awaitPod(l: Live, present: boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const known = await this.#syncPod(l.podIP).catch(() => undefined);
      if (known && known.some((k) => k.name === l.entry.name) === present) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.#d.logger.warn({ intercept: l.entry.name }, 'the intercept pod did not confirm the change within 5 s');
  }

  #syncPod(podIP: string): Promise<{ name: string }[]> {
    const s = this.#d.session();
    if (!s || s.closed || !podIP) return Promise.reject(new Error('no tunnel'));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          method: 'POST',
          host: podIP,
          port: INTERCEPT_HEALTH_PORT,
          path: '/sync',
          timeout: 3000,
          createConnection: (_o, cb) => {
            s.open({ protocol: 'tcp', host: podIP, port: INTERCEPT_HEALTH_PORT, timeoutMs: 3000 }).then((r) => {
              if (r.ok && r.channel instanceof StreamChannel) cb(null, channelDuplex(r.channel) as unknown as Socket);
              else cb(new Error(r.ok ? 'not a stream' : r.message), undefined as unknown as Socket);
            });
            return undefined;
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString()) as { name: string }[]);
            } catch (err) {
              reject(err);
            }
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  }

  #startRenewing(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#renewAll(), RENEW_MS);
    this.#timer.unref();
  }

  async #renewAll(): Promise<void> {
    const { core } = this.#d.kube();
    const s = this.#d.session();
    for (const l of this.#live.values()) {
      // A lease is only renewed while the gateway can reach us: if the tunnel is down the intercept lapses.
      if (!s || s.closed) continue;
      if (l.registered !== s) await this.#register(l, s).catch(() => undefined);
      if (l.registered !== s) continue;
      l.entry = { ...l.entry, renewed: new Date().toISOString() };
      try {
        if (await renew(core, l.namespace, l.service, l.entry)) l.lastRenew = Date.now();
        else if (this.#live.get(`${l.namespace}/${l.entry.name}`) === l) {
          // Removed behind our back (its lease ran out while we were away, or someone restored the Service).
          l.lastError = 'the intercept was removed from the Service (lease expired?); run `devnet intercept` again';
        }
      } catch (err) {
        l.lastError = `renewing the lease: ${(err as Error).message}`;
        this.#d.logger.warn({ err: l.lastError, intercept: l.entry.name }, 'lease renewal failed');
      }
    }
  }

  /** remove undoes one of this session's intercepts at once. */
  async remove(name: string, namespace?: string): Promise<{ restored: boolean }> {
    const l =
      (namespace && this.#live.get(`${namespace}/${name}`)) ||
      [...this.#live.values()].find((x) => x.entry.name === name && (!namespace || x.namespace === namespace));
    if (!l) throw new DevnetError('user', `you have no intercept named ${name}`, { hint: 'See `devnet list`.' });
    this.#live.delete(`${l.namespace}/${l.entry.name}`);
    const restored = await disengage(this.#d.kube(), l.namespace, l.service, [l.entry.name]);
    if (!restored) await this.#awaitPod(l, false);
    await l.registered?.unregisterIntercept(interceptId(l.namespace, l.service, l.entry.name)).catch(() => undefined);
    return { restored };
  }

  /** removeAll undoes every intercept of this session (quit). */
  async removeAll(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const l of [...this.#live.values()])
      await this.remove(l.entry.name, l.namespace).catch((err: Error) =>
        this.#d.logger.warn({ err: err.message, intercept: l.entry.name }, 'leaving an intercept failed'),
      );
  }

  /** repair removes intercepts this user's earlier (crashed) sessions on this machine left on the cluster; it returns their names. */
  async repair(): Promise<string[]> {
    const { core } = this.#d.kube();
    const fixed: string[] = [];
    for (const svc of await listIntercepted(core, this.#d.defaultNamespace())) {
      const ns = svc.metadata?.namespace as string;
      const name = svc.metadata?.name as string;
      const stale = [...entries(svc).values()]
        .filter(
          (e): e is Entry =>
            e !== undefined && e.owner === this.#d.owner && e.host === this.#host && e.key !== this.#d.identity.id,
        )
        .map((e) => e.name);
      if (stale.length === 0) continue;
      await disengage(this.#d.kube(), ns, name, stale);
      fixed.push(...stale.map((n) => `${ns}/${name}:${n}`));
    }
    return fixed;
  }

  /** list shows every intercept on the Services devnet has patched (owner, mode, ports, health). */
  async list(): Promise<ListedIntercept[]> {
    const { core } = this.#d.kube();
    const out: ListedIntercept[] = [];
    for (const svc of await listIntercepted(core, this.#d.defaultNamespace())) {
      const ns = svc.metadata?.namespace as string;
      const service = svc.metadata?.name as string;
      for (const [name, e] of entries(svc)) {
        if (!e) {
          out.push({
            namespace: ns,
            service,
            name,
            owner: '?',
            mine: false,
            mode: 'global',
            headers: {},
            ports: [],
            health: 'malformed',
          });
          continue;
        }
        const mine = e.key === this.#d.identity.id;
        const live = mine ? this.#live.get(`${ns}/${name}`) : undefined;
        // Another owner's lease is judged by its `renewed` time, written by that owner's clock (skew shifts it).
        const age = Date.now() - Date.parse(e.renewed);
        const health = live
          ? this.#healthy(live)
            ? 'ok'
            : live.lastError || 'stale'
          : age < LEASE_TTL_MS
            ? 'ok'
            : `not renewed for ${Math.round(age / 1000)} s`;
        out.push({
          namespace: ns,
          service,
          name,
          owner: e.owner,
          mine,
          mode: Object.keys(e.headers).length === 0 ? 'global' : 'personal',
          headers: e.headers,
          ports: e.ports,
          health,
        });
      }
    }
    return out.sort((a, b) =>
      `${a.namespace}/${a.service}/${a.name}`.localeCompare(`${b.namespace}/${b.service}/${b.name}`),
    );
  }

  #healthy(l: Live): boolean {
    const s = this.#d.session();
    return s !== undefined && !s.closed && l.registered === s && Date.now() - l.lastRenew < 3 * RENEW_MS;
  }

  #info(l: Live): InterceptInfo {
    return {
      name: l.entry.name,
      namespace: l.namespace,
      service: l.service,
      mode: Object.keys(l.entry.headers).length === 0 ? 'global' : 'personal',
      headers: l.entry.headers,
      ports: l.entry.ports,
      owner: l.entry.owner,
      healthy: this.#healthy(l),
      engagedMs: l.engagedMs,
      lastError: l.lastError,
    };
  }

  /** status lists this session's intercepts. */
  status(): InterceptInfo[] {
    return [...this.#live.values()].map((l) => this.#info(l));
  }
}
