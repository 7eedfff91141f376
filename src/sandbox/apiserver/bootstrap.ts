// The objects a fresh sandbox cluster starts with: the system namespaces and
// `dev`, the `kubernetes` Service (10.96.0.1) and ServiceCIDR, discovery
// RBAC for every authenticated user, and the RBAC that lets the developer
// user `dev` do a namespaced devnet install in `dev` (k8s-wire-facts.md,
// "RBAC a devnet user needs") and read the cluster-scoped objects devnet
// consults.
import { DEV_USER } from './auth.ts';
import { DEFAULT_STORAGE_CLASS } from './defaults.ts';
import type { Registry } from './registry.ts';
import { typeByKey } from './resources.ts';
import { KUBERNETES_SERVICE_IP, SERVICE_CIDR } from './serviceips.ts';
import { ApiError } from './status.ts';

/** LOCAL_PATH_PROVISIONER names the sandbox's provisioner (controllers/volumes.ts), as rancher's local-path does. */
export const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';

/** DEV_NAMESPACE is the namespace the developer user may install into. */
export const DEV_NAMESPACE = 'dev';

const RW = ['create', 'get', 'list', 'watch', 'patch', 'update', 'delete'];
const READ = ['get', 'list', 'watch'];

/** DEV_ROLE_RULES are the namespaced permissions of the `dev` user in its namespace. */
export const DEV_ROLE_RULES = [
  { apiGroups: [''], resources: ['services', 'pods', 'endpoints', 'events'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: RW },
  { apiGroups: ['apps'], resources: ['replicasets', 'statefulsets'], verbs: READ },
  { apiGroups: [''], resources: ['serviceaccounts', 'secrets', 'configmaps'], verbs: RW },
  // `devnet intercept --mount`: the target's claims, and tokens for its projected service account volumes.
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: READ },
  { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: RW },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: RW },
  { apiGroups: [''], resources: ['pods'], verbs: ['create', 'delete', 'patch'] },
  { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get', 'create'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
  // Intercepts patch a Service's selector; installing the gateway creates its Service (the
  // intercept pods' way to the gateway relay) and uninstalling deletes it.
  { apiGroups: [''], resources: ['services'], verbs: ['patch', 'update', 'create', 'delete'] },
];

/** DEV_CLUSTER_RULES are the cluster-scoped, read-only permissions of the `dev` user. */
export const DEV_CLUSTER_RULES = [
  { apiGroups: [''], resources: ['namespaces', 'nodes'], verbs: READ },
  { apiGroups: ['networking.k8s.io'], resources: ['servicecidrs'], verbs: READ },
];

const DISCOVERY_URLS = [
  '/api',
  '/api/*',
  '/apis',
  '/apis/*',
  '/healthz',
  '/livez',
  '/readyz',
  '/openapi',
  '/openapi/*',
  '/version',
  '/version/',
];

function meta(name: string, namespace?: string, labels?: Record<string, string>) {
  return { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}) };
}

const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };

type BootstrapObject = [
  key: string,
  namespace: string | undefined,
  obj: Record<string, unknown>,
  firstStartOnly: boolean,
];

const RBAC = 'rbac.authorization.k8s.io';

/** roleWithBinding makes a Role (namespace given) or ClusterRole with its binding to one subject. */
function roleWithBinding(
  name: string,
  namespace: string | undefined,
  rules: unknown[],
  subject: { kind: 'User' | 'Group'; name: string },
  labels: Record<string, string> | undefined,
  firstOnly: boolean,
): BootstrapObject[] {
  const kind = namespace ? 'Role' : 'ClusterRole';
  return [
    [
      `${RBAC}/${namespace ? 'roles' : 'clusterroles'}`,
      namespace,
      { metadata: meta(name, namespace, labels), rules },
      firstOnly,
    ],
    [
      `${RBAC}/${namespace ? 'rolebindings' : 'clusterrolebindings'}`,
      namespace,
      {
        metadata: meta(name, namespace, labels),
        roleRef: { apiGroup: RBAC, kind, name },
        subjects: [{ apiGroup: RBAC, ...subject }],
      },
      firstOnly,
    ],
  ];
}

/** bootstrapObjects lists the built-in objects in creation order. */
function bootstrapObjects(): BootstrapObject[] {
  const ns = (name: string, firstOnly: boolean): BootstrapObject => [
    '/namespaces',
    undefined,
    { metadata: meta(name) },
    firstOnly,
  ];
  const authenticated = { kind: 'Group' as const, name: 'system:authenticated' };
  const dev = { kind: 'User' as const, name: DEV_USER };
  return [
    ns('default', false),
    ns('kube-system', false),
    ns('kube-public', false),
    ns('kube-node-lease', false),
    ns(DEV_NAMESPACE, true),
    [
      '/services',
      'default',
      {
        metadata: meta('kubernetes', 'default', { component: 'apiserver', provider: 'kubernetes' }),
        spec: {
          clusterIP: KUBERNETES_SERVICE_IP,
          ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }],
        },
      },
      false,
    ],
    [
      'networking.k8s.io/servicecidrs',
      undefined,
      { metadata: meta('kubernetes'), spec: { cidrs: [SERVICE_CIDR] } },
      false,
    ],
    [
      'storage.k8s.io/storageclasses',
      undefined,
      {
        metadata: {
          name: DEFAULT_STORAGE_CLASS,
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: LOCAL_PATH_PROVISIONER,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
      },
      false,
    ],
    ...roleWithBinding(
      'system:discovery',
      undefined,
      [{ nonResourceURLs: DISCOVERY_URLS, verbs: ['get'] }],
      authenticated,
      BOOTSTRAP_LABELS,
      false,
    ),
    ...roleWithBinding(
      'system:basic-user',
      undefined,
      [
        {
          apiGroups: ['authorization.k8s.io'],
          resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
          verbs: ['create'],
        },
        { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      ],
      authenticated,
      BOOTSTRAP_LABELS,
      false,
    ),
    ...roleWithBinding('devnet-user', DEV_NAMESPACE, DEV_ROLE_RULES, dev, undefined, true),
    ...roleWithBinding('devnet-user-cluster-read', undefined, DEV_CLUSTER_RULES, dev, undefined, true),
  ];
}

/** bootstrap creates the missing built-in objects; objects marked first-start-only are made only in an empty store. */
export function bootstrap(registry: Registry): void {
  const firstStart = registry.store.rv === 0;
  for (const [key, namespace, obj, firstOnly] of bootstrapObjects()) {
    if (firstOnly && !firstStart) continue;
    const type = typeByKey(key)!;
    const name = (obj.metadata as { name: string }).name;
    if (registry.store.get(key, namespace, name)) continue;
    try {
      registry.create(type, namespace, structuredClone(obj));
    } catch (err) {
      // A conflicting object created by a user (e.g. a Service holding 10.96.0.1) must not stop the server.
      if (!(err instanceof ApiError)) throw err;
    }
  }
}
