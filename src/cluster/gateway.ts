// Installing, finding and removing the gateway (`devnet gateway
// install|status|uninstall`, and what `devnet connect` does when the gateway
// is missing or of another version). The objects come from the pure
// gatewayManifests(); this file applies them and watches the result, turning
// what can go wrong (forbidden, image pull failure, not ready in time) into
// messages that say what to do.
import { randomBytes } from 'node:crypto';
import {
  type CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { DevnetError } from '../errors.ts';
import { restoreAll } from '../intercept/reconcile.ts';
import { fingerprintOf, type GatewayCertificate, makeCertificate } from '../tls/certificate.ts';
import { VERSION } from '../version.ts';
import {
  GATEWAY_APP_LABEL,
  GATEWAY_NAME,
  GATEWAY_SECRET,
  GATEWAY_TLS_SECRET,
  GATEWAY_TUNNEL_PORT,
  gatewayImage,
  gatewayManifests,
  type KubeObject,
} from './gateway-manifests.ts';
import { clusterError, isNotFound, statusOf } from './kube.ts';

export { GATEWAY_TUNNEL_PORT };

/** GatewayInfo is a ready gateway: its pod, version, session token and the direct listener's pinned certificate. */
export interface GatewayInfo {
  namespace: string;
  pod: string;
  podIP: string;
  version: string;
  token: string;
  /** tlsFingerprint is the SHA-256 pin of the direct listener's certificate ('' when the Secret has none). */
  tlsFingerprint: string;
}

/** GatewayDeps are the clients and clock the gateway functions use. */
export interface GatewayDeps {
  kc: KubeConfig;
  core: CoreV1Api;
  progress(message: string): void;
  /** sleep waits (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
}

const sleepReal = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const SELECTOR = `app.kubernetes.io/name=${GATEWAY_APP_LABEL}`;

/** podReady reports whether a pod is Running with its Ready condition true and not being deleted. */
export function podReady(p: V1Pod): boolean {
  return (
    p.status?.phase === 'Running' &&
    !p.metadata?.deletionTimestamp &&
    (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** PodProblem is why a pod cannot become ready, and what kind of fix it needs. */
export interface PodProblem {
  kind: 'image' | 'crash' | 'config';
  message: string;
}

const indent = (text: string) => text.replace(/^/gm, '    ');

/**
 * KUBELET_CACHE_CATCHING_UP matches what a kubelet says while its watch of a
 * Secret or ConfigMap created moments ago has not caught up (seen on a real
 * v1.34 kubelet right after install): it retries by itself, so it is no problem yet.
 */
const KUBELET_CACHE_CATCHING_UP = /^failed to sync (secret|configmap) cache: timed out waiting for the condition/;

/**
 * podProblem explains why a pod cannot become ready (image pull, crash
 * loop, config), or undefined while it may still. A crashing container is
 * described by its last exit: code, reason and the message the runtime kept
 * (with terminationMessagePolicy FallbackToLogsOnError, the log's tail).
 */
export function podProblem(p: V1Pod): PodProblem | undefined {
  for (const cs of p.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting;
    const last = cs.lastState?.terminated ?? cs.state?.terminated;
    if (w?.reason && ['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName'].includes(w.reason)) {
      return {
        kind: 'image',
        message: `cannot pull image ${cs.image}: ${w.reason}${w.message ? ` (${w.message})` : ''}`,
      };
    }
    if (w?.reason === 'CrashLoopBackOff' || (cs.state?.terminated && cs.state.terminated.exitCode !== 0)) {
      const exit = last
        ? `exited with code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}${last.message ? `:\n${indent(last.message.trimEnd())}` : ''}`
        : `fails: ${w?.reason}${w?.message ? ` (${w.message})` : ''}`;
      return { kind: 'crash', message: `container ${cs.name} ${exit}` };
    }
    if (w?.reason === 'CreateContainerConfigError' && KUBELET_CACHE_CATCHING_UP.test(w.message ?? '')) continue;
    if (w?.reason && ['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'].includes(w.reason)) {
      return {
        kind: 'config',
        message: `container ${cs.name} fails: ${w.reason}${w.message ? ` (${w.message})` : ''}`,
      };
    }
  }
  return undefined;
}

/** problemHint says what to do about a pod problem, per kind. */
export function problemHint(problem: PodProblem, namespace: string, pod: string): string {
  switch (problem.kind) {
    case 'image':
      return `Check \`kubectl describe pod -n ${namespace} ${pod}\`: the image must be reachable from the cluster's nodes (a private registry needs an image pull secret).`;
    case 'crash':
      return `See \`kubectl logs -n ${namespace} ${pod} --previous\` for the whole log.`;
    case 'config':
      return `See \`kubectl describe pod -n ${namespace} ${pod}\` for the object it is missing.`;
  }
}

async function readOrUndefined(api: KubernetesObjectApi, obj: KubeObject): Promise<KubernetesObject | undefined> {
  try {
    return await api.read(obj as unknown as KubernetesObject & { metadata: { name: string } });
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** InstalledGateway is what the gateway Deployment runs. */
export interface InstalledGateway {
  version: string;
  image: string | undefined;
}

/** installedGateway reads the gateway Deployment's version label and image, or undefined if it is not installed. */
export async function installedGateway(deps: GatewayDeps, namespace: string): Promise<InstalledGateway | undefined> {
  const api = KubernetesObjectApi.makeApiClient(deps.kc);
  const dep = await readOrUndefined(api, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: GATEWAY_NAME, namespace },
  }).catch((err) => {
    throw clusterError(`reading the gateway in namespace ${namespace}`, err);
  });
  if (!dep) return undefined;
  return { version: dep.metadata?.labels?.['app.kubernetes.io/version'] ?? 'unknown', image: deploymentImage(dep) };
}

function deploymentImage(dep: KubernetesObject): string | undefined {
  const spec = (dep as { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } }).spec;
  return spec?.template?.spec?.containers?.[0]?.image;
}

/** installedVersion reads the version label of the gateway Deployment, or undefined if it is not installed. */
export async function installedVersion(deps: GatewayDeps, namespace: string): Promise<string | undefined> {
  return (await installedGateway(deps, namespace))?.version;
}

const secretField = (s: KubernetesObject | undefined, key: string): string => {
  const b64 = (s as { data?: Record<string, string> } | undefined)?.data?.[key];
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : '';
};

/**
 * installGateway applies the gateway's objects: creates what is missing and
 * replaces what differs (an upgrade), keeping an existing token and
 * certificate. The direct listener's certificate is made here, by the
 * installer, and its pin written beside the token, where laptops read it.
 */
export async function installGateway(deps: GatewayDeps, namespace: string, version = VERSION): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(deps.kc);
  const secret = (name: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace } });
  const what = (kind: string, name: string) => `${kind} ${namespace}/${name}`;
  const existingTls = await readOrUndefined(api, secret(GATEWAY_TLS_SECRET)).catch(() => undefined);
  const existingCert = secretField(existingTls, 'tls.crt');
  let tls: GatewayCertificate | undefined;
  try {
    tls = existingCert ? { certPem: existingCert, keyPem: '', fingerprint: fingerprintOf(existingCert) } : undefined;
  } catch {
    tls = undefined; // not a certificate: make a new one
  }
  const fresh = tls === undefined;
  tls ??= makeCertificate('devnet-gateway');
  const objects = gatewayManifests({ namespace, version, token: randomBytes(32).toString('base64url'), tls });
  for (const obj of objects) {
    const name = obj.metadata.name as string;
    try {
      const existing = await readOrUndefined(api, obj);
      if (!existing) {
        deps.progress(`creating ${what(obj.kind, name)}`);
        await api.create(obj as KubernetesObject);
      } else if (obj.kind === 'Namespace') {
        // Never replace a namespace.
      } else if (obj.kind === 'Secret') {
        // Keep the token and certificate already issued; fill in what an older version or a GitOps copy left empty.
        const data = { ...((existing as { data?: Record<string, string> }).data ?? {}) };
        const b64 = (v: string) => Buffer.from(v).toString('base64');
        if (name === GATEWAY_TLS_SECRET && fresh) {
          data['tls.crt'] = b64(tls.certPem);
          data['tls.key'] = b64(tls.keyPem);
        } else if (name === GATEWAY_SECRET && secretField(existing, 'tls-fingerprint') !== tls.fingerprint) {
          data['tls-fingerprint'] = b64(tls.fingerprint);
        } else continue;
        deps.progress(`updating ${what(obj.kind, name)}`);
        await api.replace({ ...existing, data } as KubernetesObject);
      } else {
        const labels = (existing.metadata?.labels ?? {}) as Record<string, string>;
        const sameImage =
          obj.kind !== 'Deployment' || deploymentImage(existing) === deploymentImage(obj as KubernetesObject);
        if (labels['app.kubernetes.io/version'] === version && sameImage) continue;
        deps.progress(`upgrading ${what(obj.kind, name)} to ${version}`);
        await api.replace({
          ...obj,
          metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion },
        } as KubernetesObject);
      }
    } catch (err) {
      if (obj.kind === 'Namespace' && statusOf(err)?.code === 403) continue; // may exist; a later step will tell
      throw clusterError(`installing the gateway (${what(obj.kind, name)})`, err);
    }
  }
}

