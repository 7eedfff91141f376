// How the sandbox's node components reach the API server: over HTTPS with
// a bearer token, through @kubernetes/client-node, with informers like the
// real kubelet and controllers. client-node's informer stops for good on
// any error other than 410 (k8s-wire-facts.md), so every informer here is
// restarted from its error handler.
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type Informer,
  KubeConfig,
  type KubernetesObject,
  type ListPromise,
  makeInformer,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

/** ApiEndpoint is where the API server listens and how to trust and authenticate to it. */
export interface ApiEndpoint {
  url: string;
  caCertPem: string;
  token: string;
}

/** kubeConfigFor builds an in-memory KubeConfig for an API endpoint. */
export function kubeConfigFor(api: ApiEndpoint, user = 'admin'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'sandbox', server: api.url, caData: Buffer.from(api.caCertPem).toString('base64') }],
    users: [{ name: user, token: api.token }],
    contexts: [{ name: 'sandbox', cluster: 'sandbox', user }],
    currentContext: 'sandbox',
  });
  return kc;
}

/** Clients are the typed API clients the node components use. */
export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  discovery: DiscoveryV1Api;
}

/** makeClients builds the typed clients for a KubeConfig. */
export function makeClients(kc: KubeConfig): Clients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
  };
}

/** Cache is a started informer's object cache. */
export type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** startInformer lists and watches a collection, calls onChange after every event, restarts itself after errors, and resolves once the first list is in. */
export async function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: ListPromise<T>,
  onChange: () => void,
  logger: Logger,
): Promise<Cache<T>> {
  const informer = makeInformer(kc, path, list);
  let stopped = false;
  let synced = false;
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, () => onChange());
  informer.on('error', (err) => {
    if (stopped || !synced) return; // before the first sync, the loop below retries
    logger.warn({ path, err: String(err) }, 'informer stopped; restarting');
    setTimeout(() => {
      if (!stopped) informer.start().catch(() => undefined);
    }, 1000).unref();
  });
  const stop = informer.stop.bind(informer);
  informer.stop = async () => {
    stopped = true;
    await stop();
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await informer.start();
      synced = true;
      return informer;
    } catch (err) {
      if (attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** apiErrorCode returns the HTTP status of a client-node ApiException, or undefined for other errors. */
export function apiErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** ignoreNotFound swallows a 404 (the object is already gone) and rethrows anything else. */
export function ignoreNotFound(err: unknown): undefined {
  if (apiErrorCode(err) === 404) return undefined;
  throw err;
}
