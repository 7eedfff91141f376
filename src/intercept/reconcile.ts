// Applying intercept state to the cluster (the thin "apply" half of
// model.ts). The order keeps the Service pointing at ready pods at every
// moment: the intercept pod is created and Ready before the selector is
// patched; on the way out the selector is restored before the pod is
// deleted. Writes to the Service are read-modify-replace with its
// resourceVersion, retried on conflict, so concurrent owners never lose
// each other's intercepts.
import { randomBytes } from 'node:crypto';
import {
  type CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1ConfigMap,
  type V1Container,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1Secret,
  type V1Service,
} from '@kubernetes/client-node';
import { podProblem, podReady, problemHint } from '../cluster/gateway.ts';
import { GATEWAY_UID } from '../cluster/gateway-manifests.ts';
import { clusterError, isNotFound, statusOf } from '../cluster/kube.ts';
import { DevnetError } from '../errors.ts';
import { containerEnvironment, type PodEnv } from './env.ts';
import { withoutLapsed } from './lapse.ts';
import { type ClaimMount, interceptObjects, type PodIdentity } from './manifests.ts';
import {
  checkAdd,
  ENTRY_PREFIX,
  type Entry,
  entries,
  INTERCEPTED_LABEL,
  interceptObjectName,
  interceptPodLabels,
  interceptPodName,
  isIntercepted,
  originalSelector,
  originalServiceName,
  SERVICE_LABEL,
  withEntry,
  withoutEntries,
} from './model.ts';

/** KubeClients are the clients reconcile uses. */
export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
}

/** EngageOptions describe one intercept to put in place. */
export interface EngageOptions {
  namespace: string;
  service: string;
  entry: Entry;
  /** gateway is host:port of the gateway's intercept listener, as pods reach it. */
  gateway: string;
  podToken: string;
  progress(message: string): void;
  timeoutMs?: number;
  /** volumes: claims to mount if this intercept creates the pod (an existing pod keeps what it has). */
  volumes?: { claims: ClaimMount[]; sftpToken: string; node?: string; identity?: PodIdentity };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** readService reads a Service, turning a 404 into a user error. */
export async function readService(core: CoreV1Api, namespace: string, name: string): Promise<V1Service> {
  try {
    return await core.readNamespacedService({ name, namespace });
  } catch (err) {
    if (isNotFound(err))
      throw new DevnetError('user', `there is no Service ${name} in namespace ${namespace}`, {
        hint: `See \`kubectl get svc -n ${namespace}\`; pass -n NAMESPACE for another namespace.`,
      });
    throw clusterError(`reading Service ${namespace}/${name}`, err);
  }
}

/** TargetPort is a Service port with its numeric container port (and the container port's name when the Service used it). */
export type TargetPort = { name?: string; port: number; targetPort: number; targetName?: string };

/**
 * resolveTargetPorts maps each Service port to a numeric container port:
 * numbers as they are, names looked up in a pod the original selector picks.
 */
export async function resolveTargetPorts(core: CoreV1Api, svc: V1Service): Promise<TargetPort[]> {
  const ns = svc.metadata?.namespace as string;
  let pod: V1Pod | undefined;
  const out: TargetPort[] = [];
  for (const p of svc.spec?.ports ?? []) {
    let t = p.targetPort ?? p.port;
    if (typeof t === 'string' && /^\d+$/.test(t)) t = Number(t);
    if (typeof t === 'string') {
      if (!pod) {
        const sel = Object.entries(originalSelector(svc) ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: sel })).items[0];
      }
      const named = t;
      const found = pod?.spec?.containers.flatMap((c) => c.ports ?? []).find((cp) => cp.name === named);
      if (!found)
        throw new DevnetError('cluster', `Service port ${p.port} targets the named port "${named}", which no pod has`, {
          hint: 'devnet must know the container port number; start one of the Service’s pods first.',
        });
      out.push({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        targetPort: found.containerPort,
        targetName: named,
      });
      continue;
    }
    out.push({ ...(p.name ? { name: p.name } : {}), port: p.port, targetPort: t });
  }
  return out;
}

/** updateService re-reads, transforms and replaces a Service until it wins (conflicts retried). */
export async function updateService(
  core: CoreV1Api,
  namespace: string,
  name: string,
  change: (svc: V1Service) => V1Service | undefined,
): Promise<V1Service | undefined> {
  for (let attempt = 0; ; attempt++) {
    const svc = await readService(core, namespace, name);
    const next = change(svc);
    if (!next) return undefined;
    try {
      return await core.replaceNamespacedService({ name, namespace, body: next });
    } catch (err) {
      if (statusOf(err)?.code === 409 && attempt < 10) continue;
      throw clusterError(`updating Service ${namespace}/${name}`, err);
    }
  }
}