/** waitForGateway waits for a ready gateway pod and reads the token; it fails fast on an image or config problem. */
export async function waitForGateway(deps: GatewayDeps, namespace: string, timeoutMs = 120_000): Promise<GatewayInfo> {
  const sleep = deps.sleep ?? sleepReal;
  const deadline = Date.now() + timeoutMs;
  let lastState = '';
  for (;;) {
    let pods: V1Pod[];
    try {
      pods = (await deps.core.listNamespacedPod({ namespace, labelSelector: SELECTOR })).items;
    } catch (err) {
      throw clusterError(`looking for the gateway in namespace ${namespace}`, err);
    }
    const ready = pods.filter(podReady).sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
    const pod = ready[0];
    if (pod) {
      const { token, tlsFingerprint } = await readToken(deps, namespace);
      return {
        namespace,
        pod: pod.metadata?.name as string,
        podIP: pod.status?.podIP ?? '',
        version: pod.metadata?.labels?.['app.kubernetes.io/version'] ?? 'unknown',
        token,
        tlsFingerprint,
      };
    }
    const problems = pods.map((p) => ({ pod: p, problem: podProblem(p) })).filter((x) => x.problem !== undefined);
    const first = problems[0];
    if (first?.problem && problems.length === pods.length) {
      const name = first.pod.metadata?.name ?? '';
      throw new DevnetError('cluster', `the gateway in namespace ${namespace} cannot start: ${first.problem.message}`, {
        hint: problemHint(first.problem, namespace, name),
      });
    }
    const state =
      pods.length === 0 ? 'waiting for the gateway pod to be scheduled' : 'waiting for the gateway pod to be ready';
    if (state !== lastState) deps.progress(state);
    lastState = state;
    if (Date.now() > deadline) {
      throw new DevnetError(
        'cluster',
        `the gateway in namespace ${namespace} was not ready within ${Math.round(timeoutMs / 1000)} s`,
        {
          hint: `See \`kubectl get pods -n ${namespace} -l ${SELECTOR}\` and its events.`,
        },
      );
    }
    await sleep(500);
  }
}

