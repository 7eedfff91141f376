// A container's environment as the kubelet computes it
// (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables): the Service
// variables first (docker-link style, for the pod's namespace unless
// enableServiceLinks is false, and always for default/kubernetes), then
// envFrom, then env (later entries win, `$(VAR)` expands against what is
// defined so far), with valueFrom fieldRef, resourceFieldRef, secretKeyRef
// and configMapKeyRef resolved, plus HOSTNAME. A missing Secret or ConfigMap
// (not optional) is a CreateContainerConfigError, with the kubelet's wording.
//
// This is the sandbox's own implementation, written from the kubelet's
// behaviour, on purpose separate from devnet's (src/intercept/env.ts): the
// intercept tests compare devnet's export with what a pod really sees, and a
// shared resolver would check nothing.
import type { V1ConfigMap, V1Container, V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { NODE_IP } from './constants.ts';

/** ConfigLookup fetches what a container's environment refers to (undefined when missing). */
export interface ConfigLookup {
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /** services lists a namespace's Services (for the service-link variables). */
  services(namespace: string): Promise<V1Service[]>;
}

/** NODE_ALLOCATABLE is what a resourceFieldRef reports for a resource without a limit (the node's allocatable, as in node-agent.ts). */
const NODE_ALLOCATABLE: Record<string, string> = { cpu: '2', memory: '4Gi', 'ephemeral-storage': '20Gi' };

/** ConfigError is a CreateContainerConfigError: the container cannot start until the referenced object exists. */
export class ConfigError extends Error {
  /** retryMs is how soon the kubelet tries again (sooner for what a controller is about to create). */
  readonly retryMs: number;

  constructor(message: string, retryMs = 1000) {
    super(message);
    this.retryMs = retryMs;
  }
}

type FieldGetter = (pod: V1Pod, podIP: string) => string;

/** FIELD_PATHS are the downward-API paths the kubelet resolves into env (the API server refuses others). */
const FIELD_PATHS: Record<string, FieldGetter> = {
  'metadata.name': (p) => p.metadata?.name ?? '',
  'metadata.namespace': (p) => p.metadata?.namespace ?? '',
  'metadata.uid': (p) => p.metadata?.uid ?? '',
  'spec.nodeName': (p) => p.spec?.nodeName ?? '',
  'spec.serviceAccountName': (p) => p.spec?.serviceAccountName ?? p.spec?.serviceAccount ?? 'default',
  'status.hostIP': () => NODE_IP,
  'status.hostIPs': () => NODE_IP,
  'status.podIP': (_p, ip) => ip,
  'status.podIPs': (_p, ip) => ip,
};

/** fieldRefValue resolves a downward-API fieldRef as the kubelet does, with the IPs it knows before the pod's status says them. */
export function fieldRefValue(pod: V1Pod, fieldPath: string, podIP: string): string | undefined {
  const keyed = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (keyed) {
    const map = keyed[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[keyed[2] as string] ?? '';
  }
  return FIELD_PATHS[fieldPath]?.(pod, podIP);
}

/** quantity reads a resource quantity into base units (cores, bytes), or NaN. */
function quantity(text: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const scale: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  const f = scale[m[2] as string];
  return f === undefined ? Number.NaN : Number(m[1]) * f;
}

/** resourceValue resolves a resourceFieldRef: the container's limit (or the node's allocatable) or request, divided by the divisor and rounded up. */
function resourceValue(container: V1Container, resource: string, divisor: string | undefined): string | undefined {
  const [kind, name] = resource.split('.') as [string, string | undefined];
  if (!name || (kind !== 'limits' && kind !== 'requests')) return undefined;
  const set = kind === 'limits' ? container.resources?.limits : container.resources?.requests;
  const raw =
    set?.[name] ?? (kind === 'limits' ? NODE_ALLOCATABLE[name] : name === 'cpu' || name === 'memory' ? '0' : undefined);
  if (raw === undefined) return undefined;
  const value = quantity(String(raw));
  const by = quantity(divisor ?? '1');
  if (Number.isNaN(value) || Number.isNaN(by) || by === 0) return undefined;
  return String(Math.ceil(value / by - 1e-9));
}

/** serviceVariables are the docker-link style variables of the given Services, in the kubelet's form. */
export function serviceVariables(services: V1Service[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    const ports = svc.spec?.ports ?? [];
    if (!ip || ip === 'None' || ports.length === 0) continue;
    const prefix = (svc.metadata?.name ?? '').toUpperCase().replaceAll('-', '_');
    const first = ports[0] as (typeof ports)[number];
    vars[`${prefix}_SERVICE_HOST`] = ip;
    vars[`${prefix}_SERVICE_PORT`] = String(first.port);
    for (const port of ports) {
      if (port.name) vars[`${prefix}_SERVICE_PORT_${port.name.toUpperCase().replaceAll('-', '_')}`] = String(port.port);
    }
    const proto = (port: (typeof ports)[number]) => port.protocol ?? 'TCP';
    vars[`${prefix}_PORT`] = `${proto(first).toLowerCase()}://${ip}:${first.port}`;
    for (const port of ports) {
      const stem = `${prefix}_PORT_${port.port}_${proto(port).toUpperCase()}`;
      vars[stem] = `${proto(port).toLowerCase()}://${ip}:${port.port}`;
      vars[`${stem}_PROTO`] = proto(port).toLowerCase();
      vars[`${stem}_PORT`] = String(port.port);
      vars[`${stem}_ADDR`] = ip;
    }
  }
  return vars;
}

function decode(secret: V1Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return secret.stringData?.[key];
}

/** containerEnv computes one container's environment. */
export async function containerEnv(
  pod: V1Pod,
  container: V1Container,
  podIP: string,
  lookup: ConfigLookup,
): Promise<Record<string, string>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const linked =
    pod.spec?.enableServiceLinks === false
      ? []
      : (await lookup.services(ns)).filter((s) => ns !== 'default' || s.metadata?.name !== 'kubernetes');
  const master = (await lookup.services('default')).filter((s) => s.metadata?.name === 'kubernetes');
  const env: Record<string, string> = {
    HOSTNAME: pod.spec?.hostname ?? pod.metadata?.name ?? '',
    ...serviceVariables([...linked, ...master]),
  };
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef?.name) {
      const cm = await lookup.configMap(ns, from.configMapRef.name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) env[prefix + k] = v;
    }
    if (from.secretRef?.name) {
      const s = await lookup.secret(ns, from.secretRef.name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ConfigError(`secret "${from.secretRef.name}" not found`);
      }
      for (const k of Object.keys({ ...(s.data ?? {}), ...(s.stringData ?? {}) })) env[prefix + k] = decode(s, k) ?? '';
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      // $(NAME) expands to what is defined so far, $$ is a literal $, an unknown reference stays as written.
      env[e.name] = e.value.replace(/\$(\$|\(([A-Za-z_][A-Za-z0-9_.-]*)\))/g, (all, what: string, n?: string) =>
        what === '$' ? '$' : (env[n as string] ?? all),
      );
      continue;
    }
    const vf = e.valueFrom;
    if (!vf) {
      env[e.name] = '';
      continue;
    }
    if (vf.fieldRef) {
      const v = fieldRefValue(pod, vf.fieldRef.fieldPath, podIP);
      if (v === undefined) throw new ConfigError(`unsupported fieldPath: ${vf.fieldRef.fieldPath}`);
      env[e.name] = v;
    } else if (vf.resourceFieldRef) {
      const { resource, divisor } = vf.resourceFieldRef;
      const v = resourceValue(container, resource, divisor === undefined ? undefined : String(divisor));
      if (v === undefined) throw new ConfigError(`unsupported resource: ${resource}`);
      env[e.name] = v;
    } else if (vf.secretKeyRef) {
      const { name, key, optional } = vf.secretKeyRef;
      const s = name ? await lookup.secret(ns, name) : undefined;
      const v = s ? decode(s, key) : undefined;
      if (v === undefined) {
        if (optional) continue;
        throw new ConfigError(s ? `couldn't find key ${key} in Secret ${ns}/${name}` : `secret "${name}" not found`);
      }
      env[e.name] = v;
    } else if (vf.configMapKeyRef) {
      const { name, key, optional } = vf.configMapKeyRef;
      const cm = name ? await lookup.configMap(ns, name) : undefined;
      const v = cm?.data?.[key];
      if (v === undefined) {
        if (optional) continue;
        throw new ConfigError(
          cm ? `couldn't find key ${key} in ConfigMap ${ns}/${name}` : `configmap "${name}" not found`,
        );
      }
      env[e.name] = v;
    } else {
      throw new ConfigError(`unsupported valueFrom for ${e.name}`);
    }
  }
  return env;
}
