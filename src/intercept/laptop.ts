// The laptop's side of intercepts, run by the daemon: it puts intercepts in
// place (reconcile.engage), registers them on the tunnel session (again on
// every new session after a reconnect), renews their leases, answers the
// gateway's channels by dialling 127.0.0.1:LOCAL, and undoes them on
// `leave`, `quit` or at start for a crashed session's leftovers. It also
// restores other owners' intercepts whose leases lapsed (lapse.ts) when it
// meets them: before intercepting their Service, and at connect.
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { GatewayInfo } from '../cluster/gateway.ts';
import { DevnetError } from '../errors.ts';
import { type AnyChannel, channelDuplex, type Session, type SessionIdentity, StreamChannel } from '../tunnel/index.ts';
import type { InterceptStats } from './agent.ts';
import { pipeBoth } from './http-router.ts';
import { judgeLeases, lapseNote, leftAtSeat, parseLeaseReport, planTakeover, type Verdict } from './lapse.ts';
import { type ClaimMount, GATEWAY_INTERCEPT_PORT, INTERCEPT_HEALTH_PORT, INTERCEPT_SFTP_PORT } from './manifests.ts';
import {
  checkAdd,
  type Entry,
  entries,
  type InterceptPort,
  interceptId,
  isDnsLabel,
  LEASE_TTL_MS,
  LeaseClock,
  type Mode,
  modeOf,
  podToken,
  RENEW_MS,
  serviceKey,
  sftpToken,
} from './model.ts';
import { podRequest } from './pod-api.ts';
import { choosePorts, parsePortSpec } from './ports.ts';
import {
  disengage,
  engage,
  interceptPodsOf,
  type KubeClients,
  listIntercepted,
  podIdentity,
  readClaims,
  readService,
  renew,
  resolveTargetPorts,
  restoreLapsed,
  type Target,
  type TargetEnv,
  targetEnvironment,
  targetPod,
} from './reconcile.ts';
import { unmountFuse } from './sshfs.ts';
import { VolumeFiles } from './volume-files.ts';
import { planVolumes, type VolumeMountPlan } from './volumes.ts';

/** InterceptParams are `devnet intercept`'s options, as sent over the control socket. */
export interface InterceptParams {
  service: string;
  namespace?: string;
  name?: string;
  /** ports are LOCAL[:SVCPORT] each (SVCPORT a number or a port name). */
  ports: string[];
  headers?: Record<string, string>;
  /** mirror: the pods keep answering; this laptop gets a copy of each request. */
  mirror?: boolean;
  /** env: also return the environment of one of the Service's pods (--env-file, a command). */
  env?: boolean;
  /** mount: write the pod's volumes under `dir` (an existing directory; `created`: devnet made it and removes it). */
  mount?: { dir: string; created: boolean };
  /** leaveWithCaller: leave the intercept when the asking connection closes (a command's intercept). */
  leaveWithCaller?: boolean;
}

/** VolumeReport says where one of the pod's volume mounts is on the laptop, or why it is not. */
export interface VolumeReport {
  mountPath: string;
  source: string;
  how: 'api' | 'claim' | 'none';
  reason?: string;
  /** problems are what could not be rendered (a missing key, a token the user may not request). */
  problems?: string[];
  /** podPath is where the intercept pod serves a claim's files (below its SFTP root). */
  podPath?: string;
}

/** InterceptInfo describes one of this session's intercepts (the answer of intercept and part of status). */
export interface InterceptInfo {
  name: string;
  namespace: string;
  service: string;
  mode: Mode;
  headers: Record<string, string>;
  ports: InterceptPort[];
  owner: string;
  /** healthy: registered on a live tunnel session, its lease renewed recently and something listening locally. */
  healthy: boolean;
  /** health: "ok", or what is wrong (no local listener, tunnel down, lease lost). */
  health: string;
  engagedMs: number;
  lastError: string;
  /** warnings were found while engaging (nothing listening locally yet). */
  warnings: string[];
  /** env is the target pod's environment, when asked for. */
  env?: TargetEnv;
  /** mountDir holds the pod's volumes (--mount). */
  mountDir?: string;
  volumes?: VolumeReport[];
  /** sftp is how to read the claims the intercept pod mounts (through the tunnel, to the pod's IP). */
  sftp?: { host: string; port: number; token: string };
  /** notes say what was done on the way: lapsed intercepts of other owners restored first. */
  notes?: string[];
}

