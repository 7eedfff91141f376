// The sandbox kubelet: runs the pods bound to the sandbox node. For each
// pod it resolves images to programs (unknown image: ImagePullBackOff),
// computes container environments (a missing Secret/ConfigMap:
// CreateContainerConfigError, retried), gives the pod a namespace and a
// /32, starts a pod runner inside that namespace, and writes the pod's
// status whenever the runner reports a change. A deleted (or terminating)
// pod's runner is stopped and its namespace removed; a terminating pod is
// then deleted for good, as the kubelet does after graceful termination.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SyncJournal } from '../journal/journal.ts';
import { NODE_NAME } from './constants.ts';
import { isFinished, isTerminating } from './controllers/pods.ts';
import type { Exec } from './exec.ts';
import { type PodNetwork, podLinkName, resolvConfPath, setupPodNetwork, teardownPodNetwork } from './hostnet.ts';
import type { StagedImage } from './image.ts';
import { KNOWN_IMAGES, programFor } from './images.ts';
import { PodIpam } from './ipam.ts';
import { apiErrorCode, type Clients, ignoreNotFound } from './kube.ts';
import { podNetns, podRunDir, podVolumesDir, type SandboxPaths, volumesDir } from './paths.ts';
import { ConfigError, type ConfigLookup, containerEnv } from './pod-env.ts';
import type { ContainerPlan, ContainerReport, PodPlan, Probe, RunnerMessage } from './pod-plan.ts';
import { podStatus } from './pod-status.ts';
import { containerMounts, prepareVolumes } from './pod-volumes.ts';
import { containerSecurity } from './security.ts';

const RUNNER = join(import.meta.dirname, `runner${extname(import.meta.filename)}`);
/** VOLUME_REFRESH_MS is how often API-backed volumes of running pods are written again (the real kubelet: about a minute). */
const VOLUME_REFRESH_MS = 10_000;

/** PodRecord is the kubelet's state for one pod it runs. */
interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  /** claims are the PersistentVolumeClaims its volumes use. */
  claims: string[];
  /** token is the service account token its projected volumes show; refreshed says when API volumes were last written. */
  token?: string;
  refreshed?: number;
  net?: PodNetwork;
  runner?: ChildProcess;
  reports: ContainerReport[];
  startTime: string;
  stopping: boolean;
  /** graceSeconds is the pod's termination grace period (spec.terminationGracePeriodSeconds). */
  graceSeconds: number;
  /** statusDirty/statusBusy serialise status writes, coalescing bursts. */
  statusDirty: boolean;
  statusBusy: boolean;
  retry?: NodeJS.Timeout;
}

/** KubeletDeps are the kubelet's collaborators. */
export interface KubeletDeps {
  paths: SandboxPaths;
  clients: Clients;
  journal: SyncJournal;
  exec: Exec;
  logger: Logger;
  /** image is the gateway image that devnet's images run from; a pod that runs it waits until it is staged. */
  image: { layout: StagedImage; staged: Promise<unknown> };
  /** api has the CA certificate mounted into pods with their service account token. */
  api: { caCertPem: string };
  /** resync asks for a new pass over all pods (after a retry delay). */
  resync(): void;
  /** getPod reads the latest cached pod. */
  getPod(namespace: string, name: string): V1Pod | undefined;
}

