// Kubernetes client plumbing: load kubeconfig the way kubectl does, and turn
// API failures into DevnetErrors that say what to do.
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { DevnetError } from '../errors.ts';

/** KubeTarget is how the user picked a cluster: --kubeconfig, --context (both optional). */
export interface KubeTarget {
  kubeconfig?: string;
  context?: string;
}

/**
 * loadKubeConfig loads like kubectl: --kubeconfig, else the KUBECONFIG list
 * (merged), else ~/.kube/config; then --context or the current context.
 */
export function loadKubeConfig(target: KubeTarget): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (target.kubeconfig) kc.loadFromFile(target.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new DevnetError('config', `could not read kubeconfig: ${(err as Error).message}`, {
      hint: 'Check --kubeconfig or the KUBECONFIG environment variable; `kubectl config view` should work with the same settings.',
    });
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new DevnetError('user', `kubeconfig has no context named "${target.context}"`, {
        hint: known.length ? `Known contexts: ${known.join(', ')}.` : 'The kubeconfig has no contexts at all.',
      });
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new DevnetError('config', 'kubeconfig has no current context with a cluster', {
      hint: 'Pass --context NAME, or set one with `kubectl config use-context NAME`.',
    });
  }
  return kc;
}

/** contextNamespace is the namespace the current context names, else "default". */
export function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}

/** KubeStatus is the part of a Kubernetes Status object we use. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** statusOf extracts the Status from an ApiException (whose body is the raw Status text) or returns undefined. */
export function statusOf(err: unknown): KubeStatus | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const body = (err as ApiException<unknown>).body;
  let s: KubeStatus = { code: err.code };
  try {
    const parsed = typeof body === 'string' ? JSON.parse(body) : body;
    if (parsed && typeof parsed === 'object') s = { code: err.code, ...(parsed as KubeStatus) };
  } catch {
    if (typeof body === 'string' && body) s.message = body.slice(0, 500);
  }
  return s;
}

/** isNotFound reports a 404 from the API. */
export function isNotFound(err: unknown): boolean {
  return statusOf(err)?.code === 404;
}

/** clusterError turns an API failure during `what` into a categorised error with a fix. */
export function clusterError(what: string, err: unknown): DevnetError {
  if (err instanceof DevnetError) return err;
  const s = statusOf(err);
  if (s?.code === 401) {
    return new DevnetError('config', `${what}: the cluster rejected your credentials (401 Unauthorized)`, {
      hint: 'Your token or certificate is missing or expired: log in again (`kubectl get ns` should work).',
      cause: err,
    });
  }
  if (s?.code === 403) {
    return new DevnetError('cluster', `${what}: ${s.message ?? 'forbidden'}`, {
      hint: 'Ask a cluster admin for the RBAC in docs/rbac.md, or use --gateway-namespace with a namespace you may write to.',
      cause: err,
    });
  }
  if (s) {
    return new DevnetError('cluster', `${what}: ${s.message ?? `HTTP ${s.code}`}`, { cause: err });
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'ETIMEDOUT' || e?.code === 'ECONNRESET') {
    return new DevnetError('cluster', `${what}: cannot reach the API server (${e.code})`, {
      hint: 'Check the cluster is up and reachable: `kubectl cluster-info` uses the same kubeconfig.',
      cause: err,
    });
  }
  return new DevnetError('internal', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