/** ListedIntercept is one intercept found on a Service, whoever owns it (`devnet list`). */
export interface ListedIntercept {
  namespace: string;
  service: string;
  name: string;
  owner: string;
  mine: boolean;
  mode: Mode;
  headers: Record<string, string>;
  ports: InterceptPort[];
  /** health: ok (renewed within the lease), what is wrong (no local listener, stale), `lapsed (owner gone)`, or malformed. */
  health: string;
  /** lapsedMs: how long ago the lease lapsed, when it did (judged in the connected namespace only). */
  lapsedMs?: number;
  /** stats are the intercept pod's counters (mirror copies and drops, fallbacks to the pods), when it answered. */
  stats?: Omit<InterceptStats, 'name'>;
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
  /** seat names where this daemon runs: the machine and its control socket's folder, which one daemon at a time serves (model.ts Entry.seat). */
  seat: string;
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
  /** localDown: per local port, why the last dial or probe of 127.0.0.1:PORT failed ('' = it answered). */
  localDown: Map<number, string>;
  files?: VolumeFiles;
  mount?: { dir: string; created: boolean; plans: VolumeMountPlan[] };
}

/** probeLocal says why nothing answers on 127.0.0.1:port, or undefined when something listens. */
export function probeLocal(port: number, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    const done = (why: string | undefined) => {
      clearTimeout(t);
      s.destroy();
      resolve(why);
    };
    const t = setTimeout(() => done('no answer within 1 s'), timeoutMs);
    s.once('connect', () => done(undefined));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** LaptopIntercepts holds this daemon session's intercepts. */
export class LaptopIntercepts {
  readonly #d: InterceptDeps;
  readonly #live = new Map<string, Live>(); // by namespace/name
  readonly #sessionId = randomUUID();
  readonly #host = hostname();
  #timer: NodeJS.Timeout | undefined;
  #attached = new WeakSet<Session>();
  /** #watched: this laptop's own observation of other owners' leases, per Service (`ns/name`). */
  readonly #watched = new Map<string, LeaseClock>();

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
      l.localDown.set(req.port, '');
      if (ch.state !== 'pending') return sock.destroy();
      ch.accept();
      pipeBoth(sock, channelDuplex(ch));
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      l.localDown.set(req.port, err.code ?? err.message);
      if (ch.state === 'pending') ch.reject(err.code === 'ECONNREFUSED' ? 'refused' : 'unreachable', err.message);
    });
  }

  /** add puts an intercept in place and returns how to reach it; with leaveWithCaller it ends when `caller` closes. */
  async add(p: InterceptParams, progress: (m: string) => void, caller?: EventEmitter): Promise<InterceptInfo> {
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
    if (p.mirror && Object.keys(headers).length > 0)
      throw new DevnetError('user', '--mirror copies every request: it takes no --header');
    if (!Array.isArray(p.ports) || !p.ports.every((x) => typeof x === 'string'))
      throw new DevnetError('user', 'give at least one --port LOCAL[:SVCPORT]');
    const specs = p.ports.map(parsePortSpec);
    const mount = p.mount;
    if (mount && (typeof mount.dir !== 'string' || !isAbsolute(mount.dir) || !isDirectory(mount.dir)))
      throw new DevnetError('user', `--mount: ${String(mount.dir)} is not a directory`);
    const key = `${namespace}/${name}`;
    if (this.#live.has(key))
      throw new DevnetError('user', `you already have an intercept named ${name} in ${namespace}`, {
        hint: `Run \`devnet leave ${name}\` first, or pick another --name.`,
      });
    const session = this.#d.session();
    if (!session || session.closed) throw new DevnetError('cluster', 'the tunnel is down; try again in a moment');
    const k = this.#d.kube();
    const svc = await readService(k.core, namespace, p.service);
    const servicePorts = await resolveTargetPorts(k.core, svc);
    const ports = choosePorts(`${namespace}/${p.service}`, specs, servicePorts);
    for (const reserved of [INTERCEPT_HEALTH_PORT, INTERCEPT_SFTP_PORT]) {
      const clash = servicePorts.find((x) => x.targetPort === reserved);
      if (clash)
        throw new DevnetError(
          'user',
          `Service port ${clash.port} targets port ${reserved}, which the intercept pod uses itself`,
          { hint: 'This Service cannot be intercepted by this devnet version.' },
        );
    }
    const warnings: string[] = [];
    // A Service whose pods are all gone can still be intercepted: then there is no environment or volume to show.
    const target =
      p.env || mount
        ? await targetPod(k.core, svc, (ports[0] as InterceptPort).targetPort).catch((err: unknown) => {
            if (!(err instanceof DevnetError) || err.category !== 'cluster') throw err;
            warnings.push(`${err.message}; intercepting without them`);
            return undefined;
          })
        : undefined;
    const env = p.env && target ? await targetEnvironment(k.core, target) : undefined;
    const plans = mount && target ? planVolumes(target.pod, target.container, await this.#claimsOf(target)) : [];
    const gw = this.#d.gateway();
    const svcKey = serviceKey(namespace, p.service);
    const claims: ClaimMount[] = plans
      .filter((x) => x.how === 'claim')
      .map((x) => ({ volume: x.volume, claim: x.claim as string }));
    const localDown = new Map<number, string>();
    for (const port of new Set(ports.map((x) => x.local))) {
      const why = await probeLocal(port);
      localDown.set(port, why ?? '');
      if (why)
        warnings.push(
          `nothing listens on 127.0.0.1:${port} yet (${why}): ${
            p.mirror || Object.keys(headers).length > 0
              ? "its requests go to the Service's pods until it does"
              : 'connections to the Service will be refused until it does'
          }`,
        );
    }
    const started = performance.now();
    const entry: Entry = {
      name,
      owner: this.#d.owner,
      key: this.#d.identity.id,
      host: this.#host,
      seat: this.#d.seat,
      session: this.#sessionId,
      headers,
      ...(p.mirror ? { mirror: true } : {}),
      ports,
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
      localDown,
    };
    // Lapsed intercepts of other owners in the way are restored first; a live one refuses, naming its owner.
    const notes = await this.#makeRoom(namespace, p.service, entry, progress);
    this.#live.set(key, live);
    let pod: Awaited<ReturnType<typeof engage>>;
    try {
      await this.attach(session);
      pod = await engage(k, {
        namespace,
        service: p.service,
        entry,
        gateway: `devnet-gateway.${gw.namespace}.svc:${GATEWAY_INTERCEPT_PORT}`,
        podToken: podToken(gw.token, svcKey),
        progress,
        ...(claims.length > 0 && target
          ? {
              volumes: {
                claims,
                sftpToken: sftpToken(gw.token, svcKey),
                ...(target.pod.spec?.nodeName ? { node: target.pod.spec.nodeName } : {}),
                ...(podIdentity(target) ? { identity: podIdentity(target) } : {}),
              },
            }
          : {}),
      });
      live.podIP = pod.status?.podIP ?? '';
      await this.#awaitPod(live, true);
    } catch (err) {
      this.#live.delete(key);
      live.registered?.unregisterIntercept(interceptId(namespace, p.service, name)).catch(() => undefined);
      throw err;
    }
    live.engagedMs = Math.round(performance.now() - started);
    live.lastRenew = Date.now();
    if (p.leaveWithCaller && caller)
      caller.once('close', () => {
        if (this.#live.get(key) === live) void this.remove(name, namespace).catch(() => undefined);
      });
    this.#startRenewing();
    let volumes: VolumeReport[] | undefined;
    if (mount && target) {
      // A claim is readable only if the intercept pod (maybe started earlier by another intercept) mounts it.
      const mounted = new Set((pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter(Boolean));
      const final = plans.map((x) =>
        x.how === 'claim' && !mounted.has(x.claim)
          ? {
              ...x,
              how: 'none' as const,
              reason: `the Service's intercept pod was started without ${x.claim} (by an intercept without --mount); leave every intercept of the Service and intercept again`,
            }
          : x,
      );
      live.mount = { ...mount, plans: final };
      const api = final.filter((x) => x.how === 'api');
      if (api.length > 0) {
        progress(`writing the pod's volumes under ${mount.dir}`);
        const files = new VolumeFiles({
          kc: k.kc,
          core: k.core,
          pod: target.pod,
          container: target.container,
          plans: api,
          dir: mount.dir,
          logger: this.#d.logger.child({ intercept: name }),
        });
        live.files = files;
        await files.start().catch((err: Error) => {
          this.#d.logger.warn({ err: err.message }, 'writing the volumes failed');
          warnings.push(`the pod's volumes could not be read: ${err.message}`);
        });
      }
      volumes = this.#volumeReports(live);
    }
    const sftp =
      volumes?.some((v) => v.how === 'claim') && live.podIP
        ? { host: live.podIP, port: INTERCEPT_SFTP_PORT, token: sftpToken(gw.token, svcKey) }
        : undefined;
    return {
      ...this.#info(live),
      warnings,
      ...(env ? { env } : {}),
      ...(mount ? { mountDir: mount.dir } : {}),
      ...(volumes ? { volumes } : {}),
      ...(sftp ? { sftp } : {}),
      ...(notes.length > 0 ? { notes } : {}),
    };
  }

  /**
   * #makeRoom judges the intercepts already on the Service and restores the
   * lapsed ones when `entry` then fits; it refuses (naming the owner) when a
   * live one is in the way. When the intercept pod cannot say and only
   * unjudged intercepts are in the way, it watches their leases for the TTL.
   */
  async #makeRoom(namespace: string, service: string, entry: Entry, progress: (m: string) => void): Promise<string[]> {
    const { core } = this.#d.kube();
    let svc = await readService(core, namespace, service);
    if (entries(svc).size === 0) return [];
    let plan = planTakeover(svc, entry, await this.#judge(namespace, svc, true));
    if (plan.kind === 'undecided') {
      const owners = plan.watch.map((v) => `${v.entry?.owner ?? 'an unknown owner'}'s ${v.name}`).join(', ');
      progress(
        `the intercept pod of ${namespace}/${service} does not answer; watching the lease of ${owners} for ${LEASE_TTL_MS / 1000} s`,
      );
      const until = Date.now() + LEASE_TTL_MS + 2000;
      while (plan.kind === 'undecided' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 1000));
        svc = await readService(core, namespace, service);
        plan = planTakeover(svc, entry, await this.#judge(namespace, svc, false));
      }
    }
    if (plan.kind !== 'proceed') {
      const refusal = plan.kind === 'refused' ? plan.refusal : checkAdd(svc, entry);
      if (refusal) throw new DevnetError('user', refusal.message, refusal.hint ? { hint: refusal.hint } : {});
      return [];
    }
    if (plan.restore.length === 0) return [];
    progress(`restoring the lapsed intercepts on ${namespace}/${service}`);
    return [await this.#restore(namespace, service, plan.restore)];
  }

  // Restores lapsed intercepts on one Service and says what was done.
  async #restore(namespace: string, service: string, lapsed: Verdict[]): Promise<string> {
    const r = await restoreLapsed(this.#d.kube(), namespace, service, lapsed);
    return lapseNote(
      namespace,
      service,
      lapsed.filter((v) => r.removed.includes(v.name)),
      r.restored,
    );
  }

  /**
   * #judge judges the leases on a Service just read: by the intercept pod's
   * report (when `askPod` and it answers) and this laptop's own observation,
   * which every call extends.
   */
  async #judge(namespace: string, svc: V1Service, askPod: boolean): Promise<Verdict[]> {
    const service = svc.metadata?.name as string;
    const at = `${namespace}/${service}`;
    const clock = this.#watched.get(at) ?? new LeaseClock();
    this.#watched.set(at, clock);
    const own = clock.observe(svc, Date.now());
    if (own.length === 0) this.#watched.delete(at);
    const report = askPod ? await this.#podLeases(namespace, service) : undefined;
    return judgeLeases(svc, report, own);
  }

  // The intercept pod's view of the leases (through the tunnel); undefined when it does not answer.
  async #podLeases(namespace: string, service: string) {
    const pod = (await interceptPodsOf(this.#d.kube().core, namespace, service).catch(() => []))[0];
    const ip = pod?.status?.podIP;
    if (!ip) return undefined;
    const answer = await podRequest<unknown>(this.#d.session(), ip, 'POST', '/leases').catch(() => undefined);
    return parseLeaseReport(answer);
  }

  async #claimsOf(t: Target) {
    const claims = await readClaims(this.#d.kube().core, t.pod);
    return (name: string) => claims.get(name);
  }

  #volumeReports(l: Live): VolumeReport[] {
    return (l.mount?.plans ?? []).map((x) => {
      const problems = l.files?.problems.get(x.mountPath) ?? [];
      return {
        mountPath: x.mountPath,
        source: x.source,
        how: x.how,
        ...(x.reason ? { reason: x.reason } : {}),
        ...(problems.length > 0 ? { problems } : {}),
        ...(x.how === 'claim' ? { podPath: `/${x.volume}${x.subPath ? `/${x.subPath}` : ''}` } : {}),
      };
    });
  }

  // The intercept pod reads the Service every second; asking it to sync now
  // (POST /sync on its health port, through the tunnel) makes the change
  // take effect before `intercept` or `leave` returns.
  async #awaitPod(l: Live, present: boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const known = await podRequest<{ name: string }[]>(this.#d.session(), l.podIP, 'POST', '/sync').catch(
        () => undefined,
      );
      if (known && known.some((k) => k.name === l.entry.name) === present) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.#d.logger.warn({ intercept: l.entry.name }, 'the intercept pod did not confirm the change within 5 s');
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
      // Health tells the truth even without traffic: is anything listening on the local ports?
      for (const port of new Set(l.entry.ports.map((p) => p.local)))
        l.localDown.set(port, (await probeLocal(port)) ?? '');
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
    await this.#unmount(l);
    const restored = await disengage(this.#d.kube(), l.namespace, l.service, [l.entry.name]);
    if (!restored) await this.#awaitPod(l, false);
    await l.registered?.unregisterIntercept(interceptId(l.namespace, l.service, l.entry.name)).catch(() => undefined);
    return { restored };
  }

  // Stops the volume watches and removes what devnet wrote (and the directory it made): never a user's files.
  async #unmount(l: Live): Promise<void> {
    await l.files?.close();
    const m = l.mount;
    if (!m) return;
    // Claims are sshfs mounts made by the CLI: unmounting them here is best effort (sshfs also ends, and
    // unmounts, when the intercept pod goes away).
    for (const x of m.plans.filter((p) => p.how === 'claim')) await unmountFuse(join(m.dir, x.mountPath));
    for (const x of m.plans) await pruneEmpty(m.dir, dirname(join(m.dir, x.mountPath)));
    if (m.created) await rmdir(m.dir).catch(() => undefined);
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

  /**
   * repair, at connect, removes the intercepts this user's earlier (crashed)
   * daemon at this seat left, and restores lapsed intercepts of any owner on
   * the Services of the connected namespace (one list of intercepted
   * Services; the intercept pod of each is asked). It returns what it did, or
   * could not do, for the user to read.
   */
  async repair(): Promise<string[]> {
    const { core } = this.#d.kube();
    const connected = this.#d.defaultNamespace();
    const me = { owner: this.#d.owner, seat: this.#d.seat, key: this.#d.identity.id };
    const left: string[] = [];
    const notes: string[] = [];
    for (let svc of await listIntercepted(core, connected)) {
      const ns = svc.metadata?.namespace as string;
      const name = svc.metadata?.name as string;
      const stale = leftAtSeat(svc, me);
      if (stale.length > 0) {
        const restored = await disengage(this.#d.kube(), ns, name, stale);
        left.push(...stale.map((n) => `${ns}/${name}:${n}`));
        if (restored) continue;
        svc = await readService(core, ns, name);
      }
      if (ns !== connected) continue;
      const lapsed = (await this.#judge(ns, svc, true)).filter((v) => v.state === 'lapsed');
      if (lapsed.length === 0) continue;
      notes.push(
        await this.#restore(ns, name, lapsed).catch(
          (err: Error) => `could not restore the lapsed intercepts on ${ns}/${name}: ${err.message}`,
        ),
      );
    }
    return [...(left.length > 0 ? [`removed intercepts a crashed session left: ${left.join(', ')}`] : []), ...notes];
  }

  // The counters of a Service's intercept pod (through the tunnel); undefined when it does not answer.
  async #podStats(namespace: string, service: string): Promise<InterceptStats[] | undefined> {
    const pod = (await interceptPodsOf(this.#d.kube().core, namespace, service).catch(() => []))[0];
    const ip = pod?.status?.podIP;
    if (!ip) return undefined;
    return podRequest<InterceptStats[]>(this.#d.session(), ip, 'GET', '/stats').catch(() => undefined);
  }

  /** list shows every intercept on the Services devnet has patched (owner, mode, ports, health, mirror counters). */
  async list(): Promise<ListedIntercept[]> {
    const { core } = this.#d.kube();
    const out: ListedIntercept[] = [];
    for (const svc of await listIntercepted(core, this.#d.defaultNamespace())) {
      const ns = svc.metadata?.namespace as string;
      const service = svc.metadata?.name as string;
      const found = entries(svc);
      const counted = [...found.values()].some((e) => e && modeOf(e) !== 'global');
      const stats = counted ? await this.#podStats(ns, service) : undefined;
      // Lapses are judged in the connected namespace only (one pod asked per Service there).
      const verdicts = ns === this.#d.defaultNamespace() ? await this.#judge(ns, svc, true) : [];
      for (const [name, e] of found) {
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
        const lapsed = mine ? undefined : verdicts.find((v) => v.name === name && v.state === 'lapsed');
        const health = live
          ? this.#health(live)
          : lapsed
            ? 'lapsed (owner gone)'
            : age < LEASE_TTL_MS
              ? 'ok'
              : `not renewed for ${Math.round(age / 1000)} s`;
        const st = stats?.find((x) => x.name === name);
        out.push({
          namespace: ns,
          service,
          name,
          owner: e.owner,
          mine,
          mode: modeOf(e),
          headers: e.headers,
          ports: e.ports,
          health,
          ...(lapsed ? { lapsedMs: Math.max(0, lapsed.unchangedMs - LEASE_TTL_MS) } : {}),
          ...(st
            ? { stats: { copied: st.copied, dropped: st.dropped, lastError: st.lastError, fallbacks: st.fallbacks } }
            : {}),
        });
      }
    }
    return out.sort((a, b) =>
      `${a.namespace}/${a.service}/${a.name}`.localeCompare(`${b.namespace}/${b.service}/${b.name}`),
    );
  }

  // "ok", or the first thing wrong: the tunnel or lease, then the local side.
  #health(l: Live): string {
    const s = this.#d.session();
    if (!s || s.closed) return l.lastError || 'the tunnel is down';
    if (l.registered !== s || Date.now() - l.lastRenew >= 3 * RENEW_MS) return l.lastError || 'stale';
    const down = [...l.localDown].filter(([, why]) => why !== '');
    if (down.length > 0)
      return `no local listener (${down.map(([port, why]) => `127.0.0.1:${port}: ${why}`).join(', ')})`;
    return 'ok';
  }

  #info(l: Live): InterceptInfo {
    const health = this.#health(l);
    return {
      name: l.entry.name,
      namespace: l.namespace,
      service: l.service,
      mode: modeOf(l.entry),
      headers: l.entry.headers,
      ports: l.entry.ports,
      owner: l.entry.owner,
      healthy: health === 'ok',
      health,
      engagedMs: l.engagedMs,
      lastError: l.lastError,
      warnings: [],
      ...(l.mount ? { mountDir: l.mount.dir, volumes: this.#volumeReports(l) } : {}),
    };
  }

  /** status lists this session's intercepts. */
  status(): InterceptInfo[] {
    return [...this.#live.values()].map((l) => this.#info(l));
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** pruneEmpty removes empty directories from `from` up to (not including) `root`. */
async function pruneEmpty(root: string, from: string): Promise<void> {
  for (let d = from; d.startsWith(`${root}/`); d = dirname(d)) {
    if ((await readdir(d).catch(() => ['?'])).length > 0) return;
    await rmdir(d).catch(() => undefined);
  }
}