function toProbe(
  p: import('@kubernetes/client-node').V1Probe | undefined,
  c: import('@kubernetes/client-node').V1Container,
): Probe | undefined {
  if (!p) return undefined;
  const port = (v: number | string | undefined): number => {
    if (typeof v === 'number') return v;
    if (v && /^[0-9]+$/.test(v)) return Number(v);
    const named = c.ports?.find((x) => x.name === v);
    if (!named) throw new ConfigError(`probe port ${String(v)} is not a port of container ${c.name}`);
    return named.containerPort;
  };
  let action: Probe['action'];
  if (p.httpGet) {
    action = {
      httpGet: {
        port: port(p.httpGet.port as number | string),
        path: p.httpGet.path ?? '/',
        scheme: p.httpGet.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP',
      },
    };
  } else if (p.tcpSocket) {
    action = { tcpSocket: { port: port(p.tcpSocket.port as number | string) } };
  } else if (p.exec?.command) {
    action = { exec: { command: p.exec.command } };
  } else {
    return undefined;
  }
  return {
    action,
    initialDelaySeconds: p.initialDelaySeconds ?? 0,
    periodSeconds: p.periodSeconds ?? 10,
    timeoutSeconds: p.timeoutSeconds ?? 1,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

/** podSysctls returns a pod's sysctls; only net.* ones (per network namespace) can be honoured without touching the host. */
function podSysctls(pod: V1Pod): { name: string; value: string }[] {
  const sysctls = pod.spec?.securityContext?.sysctls ?? [];
  for (const s of sysctls) {
    if (!/^net\.[a-z0-9_.]+$/.test(s.name) || !/^[0-9 ]+$/.test(s.value)) {
      throw new ConfigError(
        `sysctl ${s.name}=${s.value} is not supported by the devnet sandbox (only numeric net.* sysctls)`,
      );
    }
  }
  return sysctls;
}

/** Kubelet runs the pods bound to the sandbox node. */
export class Kubelet {
  readonly #d: KubeletDeps;
  readonly #pods = new Map<string, PodRecord>();
  readonly #ipam = new PodIpam('10.244.0');
  readonly #lookup: ConfigLookup;
  #closed = false;
  #storage: { claims: V1PersistentVolumeClaim[]; volumes: V1PersistentVolume[] } = { claims: [], volumes: [] };
  #generation = 0;
  #seenVolumes = new Map<string, string | undefined>();
  /** #binding holds the UIDs of unscheduled pods being bound to the node. */
  readonly #binding = new Set<string>();

  constructor(deps: KubeletDeps) {
    this.#d = deps;
    const { core } = deps.clients;
    this.#lookup = {
      secret: (namespace, name) => core.readNamespacedSecret({ namespace, name }).catch(ignoreNotFound),
      configMap: (namespace, name) => core.readNamespacedConfigMap({ namespace, name }).catch(ignoreNotFound),
      services: async (namespace) => (await core.listNamespacedService({ namespace })).items,
    };
  }

  /** sync brings running pods in line with the API's pods (and storage); call it after every event. */
  sync(pods: V1Pod[], claims: V1PersistentVolumeClaim[] = [], volumes: V1PersistentVolume[] = []): void {
    if (this.#closed) return;
    this.#storage = { claims, volumes };
    this.#reclaim(volumes);
    const seen = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      if (!uid) continue;
      const nodeName = pod.spec?.nodeName;
      if (!nodeName) {
        if (!isTerminating(pod) && !this.#binding.has(uid)) {
          this.#binding.add(uid);
          void this.#bind(pod).finally(() => this.#binding.delete(uid));
        }
        continue;
      }
      if (nodeName !== NODE_NAME) continue;
      seen.add(uid);
      const rec = this.#pods.get(uid);
      if (isTerminating(pod)) {
        if (rec && !rec.stopping) void this.#stop(rec, true);
        else if (!rec) void this.#finalize(pod);
        continue;
      }
      if (!rec && !isFinished(pod)) void this.#start(pod);
      else if (rec?.runner && !rec.stopping && Date.now() - (rec.refreshed ?? 0) > VOLUME_REFRESH_MS)
        void this.#refreshVolumes(pod, rec);
    }
    for (const rec of this.#pods.values()) if (!seen.has(rec.uid) && !rec.stopping) void this.#stop(rec, false);
  }

  // A provisioned volume seen earlier and now deleted (its claim is gone, reclaim policy Delete) loses its directory.
  #reclaim(volumes: V1PersistentVolume[]): void {
    const now = new Map(volumes.map((v) => [v.metadata?.name ?? '', v.spec?.hostPath?.path]));
    for (const [name, path] of this.#seenVolumes)
      if (!now.has(name) && path?.startsWith(`${volumesDir(this.#d.paths)}/`)) {
        rmSync(path, { recursive: true, force: true });
        this.#d.logger.info({ volume: name }, 'removed the directory of a deleted volume');
      }
    this.#seenVolumes = now;
  }

  // ConfigMap, Secret, downward API and projected volumes of running pods are written again now and then,
  // as the kubelet's sync loop does, so edits reach the pods (subPath mounts keep the file they had).
  async #refreshVolumes(pod: V1Pod, rec: PodRecord): Promise<void> {
    rec.refreshed = Date.now();
    if (!rec.net || !(pod.spec?.volumes ?? []).some((v) => v.configMap || v.secret || v.downwardAPI || v.projected))
      return;
    await prepareVolumes(pod, {
      dir: podVolumesDir(this.#d.paths, rec.uid),
      volumesDir: volumesDir(this.#d.paths),
      lookup: this.#lookup,
      ...this.#storage,
      claimedBy: () => undefined,
      token: rec.token,
      podIP: rec.net.ip,
      generation: ++this.#generation,
      log: () => undefined,
      apiOnly: true,
    }).catch((err: unknown) =>
      this.#d.logger.debug({ pod: `${rec.namespace}/${rec.name}`, err: String(err) }, 'refreshing volumes failed'),
    );
  }

  /** runningPods counts the pods with a live runner, for status output. */
  runners(): number {
    return [...this.#pods.values()].filter((r) => r.runner && r.runner.exitCode === null).length;
  }

  async #bind(pod: V1Pod): Promise<void> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    try {
      await this.#d.clients.core.createNamespacedBinding({
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name },
          target: { apiVersion: 'v1', kind: 'Node', name: NODE_NAME },
        },
      });
    } catch {
      // Servers without the binding subresource: set spec.nodeName directly.
      await this.#d.clients.core
        .patchNamespacedPod({ namespace, name, body: [{ op: 'add', path: '/spec/nodeName', value: NODE_NAME }] })
        .catch((err: unknown) =>
          this.#d.logger.warn({ pod: `${namespace}/${name}`, err: String(err) }, 'binding pod failed'),
        );
    }
  }

  async #start(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid as string;
    const rec: PodRecord = {
      uid,
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      claims: [],
      reports: [],
      startTime: new Date().toISOString(),
      stopping: false,
      graceSeconds: pod.spec?.terminationGracePeriodSeconds ?? 30,
      statusDirty: false,
      statusBusy: false,
    };
    this.#pods.set(uid, rec);
    const log = this.#d.logger.child({ pod: `${rec.namespace}/${rec.name}` });
    const containers = pod.spec?.containers ?? [];
    const unknown = containers.filter((c) => !programFor(c.image ?? '', c.args ?? [], this.#d.image.layout));
    if (unknown.length > 0) {
      rec.reports = containers.map((c) => ({
        name: c.name,
        ready: false,
        started: false,
        restartCount: 0,
        state: unknown.includes(c)
          ? {
              waiting: {
                reason: 'ImagePullBackOff',
                message: `Back-off pulling image "${c.image}": the devnet sandbox runs no registry images; known images: ${KNOWN_IMAGES.join(', ')}`,
              },
            }
          : { waiting: { reason: 'PodInitializing' } },
      }));
      log.info({ images: unknown.map((c) => c.image) }, 'unknown image');
      this.#writeStatus(rec);
      return;
    }
    try {
      const ip = this.#ipam.allocate();
      if (!ip) throw new Error('no free pod address on the node');
      const net: PodNetwork = { netns: podNetns(this.#d.paths, uid), link: podLinkName(ip), ip };
      rec.net = net;
      const resolved = await this.#plans(pod, ip);
      if (!resolved || rec.stopping) return;
      await setupPodNetwork(this.#d.paths, net, rec.namespace, this.#d.journal, this.#d.exec);
      if (rec.stopping) {
        // deleted while its namespace was being made: #stop may have run before the namespace existed
        await teardownPodNetwork(net, this.#d.exec);
        return;
      }
      for (const { name, value } of podSysctls(pod)) {
        await this.#d.exec('ip', ['netns', 'exec', net.netns, 'sysctl', '-qw', `${name}=${value}`]);
      }
      if (resolved.plans.some((c) => c.program.kind === 'exec')) {
        await this.#d.image.staged.catch((err: Error) => {
          throw new Error(`staging the gateway image failed: ${err.message}`);
        });
        if (rec.stopping) return;
      }
      this.#spawnRunner(rec, pod, resolved.plans, resolved.serviceAccount, log);
    } catch (err) {
      log.error({ err: String(err) }, 'starting pod failed');
      rec.reports = containers.map((c) => ({
        name: c.name,
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'CreateContainerError', message: (err as Error).message } },
      }));
      this.#writeStatus(rec);
    }
  }

  /** #plans resolves container programs, environments and the service account token; on a config error it reports it and retries later. */
  async #plans(
    pod: V1Pod,
    ip: string,
  ): Promise<{ plans: ContainerPlan[]; serviceAccount: PodPlan['serviceAccount'] } | undefined> {
    const uid = pod.metadata?.uid as string;
    const rec = this.#pods.get(uid) as PodRecord;
    const containers = pod.spec?.containers ?? [];
    try {
      const serviceAccount = await this.#serviceAccount(pod);
      const prepared = await prepareVolumes(pod, {
        dir: podVolumesDir(this.#d.paths, uid),
        volumesDir: volumesDir(this.#d.paths),
        lookup: this.#lookup,
        ...this.#storage,
        claimedBy: (ns, claim) =>
          [...this.#pods.values()].find(
            (r) => r.uid !== uid && r.namespace === ns && r.claims.includes(claim) && !r.stopping,
          )?.name,
        token: serviceAccount?.token,
        podIP: ip,
        generation: ++this.#generation,
        log: (m) => this.#d.logger.info({ pod: `${rec.namespace}/${rec.name}` }, m),
      });
      rec.claims = [...prepared.values()].flatMap((v) => (v.claim ? [v.claim] : []));
      rec.token = serviceAccount?.token;
      rec.refreshed = Date.now();
      const plans: ContainerPlan[] = [];
      for (const c of containers) {
        plans.push({
          name: c.name,
          image: c.image ?? '',
          program: programFor(c.image ?? '', c.args ?? [], this.#d.image.layout) as ContainerPlan['program'],
          env: await containerEnv(pod, c, ip, this.#lookup),
          ...(c.workingDir ? { workingDir: c.workingDir } : {}),
          security: containerSecurity(pod, c),
          ...(c.readinessProbe ? { readinessProbe: toProbe(c.readinessProbe, c) as Probe } : {}),
          ...(c.livenessProbe ? { livenessProbe: toProbe(c.livenessProbe, c) as Probe } : {}),
          mounts: containerMounts(c, prepared),
        });
      }
      podSysctls(pod);
      return { plans, serviceAccount };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      rec.reports = containers.map((c) => ({
        name: c.name,
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'CreateContainerConfigError', message: err.message } },
      }));
      this.#writeStatus(rec);
      // Forget the pod so the next sync after the retry delay starts it again.
      if (rec.net) this.#ipam.release(rec.net.ip);
      rec.net = undefined;
      rec.retry = setTimeout(() => {
        if (this.#pods.get(uid) === rec && !rec.stopping) {
          this.#pods.delete(uid);
          this.#d.resync();
        }
      }, err.retryMs);
      return undefined;
    }
  }

  /** #serviceAccount requests a token for the pod's service account (TokenRequest API), unless automount is off. */
  async #serviceAccount(pod: V1Pod): Promise<PodPlan['serviceAccount']> {
    if (pod.spec?.automountServiceAccountToken === false) return undefined;
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.spec?.serviceAccountName || 'default';
    try {
      const tr = await this.#d.clients.core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { audiences: [], expirationSeconds: 48 * 3600 } },
      });
      const token = tr.status?.token;
      return token ? { token, caCrt: this.#d.api.caCertPem, namespace } : undefined;
    } catch (err) {
      // A new namespace's `default` ServiceAccount may not exist yet: wait for the controller, like admission would.
      if (apiErrorCode(err) === 404) throw new ConfigError(`serviceaccount "${name}" not found`, 100);
      throw err;
    }
  }

  #spawnRunner(
    rec: PodRecord,
    pod: V1Pod,
    containers: ContainerPlan[],
    serviceAccount: PodPlan['serviceAccount'],
    log: Logger,
  ): void {
    const net = rec.net as PodNetwork;
    const dir = podRunDir(this.#d.paths, rec.namespace, rec.name);
    mkdirSync(dir, { recursive: true });
    const logFd = openSync(join(dir, 'pod.log'), 'a');
    const plan: PodPlan = {
      namespace: rec.namespace,
      name: rec.name,
      podIP: net.ip,
      socketPath: join(dir, 'portforward.sock'),
      logDir: dir,
      restartPolicy: (pod.spec?.restartPolicy as PodPlan['restartPolicy']) ?? 'Always',
      terminationGracePeriodSeconds: rec.graceSeconds,
      containers,
      resolvConf: resolvConfPath(net.netns),
      stagingDir: join(podVolumesDir(this.#d.paths, rec.uid), 'staging'),
      ...(serviceAccount ? { serviceAccount } : {}),
    };
    const runner = spawn('ip', ['netns', 'exec', net.netns, process.execPath, RUNNER], {
      stdio: ['ignore', logFd, logFd, 'ipc'],
    });
    closeSync(logFd);
    rec.runner = runner;
    // `devnet sandbox exec` enters the runner's namespaces (network, and mounts for resolv.conf and the token).
    if (runner.pid) writeFileSync(join(dir, 'runner.pid'), `${runner.pid}\n`);
    // ... with the first container's environment, as `kubectl exec` gives it (root-only: it may hold secrets).
    writeFileSync(join(dir, 'exec-env.json'), JSON.stringify(containers[0]?.env ?? {}), { mode: 0o600 });
    runner.on('message', (m: RunnerMessage) => {
      if (m.type === 'status') {
        rec.reports = m.containers;
        this.#writeStatus(rec);
      } else if (m.type === 'fatal') {
        log.error({ message: m.message }, 'pod runner failed');
      }
    });
    runner.on('exit', (code, signal) => {
      if (rec.stopping) return;
      // The runner held every container: report them dead rather than leave a stale Running.
      log.warn({ code, signal }, 'pod runner exited');
      const finishedAt = new Date().toISOString();
      rec.reports = containers.map((c, i) => ({
        name: c.name,
        ready: false,
        started: false,
        restartCount: rec.reports[i]?.restartCount ?? 0,
        state: {
          terminated: {
            exitCode: code ?? 137,
            reason: 'Error',
            message: `pod runner exited (${signal ?? code})`,
            finishedAt,
          },
        },
      }));
      this.#writeStatus(rec);
    });
    runner.on('error', (err) => log.error({ err: err.message }, 'pod runner could not start'));
    runner.send(plan);
    this.#writeStatus(rec);
  }

  #writeStatus(rec: PodRecord): void {
    rec.statusDirty = true;
    if (rec.statusBusy) return;
    rec.statusBusy = true;
    void (async () => {
      while (rec.statusDirty && !rec.stopping) {
        rec.statusDirty = false;
        await this.#putStatus(rec).catch((err: unknown) => {
          this.#d.logger.warn({ pod: `${rec.namespace}/${rec.name}`, err: String(err) }, 'pod status update failed');
        });
      }
      rec.statusBusy = false;
    })();
  }

  async #putStatus(rec: PodRecord): Promise<void> {
    const { core } = this.#d.clients;
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod =
        attempt === 0
          ? this.#d.getPod(rec.namespace, rec.name)
          : await core.readNamespacedPod({ namespace: rec.namespace, name: rec.name }).catch(ignoreNotFound);
      if (!pod || pod.metadata?.uid !== rec.uid) return;
      const status = podStatus(pod, {
        ...(rec.net && rec.runner ? { podIP: rec.net.ip } : {}),
        startTime: rec.startTime,
        reports: rec.reports,
        now: new Date().toISOString(),
      });
      try {
        await core.replaceNamespacedPodStatus({ namespace: rec.namespace, name: rec.name, body: { ...pod, status } });
        return;
      } catch (err) {
        const code = apiErrorCode(err);
        if (code === 404) return;
        if (code !== 409) throw err;
      }
    }
  }

  async #stop(rec: PodRecord, finalize: boolean): Promise<void> {
    rec.stopping = true;
    clearTimeout(rec.retry);
    const runner = rec.runner;
    if (runner && runner.exitCode === null && runner.signalCode === null) {
      await new Promise<void>((resolve) => {
        // The runner SIGKILLs its containers after the grace period itself; this is the backstop.
        const t = setTimeout(() => runner.kill('SIGKILL'), rec.graceSeconds * 1000 + 5000);
        runner.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        runner.kill('SIGTERM');
      });
    }
    const net = rec.net;
    rec.net = undefined;
    if (net) {
      await teardownPodNetwork(net, this.#d.exec);
      this.#ipam.release(net.ip);
    }
    rmSync(podRunDir(this.#d.paths, rec.namespace, rec.name), { recursive: true, force: true });
    rmSync(podVolumesDir(this.#d.paths, rec.uid), { recursive: true, force: true });
    this.#pods.delete(rec.uid);
    if (finalize) {
      const pod = this.#d.getPod(rec.namespace, rec.name);
      if (pod) await this.#finalize(pod);
    }
  }

  /** #finalize deletes a terminating pod for good once its containers are gone. */
  async #finalize(pod: V1Pod): Promise<void> {
    await this.#d.clients.core
      .deleteNamespacedPod({
        namespace: pod.metadata?.namespace ?? 'default',
        name: pod.metadata?.name ?? '',
        gracePeriodSeconds: 0,
        body: { preconditions: { uid: pod.metadata?.uid } },
      })
      .catch(ignoreNotFound)
      .catch((err: unknown) => this.#d.logger.warn({ err: String(err) }, 'finalizing pod failed'));
  }

  /** close stops every pod and removes its namespace. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#pods.values()].map((r) => this.#stop(r, false)));
  }
}
