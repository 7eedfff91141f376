// A container's environment as the kubelet computes it: envFrom first, then
// env (later entries win), with valueFrom fieldRef, secretKeyRef and
// configMapKeyRef resolved, plus HOSTNAME and the Service variables' most
// used pair (KUBERNETES_SERVICE_HOST/PORT). A missing Secret or ConfigMap
// (not optional) is a CreateContainerConfigError, with the kubelet's wording.
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { fieldPathValue } from '../intercept/env.ts';
import { NODE_IP } from './constants.ts';

/** ConfigLookup fetches Secrets and ConfigMaps by namespace and name (undefined when missing). */
export interface ConfigLookup {
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
}

/** ConfigError is a CreateContainerConfigError: the container cannot start until the referenced object exists. */
export class ConfigError extends Error {
  /** retryMs is how soon the kubelet tries again (sooner for what a controller is about to create). */
  readonly retryMs: number;

  constructor(message: string, retryMs = 1000) {
    super(message);
    this.retryMs = retryMs;
  }
}

/**
 * fieldRefValue resolves a downward-API fieldRef path as the kubelet does
 * (devnet's own resolver, src/intercept/env.ts), with the IPs the kubelet
 * knows before the pod's status says them: the pod's and the node's.
 */
export function fieldRefValue(pod: V1Pod, fieldPath: string, podIP: string): string | undefined {
  return fieldPathValue(
    {
      ...pod,
      status: { ...pod.status, podIP, podIPs: [{ ip: podIP }], hostIP: NODE_IP, hostIPs: [{ ip: NODE_IP }] },
    },
    fieldPath,
  );
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
  const env: Record<string, string> = {
    HOSTNAME: pod.spec?.hostname ?? pod.metadata?.name ?? '',
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
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
      env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, n: string) => env[n] ?? all);
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
