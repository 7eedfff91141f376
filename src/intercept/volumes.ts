// The target pod's volumes as the laptop sees them under DEVNET_ROOT
// (`devnet intercept --mount`), computed by pure functions: planVolumes
// says, for each volumeMount of the container, where it goes and how
// (files from the Kubernetes API, a claim served by the intercept pod, or
// not available and why); renderVolume computes the files of an API-backed
// volume the way the kubelet lays them out (keys or items, modes, the
// downward API's formats).
import type {
  V1ConfigMap,
  V1Container,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { fieldPathValue, resourceFieldValue } from './env.ts';

/** VolumeMountPlan is one of the container's volume mounts, as the laptop gets it. */
export interface VolumeMountPlan {
  volume: string;
  /** mountPath is the container's path: the laptop's DIR + mountPath. */
  mountPath: string;
  subPath?: string;
  /** source describes the volume ("configMap hello-config", "persistentVolumeClaim data-db-0"). */
  source: string;
  /** how: files written from the API, a claim read through the intercept pod, or none. */
  how: 'api' | 'claim' | 'none';
  /** reason says why a volume is not available (how = none). */
  reason?: string;
  claim?: string;
}

/** isCleanPath accepts an absolute path below / with no `.`/`..` segments, no doubled or trailing slash. */
export function isCleanPath(p: string): boolean {
  return p.startsWith('/') && p.length > 1 && p.length < 4096 && isCleanRelative(p.slice(1));
}

/** isCleanRelative accepts a relative path below its directory (a key or an item's path). */
export function isCleanRelative(p: string): boolean {
  return (
    p.length > 0 &&
    p.length < 4096 &&
    !p.startsWith('/') &&
    !p.includes('\0') &&
    p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..')
  );
}

function describe(v: V1Volume): string {
  if (v.configMap) return `configMap ${v.configMap.name}`;
  if (v.secret) return `secret ${v.secret.secretName}`;
  if (v.projected) return 'projected';
  if (v.downwardAPI) return 'downwardAPI';
  if (v.persistentVolumeClaim) return `persistentVolumeClaim ${v.persistentVolumeClaim.claimName}`;
  if (v.emptyDir) return 'emptyDir';
  if (v.hostPath) return `hostPath ${v.hostPath.path}`;
  const kind = Object.keys(v).find((k) => k !== 'name');
  return kind ?? 'unknown';
}

/**
 * claimProblem says why the intercept pod cannot mount a claim read-only, or
 * undefined when it can: ReadOnlyMany and ReadWriteMany claims mount anywhere,
 * ReadWriteOnce ones on the target pod's node (the intercept pod is pinned
 * there); a ReadWriteOncePod claim belongs to one pod only.
 */
export function claimProblem(
  claim: V1PersistentVolumeClaim | undefined,
  name: string,
  pod: string,
): string | undefined {
  if (!claim) return `PersistentVolumeClaim ${name} does not exist`;
  const phase = claim.status?.phase ?? 'Pending';
  if (phase !== 'Bound') return `PersistentVolumeClaim ${name} is ${phase}, not Bound`;
  const modes = claim.status?.accessModes ?? claim.spec?.accessModes ?? [];
  if (modes.some((m) => m === 'ReadOnlyMany' || m === 'ReadWriteMany' || m === 'ReadWriteOnce')) return undefined;
  if (modes.includes('ReadWriteOncePod'))
    return `PersistentVolumeClaim ${name} is ReadWriteOncePod: only one pod may mount it, and ${pod} does`;
  return `PersistentVolumeClaim ${name} has no access mode devnet can share (${modes.join(', ') || 'none'})`;
}

/** planVolumes lists the container's volume mounts with how each reaches the laptop. */
export function planVolumes(
  pod: V1Pod,
  container: V1Container,
  claims: (name: string) => V1PersistentVolumeClaim | undefined,
): VolumeMountPlan[] {
  const podName = pod.metadata?.name ?? '?';
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const out: VolumeMountPlan[] = [];
  for (const m of container.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    const base: VolumeMountPlan = {
      volume: m.name,
      mountPath: m.mountPath,
      ...(m.subPath ? { subPath: m.subPath } : {}),
      source: v ? describe(v) : 'missing',
      how: 'none',
    };
    const none = (reason: string) => out.push({ ...base, reason });
    if (!v) none(`the pod has no volume ${m.name}`);
    else if (!isCleanPath(m.mountPath)) none(`mount path "${m.mountPath}" is not a clean absolute path`);
    else if (m.subPath !== undefined && m.subPath !== '' && !isCleanRelative(m.subPath))
      none(`subPath "${m.subPath}" leaves its volume`);
    else if (m.subPathExpr) none('subPathExpr is not supported by devnet');
    else if (v.configMap || v.secret || v.projected || v.downwardAPI) out.push({ ...base, how: 'api' });
    else if (v.persistentVolumeClaim) {
      const name = v.persistentVolumeClaim.claimName;
      const problem = claimProblem(claims(name), name, podName);
      if (problem) none(problem);
      else out.push({ ...base, how: 'claim', claim: name });
    } else if (v.emptyDir)
      none("emptyDir is the pod's own scratch space: it lives and dies with that pod, which devnet does not enter");
    else if (v.hostPath) none("hostPath is a directory on the pod's node, which devnet does not reach");
    else none(`${describe(v)} volumes are not supported by devnet`);
  }
  return out;
}

/** File is one file of a rendered volume (path relative to the volume's root). */
export interface File {
  path: string;
  data: Buffer;
  mode: number;
}

/** VolumeSources are what rendering reads: objects by name (undefined: missing) and service account tokens by item path. */
export interface VolumeSources {
  configMap(name: string): V1ConfigMap | undefined;
  secret(name: string): V1Secret | undefined;
  /** token returns the token for a projected serviceAccountToken source (keyed by its path). */
  token(path: string): string | undefined;
}

/** Needs are the objects a volume reads, so they can be fetched and watched. */
export interface Needs {
  configMaps: string[];
  secrets: string[];
  /** tokens are projected serviceAccountToken sources: item path, audience, lifetime. */
  tokens: { path: string; audience: string; expirationSeconds: number }[];
  /** pod: the volume shows the pod's own fields (downward API). */
  pod: boolean;
}

/** needsOf lists what a volume reads. */
export function needsOf(v: V1Volume): Needs {
  const n: Needs = { configMaps: [], secrets: [], tokens: [], pod: false };
  if (v.configMap?.name) n.configMaps.push(v.configMap.name);
  if (v.secret?.secretName) n.secrets.push(v.secret.secretName);
  if (v.downwardAPI) n.pod = true;
  for (const s of v.projected?.sources ?? []) {
    if (s.configMap?.name) n.configMaps.push(s.configMap.name);
    if (s.secret?.name) n.secrets.push(s.secret.name);
    if (s.downwardAPI) n.pod = true;
    if (s.serviceAccountToken)
      n.tokens.push({
        path: s.serviceAccountToken.path,
        audience: s.serviceAccountToken.audience ?? '',
        expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3600,
      });
  }
  return n;
}

// Go's %q for the downward API's labels/annotations files (key="value" per line, sorted).
function quoted(s: string): string {
  return JSON.stringify(s);
}

function keyValues(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${quoted((m as Record<string, string>)[k] as string)}`)
    .join('\n');
}

/** RenderResult is a volume's files, and what could not be rendered. */
export interface RenderResult {
  files: File[];
  problems: string[];
}

type Items = { key: string; path: string; mode?: number }[] | undefined; // V1KeyToPath

function keyed(
  data: Map<string, Buffer>,
  items: Items,
  mode: number,
  optional: boolean,
  what: string,
  r: RenderResult,
): void {
  const chosen = items && items.length > 0 ? items : [...data.keys()].map((key) => ({ key, path: key }));
  for (const it of chosen) {
    const value = data.get(it.key);
    if (value === undefined) {
      if (!optional) r.problems.push(`${what} has no key ${it.key}`);
      continue;
    }
    if (!isCleanRelative(it.path)) {
      r.problems.push(`${what}: item path "${it.path}" leaves the volume`);
      continue;
    }
    r.files.push({ path: it.path, data: value, mode: (it as { mode?: number }).mode ?? mode });
  }
}

function configMapData(cm: V1ConfigMap): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(cm.data ?? {})) m.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) m.set(k, Buffer.from(v, 'base64'));
  return m;
}

function secretData(s: V1Secret): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(s.data ?? {})) m.set(k, Buffer.from(v, 'base64'));
  for (const [k, v] of Object.entries(s.stringData ?? {})) if (!m.has(k)) m.set(k, Buffer.from(v, 'utf8'));
  return m;
}

function downward(
  pod: V1Pod,
  container: V1Container,
  items: NonNullable<V1Volume['downwardAPI']>['items'],
  mode: number,
  r: RenderResult,
): void {
  for (const it of items ?? []) {
    if (!isCleanRelative(it.path)) {
      r.problems.push(`downwardAPI: item path "${it.path}" leaves the volume`);
      continue;
    }
    let value: string | undefined;
    if (it.fieldRef) {
      const f = it.fieldRef.fieldPath;
      value =
        f === 'metadata.labels'
          ? keyValues(pod.metadata?.labels)
          : f === 'metadata.annotations'
            ? keyValues(pod.metadata?.annotations)
            : fieldPathValue(pod, f);
      if (value === undefined) r.problems.push(`downwardAPI: unsupported fieldPath ${f}`);
    } else if (it.resourceFieldRef) {
      const c = it.resourceFieldRef.containerName
        ? pod.spec?.containers.find((x) => x.name === it.resourceFieldRef?.containerName)
        : container;
      value = c ? resourceFieldValue(pod, c, it.resourceFieldRef, r.problems, it.path) : undefined;
    }
    if (value !== undefined) r.files.push({ path: it.path, data: Buffer.from(value, 'utf8'), mode: it.mode ?? mode });
  }
}

/** renderVolume computes the files of an API-backed volume (configMap, secret, downwardAPI, projected). */
export function renderVolume(pod: V1Pod, container: V1Container, v: V1Volume, src: VolumeSources): RenderResult {
  const r: RenderResult = { files: [], problems: [] };
  if (v.configMap) {
    const name = v.configMap.name ?? '';
    const cm = src.configMap(name);
    if (!cm) {
      if (!v.configMap.optional) r.problems.push(`configMap ${name} does not exist`);
    } else
      keyed(
        configMapData(cm),
        v.configMap.items,
        v.configMap.defaultMode ?? 0o644,
        !!v.configMap.optional,
        `configMap ${name}`,
        r,
      );
  } else if (v.secret) {
    const name = v.secret.secretName ?? '';
    const s = src.secret(name);
    if (!s) {
      if (!v.secret.optional) r.problems.push(`secret ${name} does not exist`);
    } else
      keyed(secretData(s), v.secret.items, v.secret.defaultMode ?? 0o644, !!v.secret.optional, `secret ${name}`, r);
  } else if (v.downwardAPI) {
    downward(pod, container, v.downwardAPI.items, v.downwardAPI.defaultMode ?? 0o644, r);
  } else if (v.projected) {
    const mode = v.projected.defaultMode ?? 0o644;
    for (const s of v.projected.sources ?? []) {
      if (s.configMap) {
        const name = s.configMap.name ?? '';
        const cm = src.configMap(name);
        if (cm) keyed(configMapData(cm), s.configMap.items, mode, !!s.configMap.optional, `configMap ${name}`, r);
        else if (!s.configMap.optional) r.problems.push(`configMap ${name} does not exist`);
      } else if (s.secret) {
        const name = s.secret.name ?? '';
        const sec = src.secret(name);
        if (sec) keyed(secretData(sec), s.secret.items, mode, !!s.secret.optional, `secret ${name}`, r);
        else if (!s.secret.optional) r.problems.push(`secret ${name} does not exist`);
      } else if (s.downwardAPI) downward(pod, container, s.downwardAPI.items, mode, r);
      else if (s.serviceAccountToken) {
        const path = s.serviceAccountToken.path;
        const token = src.token(path);
        if (!isCleanRelative(path)) r.problems.push(`serviceAccountToken path "${path}" leaves the volume`);
        else if (token === undefined) r.problems.push(`no service account token for ${path}`);
        else r.files.push({ path, data: Buffer.from(token, 'utf8'), mode });
      } else r.problems.push(`projected source ${Object.keys(s).join(',')} is not supported by devnet`);
    }
  }
  return r;
}

/** selectSubPath keeps what a subPath mount shows: the files below `subPath`, re-rooted (or the one file it names). */
export function selectSubPath(files: File[], subPath: string | undefined): File[] {
  if (!subPath) return files;
  const out: File[] = [];
  for (const f of files) {
    if (f.path === subPath) out.push({ ...f, path: '' });
    else if (f.path.startsWith(`${subPath}/`)) out.push({ ...f, path: f.path.slice(subPath.length + 1) });
  }
  return out;
}

/** mountOf finds the volume a mount plan names. */
export function volumeOf(pod: V1Pod, m: Pick<V1VolumeMount, 'name'> | { volume: string }): V1Volume | undefined {
  const name = 'volume' in m ? m.volume : m.name;
  return pod.spec?.volumes?.find((v) => v.name === name);
}
