// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Columns and cell
// formats follow the apiserver's printers (pkg/printers/internalversion) for
// the types devnet shows; others get the default Name / Created At table.
import type { KubeObject } from './object.ts';
import type { ResourceType } from './resources.ts';
import { selectorString } from './selectors.ts';

/** ColumnDefinition is one Table column. */
export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

type Cell = string | number | boolean;

type Column = [name: string, type: string, priority?: number, format?: string];

interface Printer {
  columns: Column[];
  row: (o: KubeObject, now: number) => Cell[];
}

const NAME: Column = ['Name', 'string', 0, 'name'];
const AGE: Column = ['Age', 'string'];
/** POD_TEMPLATE_COLUMNS are the wide columns of workloads (deployments, replicasets). */
const POD_TEMPLATE_COLUMNS: Column[] = [
  ['Containers', 'string', 1],
  ['Images', 'string', 1],
  ['Selector', 'string', 1],
];

/** humanDuration renders an age like k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(seconds / 3600);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.floor(hours / 24) % 365;
    return dy === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${dy}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(o: KubeObject, now: number): string {
  const t = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t);
}

function orNone(s: string | undefined): string {
  return s === undefined || s === '' ? '<none>' : s;
}

function selectorText(sel: unknown): string {
  return orNone(selectorString(sel));
}

function mapText(m: unknown): string {
  if (typeof m !== 'object' || m === null) return '<none>';
  return orNone(
    Object.entries(m as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
}

function podStatus(o: KubeObject): string {
  let reason: string = o.status?.reason || o.status?.phase || 'Unknown';
  for (const cs of o.status?.initContainerStatuses ?? []) {
    const term = cs.state?.terminated;
    if (term && term.exitCode === 0) continue;
    if (term) reason = term.reason ? `Init:${term.reason}` : `Init:ExitCode:${term.exitCode}`;
    else if (cs.state?.waiting?.reason && cs.state.waiting.reason !== 'PodInitializing')
      reason = `Init:${cs.state.waiting.reason}`;
    else reason = `Init:0/${(o.spec?.initContainers ?? []).length}`;
    break;
  }
  if (!reason.startsWith('Init:')) {
    let running = false;
    for (const cs of [...(o.status?.containerStatuses ?? [])].reverse()) {
      if (cs.state?.waiting?.reason) reason = cs.state.waiting.reason;
      else if (cs.state?.terminated?.reason) reason = cs.state.terminated.reason;
      else if (cs.state?.terminated)
        reason = cs.state.terminated.signal
          ? `Signal:${cs.state.terminated.signal}`
          : `ExitCode:${cs.state.terminated.exitCode}`;
      else if (cs.ready && cs.state?.running) running = true;
    }
    if (reason === 'Completed' && running) {
      const ready = (o.status?.conditions ?? []).some(
        (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
      );
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (o.metadata.deletionTimestamp) reason = o.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function restarts(o: KubeObject): string {
  let n = 0;
  for (const cs of o.status?.containerStatuses ?? []) n += cs.restartCount ?? 0;
  return String(n);
}

function servicePorts(o: KubeObject): string {
  const ports = o.spec?.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports
    .map((p: { port: number; nodePort?: number; protocol?: string }) =>
      p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`,
    )
    .join(',');
}

function externalIP(o: KubeObject): string {
  const spec = o.spec ?? {};
  if (spec.type === 'ExternalName') return spec.externalName ?? '<none>';
  const lb = (o.status?.loadBalancer?.ingress ?? []).map((i: { ip?: string; hostname?: string }) => i.ip ?? i.hostname);
  const ext = [...(spec.externalIPs ?? []), ...lb];
  if (ext.length > 0) return ext.join(',');
  return spec.type === 'LoadBalancer' ? '<pending>' : '<none>';
}

function containers(o: KubeObject, field: 'name' | 'image'): string {
  return ((o.spec?.template?.spec?.containers ?? []) as Record<string, string>[]).map((c) => c[field]).join(',');
}

function nodeStatus(o: KubeObject): string {
  const ready = (o.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
  let s = !ready ? 'Unknown' : ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown';
  if (o.spec?.unschedulable) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '');
  return orNone(roles.sort().join(','));
}

function nodeAddress(o: KubeObject, type: string): string {
  return orNone((o.status?.addresses ?? []).find((a: { type: string }) => a.type === type)?.address);
}

function firstAddresses(addrs: string[], max = 3): string {
  if (addrs.length === 0) return '<none>';
  return addrs.length > max ? `${addrs.slice(0, max).join(',')} + ${addrs.length - max} more...` : addrs.join(',');
}

function bindingRow(o: KubeObject, now: number): Cell[] {
  const subjects: { kind: string; name: string; namespace?: string }[] = o.subjects ?? [];
  const of = (kind: string) =>
    subjects
      .filter((s) => s.kind === kind)
      .map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name))
      .join(', ');
  return [
    o.metadata.name!,
    `${o.roleRef?.kind ?? ''}/${o.roleRef?.name ?? ''}`,
    age(o, now),
    of('User'),
    of('Group'),
    of('ServiceAccount'),
  ];
}

const BINDING_PRINTER: Printer = {
  columns: [
    NAME,
    ['Role', 'string'],
    AGE,
    ['Users', 'string', 1],
    ['Groups', 'string', 1],
    ['ServiceAccounts', 'string', 1],
  ],
  row: bindingRow,
};

const PRINTERS: Record<string, Printer> = {
  '/pods': {
    columns: [
      NAME,
      ['Ready', 'string'],
      ['Status', 'string'],
      ['Restarts', 'string'],
      AGE,
      ['IP', 'string', 1],
      ['Node', 'string', 1],
      ['Nominated Node', 'string', 1],
      ['Readiness Gates', 'string', 1],
    ],
    row: (o, now) => {
      const statuses = o.status?.containerStatuses ?? [];
      const ready = statuses.filter((c: { ready?: boolean }) => c.ready).length;
      return [
        o.metadata.name!,
        `${ready}/${(o.spec?.containers ?? []).length}`,
        podStatus(o),
        restarts(o),
        age(o, now),
        orNone(o.status?.podIP),
        orNone(o.spec?.nodeName),
        orNone(o.status?.nominatedNodeName),
        '<none>',
      ];
    },
  },
  '/services': {
    columns: [
      NAME,
      ['Type', 'string'],
      ['Cluster-IP', 'string'],
      ['External-IP', 'string'],
      ['Port(s)', 'string'],
      AGE,
      ['Selector', 'string', 1],
    ],
    row: (o, now) => [
      o.metadata.name!,
      o.spec?.type ?? 'ClusterIP',
      orNone(o.spec?.clusterIP),
      externalIP(o),
      servicePorts(o),
      age(o, now),
      mapText(o.spec?.selector),
    ],
  },
  'apps/deployments': {
    columns: [
      NAME,
      ['Ready', 'string'],
      ['Up-to-date', 'integer'],
      ['Available', 'integer'],
      AGE,
      ...POD_TEMPLATE_COLUMNS,
    ],
    row: (o, now) => [
      o.metadata.name!,
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
      o.status?.updatedReplicas ?? 0,
      o.status?.availableReplicas ?? 0,
      age(o, now),
      containers(o, 'name'),
      containers(o, 'image'),
      selectorText(o.spec?.selector),
    ],
  },
  'apps/replicasets': {
    columns: [NAME, ['Desired', 'integer'], ['Current', 'integer'], ['Ready', 'integer'], AGE, ...POD_TEMPLATE_COLUMNS],
    row: (o, now) => [
      o.metadata.name!,
      o.spec?.replicas ?? 0,
      o.status?.replicas ?? 0,
      o.status?.readyReplicas ?? 0,
      age(o, now),
      containers(o, 'name'),
      containers(o, 'image'),
      selectorText(o.spec?.selector),
    ],
  },
  'apps/statefulsets': {
    columns: [NAME, ['Ready', 'string'], AGE, ['Containers', 'string', 1], ['Images', 'string', 1]],
    row: (o, now) => [
      o.metadata.name!,
      `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`,
      age(o, now),
      containers(o, 'name'),
      containers(o, 'image'),
    ],
  },
  '/namespaces': {
    columns: [NAME, ['Status', 'string'], AGE],
    row: (o, now) => [o.metadata.name!, o.status?.phase ?? 'Active', age(o, now)],
  },
  '/nodes': {
    columns: [
      NAME,
      ['Status', 'string'],
      ['Roles', 'string'],
      AGE,
      ['Version', 'string'],
      ['Internal-IP', 'string', 1],
      ['External-IP', 'string', 1],
      ['OS-Image', 'string', 1],
      ['Kernel-Version', 'string', 1],
      ['Container-Runtime', 'string', 1],
    ],
    row: (o, now) => [
      o.metadata.name!,
      nodeStatus(o),
      nodeRoles(o),
      age(o, now),
      o.status?.nodeInfo?.kubeletVersion ?? '',
      nodeAddress(o, 'InternalIP'),
      nodeAddress(o, 'ExternalIP'),
      o.status?.nodeInfo?.osImage ?? '<unknown>',
      o.status?.nodeInfo?.kernelVersion ?? '<unknown>',
      o.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>',
    ],
  },
  'discovery.k8s.io/endpointslices': {
    columns: [NAME, ['AddressType', 'string'], ['Ports', 'string'], ['Endpoints', 'string'], AGE],
    row: (o, now) => {
      const ports = (o.ports ?? []).map((p: { port?: number }) => (p.port === undefined ? '<unset>' : String(p.port)));
      const addrs = (o.endpoints ?? []).flatMap((e: { addresses?: string[] }) => e.addresses ?? []);
      return [
        o.metadata.name!,
        o.addressType ?? '',
        ports.length ? ports.join(',') : '<unset>',
        firstAddresses(addrs),
        age(o, now),
      ];
    },
  },
  '/endpoints': {
    columns: [NAME, ['Endpoints', 'string'], AGE],
    row: (o, now) => {
      const eps: string[] = [];
      for (const s of o.subsets ?? [])
        for (const a of s.addresses ?? [])
          for (const p of s.ports?.length ? s.ports : [{}]) eps.push(p.port ? `${a.ip}:${p.port}` : a.ip);
      return [o.metadata.name!, firstAddresses(eps), age(o, now)];
    },
  },
  '/secrets': {
    columns: [NAME, ['Type', 'string'], ['Data', 'string'], AGE],
    row: (o, now) => [o.metadata.name!, o.type ?? 'Opaque', String(Object.keys(o.data ?? {}).length), age(o, now)],
  },
  '/configmaps': {
    columns: [NAME, ['Data', 'string'], AGE],
    row: (o, now) => [
      o.metadata.name!,
      String(Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length),
      age(o, now),
    ],
  },
  '/serviceaccounts': {
    columns: [NAME, ['Secrets', 'string'], AGE],
    row: (o, now) => [o.metadata.name!, String((o.secrets ?? []).length), age(o, now)],
  },
  '/events': {
    columns: [
      ['Last Seen', 'string'],
      ['Type', 'string'],
      ['Reason', 'string'],
      ['Object', 'string'],
      ['Subobject', 'string', 1],
      ['Source', 'string', 1],
      ['Message', 'string'],
      ['First Seen', 'string', 1],
      ['Count', 'string', 1],
      ['Name', 'string', 1, 'name'],
    ],
    row: (o, now) => {
      const last = Date.parse(o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp ?? '');
      const first = Date.parse(o.firstTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp ?? '');
      const io = o.involvedObject ?? {};
      return [
        Number.isNaN(last) ? '<unknown>' : humanDuration(now - last),
        o.type ?? '',
        o.reason ?? '',
        `${String(io.kind ?? '').toLowerCase()}/${io.name ?? ''}`,
        io.fieldPath ?? '',
        o.source?.component ?? o.reportingComponent ?? '',
        String(o.message ?? '').trim(),
        Number.isNaN(first) ? '<unknown>' : humanDuration(now - first),
        String(o.count ?? 1),
        o.metadata.name!,
      ];
    },
  },
  'networking.k8s.io/servicecidrs': {
    columns: [NAME, ['CIDRs', 'string'], AGE],
    row: (o, now) => [o.metadata.name!, (o.spec?.cidrs ?? []).join(','), age(o, now)],
  },
  'rbac.authorization.k8s.io/rolebindings': BINDING_PRINTER,
  'rbac.authorization.k8s.io/clusterrolebindings': BINDING_PRINTER,
};

const DEFAULT_PRINTER: Printer = {
  columns: [NAME, ['Created At', 'date']],
  row: (o) => [o.metadata.name!, o.metadata.creationTimestamp ?? ''],
};

const DESCRIPTIONS: Record<string, string> = {
  Name: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  Age: 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
};

/** IncludeObject is the Table row `object` policy from `?includeObject=`. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** tableFor renders objects as a meta.k8s.io/v1 Table (columnDefinitions omitted when noHeaders). */
export function tableFor(
  type: ResourceType,
  key: string,
  objects: KubeObject[],
  opts: {
    rv?: string;
    include: IncludeObject;
    noHeaders?: boolean;
    now?: number;
    withKind: (o: KubeObject) => KubeObject;
  },
): Record<string, unknown> {
  const printer = PRINTERS[key] ?? DEFAULT_PRINTER;
  const now = opts.now ?? Date.now();
  const columnDefinitions: ColumnDefinition[] = opts.noHeaders
    ? []
    : printer.columns.map(([name, t, priority = 0, format = '']) => ({
        name,
        type: t,
        format,
        description: DESCRIPTIONS[name] ?? `${type.kind} ${name}`,
        priority,
      }));
  const rows = objects.map((o) => {
    const row: Record<string, unknown> = { cells: printer.row(o, now) };
    if (opts.include === 'Object') row.object = opts.withKind(o);
    else if (opts.include === 'Metadata')
      row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: opts.rv === undefined ? {} : { resourceVersion: opts.rv },
    columnDefinitions,
    rows,
  };
}
