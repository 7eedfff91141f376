// The resource types the sandbox API server serves: their group, version,
// kind, scope, short names and subresources, which drive URL routing,
// discovery documents and Status error wording.

/** ResourceType describes one served collection, e.g. apps/v1 deployments. */
export interface ResourceType {
  /** group is the API group, '' for the legacy core group. */
  group: string;
  version: string;
  /** resource is the lower-case plural used in URLs and RBAC rules. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** subresources lists served subresources: 'status', 'portforward', 'token'. */
  subresources: string[];
  /** categories lets `kubectl get all` find the type. */
  categories: string[];
  /** fields names the field selectors this type supports beyond metadata.name and metadata.namespace. */
  fields: string[];
  /** generation is true when spec changes bump metadata.generation. */
  generation: boolean;
  /** returnsObjectOnDelete is true when DELETE answers with the object rather than a Status (pods, services, namespaces). */
  returnsObjectOnDelete: boolean;
  /** verbs lists what the collection supports, as discovery reports it. */
  verbs: string[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function t(
  group: string,
  version: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  more: Partial<ResourceType> = {},
): ResourceType {
  return {
    group,
    version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    shortNames: [],
    subresources: [],
    categories: [],
    fields: [],
    generation: false,
    returnsObjectOnDelete: false,
    verbs: ALL_VERBS,
    ...more,
  };
}

/** RESOURCE_TYPES is every type the server serves, in discovery order. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  t('', 'v1', 'namespaces', 'Namespace', false, {
    shortNames: ['ns'],
    subresources: ['status', 'finalize'],
    fields: ['status.phase'],
    returnsObjectOnDelete: true,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  }),
  t('', 'v1', 'nodes', 'Node', false, {
    shortNames: ['no'],
    subresources: ['status'],
    fields: ['spec.unschedulable'],
  }),
  t('', 'v1', 'pods', 'Pod', true, {
    shortNames: ['po'],
    subresources: ['status', 'portforward', 'binding', 'log'],
    categories: ['all'],
    fields: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
    returnsObjectOnDelete: true,
  }),
  t('', 'v1', 'services', 'Service', true, {
    shortNames: ['svc'],
    subresources: ['status'],
    categories: ['all'],
    returnsObjectOnDelete: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  }),
  t('', 'v1', 'bindings', 'Binding', true, { verbs: ['create'] }),
  t('', 'v1', 'endpoints', 'Endpoints', true, { shortNames: ['ep'], singular: 'endpoints' }),
  t('', 'v1', 'secrets', 'Secret', true, { fields: ['type'] }),
  t('', 'v1', 'configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  t('', 'v1', 'serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'], subresources: ['token'] }),
  t('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, {
    shortNames: ['pvc'],
    subresources: ['status'],
  }),
  t('', 'v1', 'persistentvolumes', 'PersistentVolume', false, { shortNames: ['pv'], subresources: ['status'] }),
  t('', 'v1', 'events', 'Event', true, {
    shortNames: ['ev'],
    fields: [
      'involvedObject.kind',
      'involvedObject.namespace',
      'involvedObject.name',
      'involvedObject.uid',
      'involvedObject.apiVersion',
      'involvedObject.resourceVersion',
      'involvedObject.fieldPath',
      'reason',
      'reportingComponent',
      'source',
      'type',
    ],
  }),
  t('apps', 'v1', 'deployments', 'Deployment', true, {
    shortNames: ['deploy'],
    subresources: ['status', 'scale'],
    categories: ['all'],
    generation: true,
  }),
  t('apps', 'v1', 'replicasets', 'ReplicaSet', true, {
    shortNames: ['rs'],
    subresources: ['status', 'scale'],
    categories: ['all'],
    fields: ['status.replicas'],
    generation: true,
  }),
  t('apps', 'v1', 'statefulsets', 'StatefulSet', true, {
    shortNames: ['sts'],
    subresources: ['status', 'scale'],
    categories: ['all'],
    generation: true,
  }),
  t('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  t('networking.k8s.io', 'v1', 'servicecidrs', 'ServiceCIDR', false, { subresources: ['status'], generation: true }),
  t('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  t('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false, { shortNames: ['sc'] }),
  t('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  t('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  t('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  t('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  t('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', false, {
    verbs: ['create'],
  }),
  t('authentication.k8s.io', 'v1', 'selfsubjectreviews', 'SelfSubjectReview', false, { verbs: ['create'] }),
];

/** groupVersion renders "v1" or "apps/v1". */
export function groupVersion(type: { group: string; version: string }): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** qualifiedResource renders the resource as error messages name it: "services", "deployments.apps". */
export function qualifiedResource(type: ResourceType): string {
  return type.group === '' ? type.resource : `${type.resource}.${type.group}`;
}

/** typeKey identifies a type in storage: "apps/deployments", "/pods". */
export function typeKey(type: ResourceType): string {
  return `${type.group}/${type.resource}`;
}

/** findType looks up a served type by group, version and plural resource name. */
export function findType(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** typeByKey looks up a served type by its storage key. */
export function typeByKey(key: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => typeKey(r) === key);
}

/** typeByKind looks up a served type by group and kind. */
export function typeByKind(group: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((r) => r.group === group && r.kind === kind);
}

/** isStored tells types kept in the object store from request-only ones (access reviews, bindings). */
export function isStored(type: ResourceType): boolean {
  return (
    type.resource !== 'selfsubjectaccessreviews' &&
    type.resource !== 'selfsubjectreviews' &&
    type.resource !== 'bindings'
  );
}