// apply creates an object, or replaces one left from an earlier intercept pod.
async function apply(api: KubernetesObjectApi, obj: KubernetesObject): Promise<void> {
  try {
    await api.create(obj);
  } catch (err) {
    if (statusOf(err)?.code !== 409) throw clusterError(`creating ${obj.kind} ${obj.metadata?.name}`, err);
    try {
      const cur = await api.read(obj as KubernetesObject & { metadata: { name: string } });
      await api.replace({ ...obj, metadata: { ...obj.metadata, resourceVersion: cur.metadata?.resourceVersion } });
    } catch (e) {
      throw clusterError(`updating ${obj.kind} ${obj.metadata?.name}`, e);
    }
  }
}

/** interceptPodsOf lists the intercept pods of a Service that are not being deleted. */
export async function interceptPodsOf(core: CoreV1Api, namespace: string, service: string): Promise<V1Pod[]> {
  const labelSelector = Object.entries(interceptPodLabels(service))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
  return pods.filter((p) => !p.metadata?.deletionTimestamp);
}

/** waitForPod waits until the intercept pod is Ready (or fails fast on an image/config problem). */
export async function waitForPod(core: CoreV1Api, namespace: string, name: string, timeoutMs: number): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await core.readNamespacedPod({ name, namespace }).catch((err: unknown) => {
      if (isNotFound(err))
        throw new DevnetError('cluster', `the intercept pod ${namespace}/${name} was deleted while starting`);
      throw clusterError(`reading pod ${namespace}/${name}`, err);
    });
    if (podReady(pod)) return pod;
    const problem = pod && podProblem(pod);
    if (problem)
      throw new DevnetError('cluster', `the intercept pod ${namespace}/${name} cannot start: ${problem.message}`, {
        hint: problemHint(problem, namespace, name),
      });
    if (Date.now() > deadline)
      throw new DevnetError(
        'cluster',
        `the intercept pod ${namespace}/${name} was not ready within ${timeoutMs / 1000} s`,
        {
          hint: `See \`kubectl describe pod -n ${namespace} ${name}\` and the gateway's logs.`,
        },
      );
    await sleep(100);
  }
}

/** engage creates the intercept pod (if the Service has none yet), waits for it, then records the intercept and patches the selector; it returns the pod. */
export async function engage(k: KubeClients, o: EngageOptions): Promise<V1Pod> {
  const { core } = k;
  const svc = await readService(core, o.namespace, o.service);
  const refused = checkAdd(svc, o.entry);
  if (refused) throw new DevnetError('user', refused.message, refused.hint ? { hint: refused.hint } : {});
  const existing = (
    await interceptPodsOf(core, o.namespace, o.service).catch((err: unknown) => {
      throw clusterError(`looking for intercept pods of ${o.namespace}/${o.service}`, err);
    })
  )[0];
  let podName = existing?.metadata?.name as string;
  if (!existing) {
    podName = interceptPodName(o.service, randomBytes(4).toString('hex'));
    const objects = interceptObjects({
      service: svc,
      original: originalSelector(svc) ?? {},
      targetPorts: await resolveTargetPorts(core, svc),
      gateway: o.gateway,
      token: o.podToken,
      podName,
      ...(o.volumes && o.volumes.claims.length > 0
        ? {
            claims: o.volumes.claims,
            sftpToken: o.volumes.sftpToken,
            ...(o.volumes.node ? { node: o.volumes.node } : {}),
            ...(o.volumes.identity ? { identity: o.volumes.identity } : {}),
          }
        : {}),
    });
    o.progress(`creating the intercept pod ${o.namespace}/${podName}`);
    const api = KubernetesObjectApi.makeApiClient(k.kc);
    for (const obj of objects) await apply(api, obj as KubernetesObject);
  }
  o.progress('waiting for the intercept pod to be ready');
  const pod = await waitForPod(core, o.namespace, podName, o.timeoutMs ?? 60_000);
  o.progress(`sending ${o.namespace}/${o.service} to the intercept pod`);
  await updateService(core, o.namespace, o.service, (s) => {
    const again = checkAdd(s, o.entry);
    if (again) throw new DevnetError('user', again.message, again.hint ? { hint: again.hint } : {});
    return withEntry(s, o.entry);
  });
  return pod;
}

