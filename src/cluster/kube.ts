// Kubernetes client plumbing: load kubeconfig the way kubectl does
// (kubeconfig.ts), check the server answers (reach.ts), and turn API
// failures into DevnetErrors that say what to do.
import { homedir } from 'node:os';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { DevnetError } from '../errors.ts';
import { kubeconfigSources, type LoadedKube, loadKube } from './kubeconfig.ts';
import { classifyNetworkError, probeApiServer } from './reach.ts';

/** KubeTarget is how the user picked a cluster: --kubeconfig or the precedence list the CLI resolved, --context, -n. */
export interface KubeTarget {
  kubeconfig?: string;
  /** kubeconfigFiles is the KUBECONFIG list (or ~/.kube/config) as the invoking user's CLI resolved it. */
  kubeconfigFiles?: string[];
  context?: string;
  namespace?: string;
}

/** loadTarget loads with kubectl's rules (kubeconfig.ts); without files given, from this process's KUBECONFIG or ~/.kube/config. */
export function loadTarget(target: KubeTarget, env: NodeJS.ProcessEnv = process.env, home = homedir()): LoadedKube {
  const sources = target.kubeconfig
    ? kubeconfigSources({ kubeconfig: target.kubeconfig }, env, home)
    : target.kubeconfigFiles?.length
      ? { files: target.kubeconfigFiles }
      : kubeconfigSources({}, env, home);
  return loadKube(
    sources,
    {
      ...(target.context ? { context: target.context } : {}),
      ...(target.namespace ? { namespace: target.namespace } : {}),
    },
    KubeConfig,
  );
}

/** loadKubeConfig loads like kubectl and returns client-node's KubeConfig (its context carries the chosen namespace). */
export function loadKubeConfig(target: KubeTarget): KubeConfig {
  return loadTarget(target).kc;
}

/** connectKube loads like kubectl and checks the API server answers, failing with the server, the cause and the fixes. */
export async function connectKube(target: KubeTarget): Promise<LoadedKube> {
  const loaded = loadTarget(target);
  const proxyUrl = loaded.kc.getCurrentCluster()?.proxyUrl;
  await probeApiServer(loaded.kc, {
    server: loaded.server,
    context: loaded.context,
    ...(proxyUrl ? { proxyUrl } : {}),
  });
  return loaded;
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
  const network = classifyNetworkError(err);
  if (network) {
    return new DevnetError('cluster', `${what}: cannot reach the API server (${network.code})`, {
      hint: 'Check the cluster is up and reachable: `kubectl cluster-info` uses the same kubeconfig.',
      cause: err,
    });
  }
  return new DevnetError('internal', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