// readToken reads what laptops need from the gateway's Secret, with the user's own credentials.
async function readToken(deps: GatewayDeps, namespace: string): Promise<{ token: string; tlsFingerprint: string }> {
  try {
    const s = await deps.core.readNamespacedSecret({ name: GATEWAY_SECRET, namespace });
    const field = (k: string) => {
      const b64 = s.data?.[k];
      return (b64 ? Buffer.from(b64, 'base64').toString('utf8') : (s.stringData?.[k] ?? '')).trim();
    };
    const token = field('token');
    if (!token)
      throw new DevnetError('cluster', `the Secret ${namespace}/${GATEWAY_SECRET} has no token`, {
        hint: 'Run `devnet gateway install` again.',
      });
    return { token, tlsFingerprint: field('tls-fingerprint') };
  } catch (err) {
    throw clusterError(`reading the gateway's session token`, err);
  }
}

/** ensureGateway installs or upgrades the gateway when needed, then waits for it. */
export async function ensureGateway(deps: GatewayDeps, namespace: string, timeoutMs?: number): Promise<GatewayInfo> {
  const installed = await installedGateway(deps, namespace);
  const image = gatewayImage();
  if (installed?.version !== VERSION || installed.image !== image) {
    deps.progress(
      !installed
        ? `installing the gateway in namespace ${namespace}`
        : installed.version !== VERSION
          ? `upgrading the gateway from ${installed.version} to ${VERSION}`
          : `switching the gateway to image ${image}`,
    );
    await installGateway(deps, namespace);
  }
  return waitForGateway(deps, namespace, timeoutMs);
}

/** uninstallGateway restores every intercepted Service, then deletes the gateway's objects (not a namespace it did not create). */
export async function uninstallGateway(deps: GatewayDeps, namespace: string): Promise<string[]> {
  const api = KubernetesObjectApi.makeApiClient(deps.kc);
  const removed: string[] = [];
  for (const svc of await restoreAll({ kc: deps.kc, core: deps.core }, namespace)) {
    deps.progress(`restored Service ${svc}`);
    removed.push(`intercepts on Service ${svc}`);
  }
  for (const obj of gatewayManifests({ namespace }).reverse()) {
    if (obj.kind === 'Namespace') {
      const ns = await readOrUndefined(api, obj).catch(() => undefined);
      if (ns?.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'devnet') continue;
    }
    try {
      await api.delete(obj as KubernetesObject);
      removed.push(`${obj.kind} ${obj.metadata.name as string}`);
    } catch (err) {
      if (isNotFound(err)) continue;
      throw clusterError(`removing the gateway (${obj.kind} ${obj.metadata.name as string})`, err);
    }
  }
  return removed;
}
