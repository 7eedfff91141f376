// The environment an intercepted Service's pod sees, computed the way the
// kubelet does (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables), so a
// local process can run with it: service-link variables of the namespace
// (unless enableServiceLinks is false; the `kubernetes` Service's always),
// then envFrom, then env — later entries win, `$(VAR)` expands against what
// is defined so far — with valueFrom fieldRef, resourceFieldRef,
// configMapKeyRef and secretKeyRef. Pure: the objects are passed in.
import type { V1ConfigMap, V1Container, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';

/** EnvLookup fetches what env references (undefined when missing). */
export interface EnvLookup {
  configMap(name: string): V1ConfigMap | undefined;
  secret(name: string): V1Secret | undefined;
}

/** PodEnv is the computed environment and what could not be reproduced. */
export interface PodEnv {
  vars: Record<string, string>;
  warnings: string[];
}

/** EnvSyntax is an --env-syntax value. */
export type EnvSyntax = 'sh' | 'docker' | 'json';

/** serviceLinkVars returns the docker-link style variables for Services (kubelet: envvars.FromServices). */
export function serviceLinkVars(services: V1Service[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of [...services].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))) {
    const ip = s.spec?.clusterIP;
    if (!ip || ip === 'None' || s.spec?.type === 'ExternalName') continue;
    const name = (s.metadata?.name ?? '').toUpperCase().replace(/-/g, '_');
    const ports = s.spec?.ports ?? [];
    const first = ports[0];
    if (!first) continue;
    out[`${name}_SERVICE_HOST`] = ip;
    out[`${name}_SERVICE_PORT`] = String(first.port);
    for (const p of ports)
      if (p.name) out[`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
    const url = (p: (typeof ports)[number]) => `${(p.protocol ?? 'TCP').toLowerCase()}://${ip}:${p.port}`;
    out[`${name}_PORT`] = url(first);
    for (const p of ports) {
      const proto = p.protocol ?? 'TCP';
      const base = `${name}_PORT_${p.port}_${proto}`;
      out[base] = url(p);
      out[`${base}_PROTO`] = proto.toLowerCase();
      out[`${base}_PORT`] = String(p.port);
      out[`${base}_ADDR`] = ip;
    }
  }
  return out;
}

/** fieldPathValue resolves a downward-API fieldRef (undefined for a path the API server would refuse). */
export function fieldPathValue(pod: V1Pod, path: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2] as string] ?? '';
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata?.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
    case 'status.hostIPs':
      return (pod.status?.hostIPs ?? []).map((h) => h.ip).join(',');
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.podIPs':
      return (pod.status?.podIPs ?? []).map((h) => h.ip).join(',');
    default:
      return undefined;
  }
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** parseQuantity reads a Kubernetes quantity ("500m", "64Mi", "1e3") as a number, or undefined. */
export function parseQuantity(q: string): number | undefined {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  const suffix = m[3] ?? '';
  return base * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

function expand(value: string, env: Record<string, string>): string {
  // $(VAR) expands, $$(VAR) is a literal $(VAR), unknown references stay as written (kubelet expansion rules).
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? all),
  );
}

/** decode reads one key of a Secret (data is base64, stringData as written). */
export function decode(secret: V1Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return secret.stringData?.[key];
}

