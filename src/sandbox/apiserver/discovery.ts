// Discovery documents: /version, /api, /api/v1, /apis, /apis/G and
// /apis/G/V (the "legacy" discovery that client-node and kubectl read), and
// the aggregated form (apidiscovery.k8s.io/v2) kubectl prefers when asked
// for with its Accept header.
import { arch, platform } from 'node:os';
import { VERSION } from '../../version.ts';
import { groupVersion, RESOURCE_TYPES, type ResourceType } from './resources.ts';

/** KUBE_VERSION is the Kubernetes version the sandbox reports (kubectl v1.32 is installed beside it). */
export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.4' };

/** versionInfo is the /version document. */
export function versionInfo(): Record<string, string> {
  return {
    major: KUBE_VERSION.major,
    minor: KUBE_VERSION.minor,
    gitVersion: `${KUBE_VERSION.gitVersion}+devnet.${VERSION}`,
    gitCommit: 'devnet-sandbox',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'devnet',
    platform: `${platform()}/${arch() === 'x64' ? 'amd64' : arch()}`,
  };
}

interface SubresourceInfo {
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

/** subresourceInfo describes a subresource's response kind and verbs, as discovery reports them. */
export function subresourceInfo(type: ResourceType, sub: string): SubresourceInfo {
  switch (sub) {
    case 'status':
      return { kind: type.kind, verbs: ['get', 'patch', 'update'] };
    case 'portforward':
      return { kind: 'PodPortForwardOptions', verbs: ['create', 'get'] };
    case 'token':
      return { kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1', verbs: ['create'] };
    case 'finalize':
      return { kind: type.kind, verbs: ['update'] };
    case 'log':
      return { kind: 'Pod', verbs: ['get'] };
    case 'scale':
      return { kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] };
    case 'binding':
      return { kind: 'Binding', verbs: ['create'] };
    default:
      return { kind: type.kind, verbs: [] };
  }
}

/** groups lists the served API groups (core excluded) with their versions. */
function groups(): { name: string; version: string }[] {
  const seen = new Map<string, string>();
  for (const t of RESOURCE_TYPES) if (t.group !== '' && !seen.has(t.group)) seen.set(t.group, t.version);
  return [...seen].map(([name, version]) => ({ name, version }));
}

/** apiVersions is the /api document. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(name: string, version: string): Record<string, unknown> {
  const gv = { groupVersion: `${name}/${version}`, version };
  return { name, versions: [gv], preferredVersion: gv };
}

/** apiGroupList is the /apis document. */
export function apiGroupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map((g) => apiGroup(g.name, g.version)) };
}

/** apiGroupDoc is the /apis/G document, or undefined for an unknown group. */
export function apiGroupDoc(name: string): Record<string, unknown> | undefined {
  const g = groups().find((x) => x.name === name);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g.name, g.version) } : undefined;
}

/** apiResourceList is the /api/v1 or /apis/G/V document, or undefined when nothing is served there. */
export function apiResourceList(group: string, version: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const t of types) {
    const r: Record<string, unknown> = {
      name: t.resource,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: t.verbs,
    };
    if (t.shortNames.length) r.shortNames = t.shortNames;
    if (t.categories.length) r.categories = t.categories;
    resources.push(r);
    for (const sub of t.subresources) {
      const info = subresourceInfo(t, sub);
      const s: Record<string, unknown> = { name: `${t.resource}/${sub}`, singularName: '', namespaced: t.namespaced };
      if (info.group) s.group = info.group;
      if (info.version) s.version = info.version;
      s.kind = info.kind;
      s.verbs = info.verbs;
      resources.push(s);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion({ group, version }), resources };
}

/** AGGREGATED_DISCOVERY_TYPE is the Content-Type of an aggregated discovery answer. */
export const AGGREGATED_DISCOVERY_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** wantsAggregatedDiscovery tells whether an Accept header asks for apidiscovery.k8s.io/v2. */
export function wantsAggregatedDiscovery(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some(
      (m) => /g=apidiscovery\.k8s\.io/.test(m) && /(^|;)\s*v=v2\s*(;|$)/.test(m) && /as=APIGroupDiscoveryList/.test(m),
    );
}

function discoveryGroup(group: string): Record<string, unknown> {
  const types = RESOURCE_TYPES.filter((t) => t.group === group);
  const version = types[0]!.version;
  return {
    metadata: group === '' ? { creationTimestamp: null } : { name: group, creationTimestamp: null },
    versions: [
      {
        version,
        resources: types.map((t) => {
          const r: Record<string, unknown> = {
            resource: t.resource,
            responseKind: { group: t.group, version: t.version, kind: t.kind },
            scope: t.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: t.singular,
            verbs: t.verbs,
          };
          if (t.shortNames.length) r.shortNames = t.shortNames;
          if (t.categories.length) r.categories = t.categories;
          if (t.subresources.length)
            r.subresources = t.subresources.map((sub) => {
              const info = subresourceInfo(t, sub);
              return {
                subresource: sub,
                responseKind: { group: info.group ?? t.group, version: info.version ?? t.version, kind: info.kind },
                verbs: info.verbs,
              };
            });
          return r;
        }),
        freshness: 'Current',
      },
    ],
  };
}

/** aggregatedDiscovery is the apidiscovery.k8s.io/v2 document for /api (core) or /apis (named groups). */
export function aggregatedDiscovery(core: boolean): Record<string, unknown> {
  const items = core ? [discoveryGroup('')] : groups().map((g) => discoveryGroup(g.name));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}