/**
 * renew rewrites an intercept's lease, only while the Service still records
 * it for this session (read, then replace with that resourceVersion), so a
 * renewal racing a `leave` or an expiry can never bring the intercept back.
 * It returns false when the intercept is gone.
 */
export async function renew(core: CoreV1Api, namespace: string, service: string, entry: Entry): Promise<boolean> {
  const updated = await updateService(core, namespace, service, (s) => {
    const cur = entries(s).get(entry.name);
    if (!isIntercepted(s) || !cur || cur.session !== entry.session) return undefined;
    const out = structuredClone(s);
    (out.metadata as { annotations: Record<string, string> }).annotations[ENTRY_PREFIX + entry.name] =
      JSON.stringify(entry);
    return out;
  });
  return updated !== undefined;
}

/**
 * disengage removes intercepts from a Service; when none is left the
 * selector is restored first, then the intercept pod and its objects are
 * deleted. It returns whether the Service is back to its own selector.
 */
export async function disengage(k: KubeClients, namespace: string, service: string, names: string[]): Promise<boolean> {
  let last = false;
  try {
    await updateService(k.core, namespace, service, (s) => {
      const r = withoutEntries(s, names);
      last = r.last;
      return r.service;
    });
  } catch (err) {
    if (!(err instanceof DevnetError && err.category === 'user')) throw err; // the Service is gone: still clean up
    last = true;
  }
  if (last) await removeObjects(k, namespace, service);
  return last;
}

/**
 * restoreLapsed removes lapsed intercepts of any owner from a Service: only
 * those still holding the lease value they were judged by (a renewal since
 * makes them live again, and they stay), with the Service's resourceVersion
 * (conflicts re-read and re-checked). When none is left the selector is
 * restored first, then the intercept pod and its objects are deleted. It
 * returns the names removed and whether the Service is back to its own.
 */
export async function restoreLapsed(
  k: KubeClients,
  namespace: string,
  service: string,
  lapsed: { name: string; renewed: string }[],
): Promise<{ removed: string[]; restored: boolean }> {
  let removed: string[] = [];
  let last = false;
  await updateService(k.core, namespace, service, (s) => {
    const r = withoutLapsed(s, lapsed);
    removed = r?.removed ?? [];
    last = r?.last ?? false;
    return r?.service;
  });
  if (last) await removeObjects(k, namespace, service);
  return { removed, restored: last };
}

/** removeObjects deletes an intercept pod and the objects made for it (each may already be gone). */
export async function removeObjects(k: KubeClients, namespace: string, service: string): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(k.kc);
  const name = interceptObjectName(service);
  const pods = await interceptPodsOf(k.core, namespace, service).catch(() => []);
  const targets: KubernetesObject[] = [
    ...pods.map((p) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.metadata?.name, namespace } })),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: originalServiceName(service), namespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
  ];
  for (const t of targets)
    await api.delete(t).catch((err: unknown) => {
      if (!isNotFound(err)) throw clusterError(`deleting ${t.kind} ${namespace}/${t.metadata?.name}`, err);
    });
}

/**
 * restoreAll gives every intercepted Service its own selector back and
 * removes the intercept pods (`devnet gateway uninstall`: without the
 * gateway no intercept can work). It returns the Services restored.
 */
export async function restoreAll(k: KubeClients, namespace: string): Promise<string[]> {
  const done: string[] = [];
  for (const svc of await listIntercepted(k.core, namespace)) {
    const ns = svc.metadata?.namespace as string;
    const name = svc.metadata?.name as string;
    await disengage(k, ns, name, [...entries(svc).keys()]);
    done.push(`${ns}/${name}`);
  }
  return done;
}

/** listIntercepted lists the Services devnet has patched, in all namespaces when allowed, else in `namespace`. */
export async function listIntercepted(core: CoreV1Api, namespace: string): Promise<V1Service[]> {
  const labelSelector = `${INTERCEPTED_LABEL}=true`;
  try {
    return (await core.listServiceForAllNamespaces({ labelSelector })).items;
  } catch (err) {
    if (statusOf(err)?.code !== 403) throw clusterError('listing intercepted Services', err);
    return (await core.listNamespacedService({ namespace, labelSelector })).items;
  }
}

/** TargetEnv is the environment of one of the Service's pods, and which container it is. */
export interface TargetEnv extends PodEnv {
  pod: string;
  container: string;
}