/** containerEnvironment computes what `container` of `pod` sees (services: the pod's namespace's and default/kubernetes). */
export function containerEnvironment(
  pod: V1Pod,
  container: V1Container,
  services: V1Service[],
  lookup: EnvLookup,
): PodEnv {
  const warnings: string[] = [];
  const ns = pod.metadata?.namespace ?? 'default';
  const noLinks = pod.spec?.enableServiceLinks === false;
  const visible = services.filter(
    (s) =>
      (s.metadata?.namespace === ns && !noLinks) ||
      (s.metadata?.namespace === 'default' && s.metadata?.name === 'kubernetes'),
  );
  const env: Record<string, string> = { ...serviceLinkVars(visible) };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef?.name) {
      const cm = lookup.configMap(from.configMapRef.name);
      if (!cm) {
        if (!from.configMapRef.optional) warnings.push(`configmap "${from.configMapRef.name}" not found`);
        continue;
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) env[prefix + k] = v;
    }
    if (from.secretRef?.name) {
      const s = lookup.secret(from.secretRef.name);
      if (!s) {
        if (!from.secretRef.optional) warnings.push(`secret "${from.secretRef.name}" not found`);
        continue;
      }
      for (const k of Object.keys({ ...(s.data ?? {}), ...(s.stringData ?? {}) })) env[prefix + k] = decode(s, k) ?? '';
    }
  }
  for (const e of container.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      env[e.name] = expand(e.value ?? '', env);
      continue;
    }
    let v: string | undefined;
    if (vf.fieldRef) {
      v = fieldPathValue(pod, vf.fieldRef.fieldPath);
      if (v === undefined) warnings.push(`${e.name}: unsupported fieldPath ${vf.fieldRef.fieldPath}`);
    } else if (vf.resourceFieldRef) {
      v = resourceValue(pod, container, vf.resourceFieldRef, warnings, e.name);
    } else if (vf.configMapKeyRef) {
      const { name, key, optional } = vf.configMapKeyRef;
      v = name ? lookup.configMap(name)?.data?.[key] : undefined;
      if (v === undefined && !optional) warnings.push(`${e.name}: key ${key} of configmap "${name}" not found`);
    } else if (vf.secretKeyRef) {
      const { name, key, optional } = vf.secretKeyRef;
      const s = name ? lookup.secret(name) : undefined;
      v = s ? decode(s, key) : undefined;
      if (v === undefined && !optional) warnings.push(`${e.name}: key ${key} of secret "${name}" not found`);
    }
    if (v !== undefined) env[e.name] = v;
  }
  return { vars: env, warnings };
}

/** resourceFieldValue resolves a downward-API resourceFieldRef like the kubelet (warnings collect what it cannot). */
export function resourceFieldValue(
  pod: V1Pod,
  self: V1Container,
  ref: { containerName?: string; resource: string; divisor?: string | number },
  warnings: string[],
  name: string,
): string | undefined {
  return resourceValue(pod, self, ref, warnings, name);
}

function resourceValue(
  pod: V1Pod,
  self: V1Container,
  ref: { containerName?: string; resource: string; divisor?: string | number },
  warnings: string[],
  name: string,
): string | undefined {
  const c = ref.containerName ? pod.spec?.containers.find((x) => x.name === ref.containerName) : self;
  const [kind, res] = ref.resource.split('.') as [string, string];
  const raw = (kind === 'limits' ? c?.resources?.limits : c?.resources?.requests)?.[res];
  if (raw === undefined) {
    // The kubelet falls back to the node's allocatable for a missing limit, which devnet does not read.
    warnings.push(`${name}: ${ref.resource} is not set on the container (the kubelet uses the node's allocatable)`);
    return kind === 'requests' ? '0' : undefined;
  }
  const value = parseQuantity(String(raw));
  const divisor = parseQuantity(String(ref.divisor ?? '1')) || 1;
  if (value === undefined) return undefined;
  return String(Math.ceil(value / divisor));
}

/** formatEnv renders variables for a shell (`export K='v'`), docker --env-file (`K=v`) or JSON. */
export function formatEnv(vars: Record<string, string>, syntax: EnvSyntax): { text: string; skipped: string[] } {
  const keys = Object.keys(vars).sort();
  if (syntax === 'json')
    return { text: `${JSON.stringify(Object.fromEntries(keys.map((k) => [k, vars[k]])), null, 2)}\n`, skipped: [] };
  const skipped: string[] = [];
  const lines: string[] = [];
  for (const k of keys) {
    const v = vars[k] as string;
    if (syntax === 'sh') {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
        skipped.push(k);
        continue;
      }
      lines.push(`export ${k}='${v.replace(/'/g, `'\\''`)}'`);
    } else {
      // docker's --env-file takes each line literally: no quoting, no newlines.
      if (/[\r\n]/.test(v) || k.includes('=')) {
        skipped.push(k);
        continue;
      }
      lines.push(`${k}=${v}`);
    }
  }
  return { text: lines.length ? `${lines.join('\n')}\n` : '', skipped };
}