/** Target is the pod an intercept stands in for, and the container serving the intercepted port. */
export interface Target {
  pod: V1Pod;
  container: V1Container;
}

/** targetPod finds a (preferably ready) pod the Service's original selector picks, and the container serving `targetPort`. */
export async function targetPod(core: CoreV1Api, svc: V1Service, targetPort: number): Promise<Target> {
  const ns = svc.metadata?.namespace as string;
  const sel = Object.entries(originalSelector(svc) ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: sel })).items.filter(
    (p) => !p.metadata?.labels?.[SERVICE_LABEL] && !p.metadata?.deletionTimestamp,
  );
  const pod = pods.find(podReady) ?? pods[0];
  if (!pod)
    throw new DevnetError(
      'cluster',
      `no pod of Service ${ns}/${svc.metadata?.name} to read the environment and volumes from`,
      {
        hint: 'Start the workload, or leave out --env-file, the command and --mount.',
      },
    );
  const containers = pod.spec?.containers ?? [];
  const container =
    containers.find((c) => (c.ports ?? []).some((p) => p.containerPort === targetPort)) ??
    (containers[0] as V1Container);
  return { pod, container };
}

/**
 * targetEnvironment reads what the target container sees: the namespace's
 * Services and the ConfigMaps and Secrets that container uses.
 */
export async function targetEnvironment(core: CoreV1Api, t: Target): Promise<TargetEnv> {
  const { pod, container } = t;
  const ns = pod.metadata?.namespace as string;
  const [services, kubernetes] = await Promise.all([
    core.listNamespacedService({ namespace: ns }).then((l) => l.items),
    core.readNamespacedService({ namespace: 'default', name: 'kubernetes' }).catch(() => undefined),
  ]);
  for (const s of services) s.metadata = { ...s.metadata, namespace: ns };
  const cms = new Map<string, V1ConfigMap | undefined>();
  const secrets = new Map<string, V1Secret | undefined>();
  const want = (m: Map<string, unknown>, name: string | undefined) => name && m.set(name, undefined);
  for (const f of container.envFrom ?? []) {
    want(cms, f.configMapRef?.name);
    want(secrets, f.secretRef?.name);
  }
  for (const e of container.env ?? []) {
    want(cms, e.valueFrom?.configMapKeyRef?.name);
    want(secrets, e.valueFrom?.secretKeyRef?.name);
  }
  const missing = (err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw clusterError('reading the pod’s configuration', err);
  };
  for (const name of cms.keys())
    cms.set(name, await core.readNamespacedConfigMap({ name, namespace: ns }).catch(missing));
  for (const name of secrets.keys())
    secrets.set(name, await core.readNamespacedSecret({ name, namespace: ns }).catch(missing));
  const env = containerEnvironment(pod, container, kubernetes ? [...services, kubernetes] : services, {
    configMap: (n) => cms.get(n),
    secret: (n) => secrets.get(n),
  });
  return { ...env, pod: pod.metadata?.name as string, container: container.name };
}

/** readClaims reads the PersistentVolumeClaims a pod's volumes name (undefined: it does not exist). */
export async function readClaims(
  core: CoreV1Api,
  pod: V1Pod,
): Promise<Map<string, V1PersistentVolumeClaim | undefined>> {
  const ns = pod.metadata?.namespace as string;
  const out = new Map<string, V1PersistentVolumeClaim | undefined>();
  for (const v of pod.spec?.volumes ?? []) {
    const name = v.persistentVolumeClaim?.claimName;
    if (!name || out.has(name)) continue;
    out.set(
      name,
      await core.readNamespacedPersistentVolumeClaim({ name, namespace: ns }).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw clusterError(`reading PersistentVolumeClaim ${ns}/${name}`, err);
      }),
    );
  }
  return out;
}

/** podIdentity is who the intercept pod should run as to read what the target container wrote (never root). */
export function podIdentity(t: Target): PodIdentity | undefined {
  const podSc = t.pod.spec?.securityContext;
  const sc = t.container.securityContext;
  const uid = sc?.runAsUser ?? podSc?.runAsUser;
  const gid = sc?.runAsGroup ?? podSc?.runAsGroup;
  const groups = [...(podSc?.fsGroup !== undefined ? [podSc.fsGroup] : []), ...(podSc?.supplementalGroups ?? [])];
  if (!uid || uid === 0) return groups.length > 0 ? { uid: GATEWAY_UID, gid: GATEWAY_UID, groups } : undefined;
  return { uid, gid: gid && gid !== 0 ? gid : uid, groups };
}
