// The intercept's Kubernetes objects, computed by a pure function: a
// ServiceAccount, a Role that lets the intercept pod read its one Service
// (the intercepts and their leases) and nothing else, its RoleBinding, the
// original-endpoints Service, and the intercept pod — the gateway image in
// intercept mode, passing the restricted Pod Security Standard. The pod
// changes nothing in the cluster (docs/security.md, "a compromised pod"):
// when its owners' leases run out it sends every connection to the original
// endpoints, and the Service itself is only ever changed with the owners'
// own credentials.
import {
  GATEWAY_HEALTH_PORT,
  GATEWAY_INTERCEPT_PORT,
  GATEWAY_UID,
  gatewayImage,
  type KubeObject,
} from '../cluster/gateway-manifests.ts';
import { VERSION } from '../version.ts';
import { interceptObjectName, interceptPodLabels, originalServiceName, type ServiceLike } from './model.ts';

/** INTERCEPT_HEALTH_PORT serves the intercept pod's /readyz (ready = listening and connected to the gateway). */
export const INTERCEPT_HEALTH_PORT = GATEWAY_HEALTH_PORT;
/** INTERCEPT_SFTP_PORT serves the mounted volumes read-only over SFTP (sftp-auth.ts). */
export const INTERCEPT_SFTP_PORT = 8303;
/** VOLUMES_DIR is where the intercept pod mounts the target's PersistentVolumeClaims, one directory per volume. */
export const VOLUMES_DIR = '/var/lib/devnet/volumes';

/** ClaimMount is one of the target's PersistentVolumeClaims the intercept pod mounts read-only. */
export interface ClaimMount {
  /** volume is the target pod's volume name (the directory below VOLUMES_DIR). */
  volume: string;
  claim: string;
}

/** PodIdentity is who the intercept pod runs as, so it can read what the target wrote (never root). */
export interface PodIdentity {
  uid: number;
  gid: number;
  groups: number[];
}

/** InterceptObjectsOptions describe one intercepted Service. */
export interface InterceptObjectsOptions {
  service: ServiceLike;
  /** original is the Service's own selector. */
  original: Record<string, string>;
  /** targetPorts maps each Service port to its numeric container port (targetName: the name the Service targets). */
  targetPorts: { name?: string; port: number; targetPort: number; targetName?: string }[];
  /** gateway is host:port of the gateway's intercept listener. */
  gateway: string;
  /** token is the pod's derived gateway credential (model.podToken). */
  token: string;
  /** podName is this incarnation's pod name (model.interceptPodName). */
  podName: string;
  /** claims are mounted read-only below VOLUMES_DIR and served with `sftpToken` (none: no volume listener). */
  claims?: ClaimMount[];
  sftpToken?: string;
  /** node pins the pod to the target pod's node (a ReadWriteOnce claim attaches to one node). */
  node?: string;
  identity?: PodIdentity;
  version?: string;
  image?: string;
}

/** interceptRole is the Role of an intercept pod (also documented in docs/intercepts.md). */
export function interceptRole(namespace: string, service: string): KubeObject {
  const name = interceptObjectName(service);
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace, labels: commonLabels(service) },
    // Read the intercepts and their leases. No write: a pod that could update its Service could set
    // externalIPs (capture any address cluster-wide) or make it a LoadBalancer.
    rules: [{ apiGroups: [''], resources: ['services'], resourceNames: [service], verbs: ['get'] }],
  };
}

function commonLabels(service: string): Record<string, string> {
  return {
    'app.kubernetes.io/part-of': 'devnet',
    'app.kubernetes.io/managed-by': 'devnet',
    'app.kubernetes.io/component': 'intercept',
    'devnet.dev/intercept-for': service,
  };
}

/** interceptObjects returns ServiceAccount, Role, RoleBinding, the original-endpoints Service and the pod, in apply order. */
export function interceptObjects(o: InterceptObjectsOptions): KubeObject[] {
  const namespace = o.service.metadata?.namespace as string;
  const service = o.service.metadata?.name as string;
  const name = interceptObjectName(service);
  const version = o.version ?? VERSION;
  const labels = commonLabels(service);
  const claims = o.sftpToken ? (o.claims ?? []) : [];
  return [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace, labels },
      automountServiceAccountToken: false,
    },
    interceptRole(namespace, service),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: originalServiceName(service), namespace, labels },
      spec: {
        selector: o.original,
        ports: o.targetPorts.map((p) => ({
          ...(p.name ? { name: p.name } : {}),
          port: p.port,
          targetPort: p.targetPort,
          protocol: 'TCP',
        })),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: o.podName,
        namespace,
        labels: { ...labels, ...interceptPodLabels(service), 'app.kubernetes.io/version': version },
        annotations: { 'devnet.dev/version': version },
      },
      spec: {
        serviceAccountName: name,
        // The token is needed to undo the intercept without the laptop; it is mounted for this container only.
        automountServiceAccountToken: true,
        enableServiceLinks: false,
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 5,
        ...(o.node
          ? {
              affinity: {
                nodeAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [o.node] }] }],
                  },
                },
              },
            }
          : {}),
        ...(claims.length > 0
          ? {
              volumes: claims.map((c, i) => ({
                name: `claim-${i}`,
                persistentVolumeClaim: { claimName: c.claim, readOnly: true },
              })),
            }
          : {}),
        securityContext: {
          runAsNonRoot: true,
          runAsUser: o.identity?.uid ?? GATEWAY_UID,
          runAsGroup: o.identity?.gid ?? GATEWAY_UID,
          ...(o.identity?.groups.length ? { supplementalGroups: o.identity.groups } : {}),
          seccompProfile: { type: 'RuntimeDefault' },
          // A safe sysctl: the non-root process may listen on target ports below 1024.
          sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
        },
        containers: [
          {
            name: 'intercept',
            image: o.image ?? gatewayImage(version),
            imagePullPolicy: 'IfNotPresent',
            args: ['intercept'],
            env: [
              { name: 'DEVNET_INTERCEPT_NAMESPACE', value: namespace },
              { name: 'DEVNET_INTERCEPT_SERVICE', value: service },
              { name: 'DEVNET_INTERCEPT_POD', value: o.podName },
              { name: 'DEVNET_INTERCEPT_ORIGINAL', value: originalServiceName(service) },
              {
                name: 'DEVNET_INTERCEPT_PORTS',
                value: o.targetPorts.map((p) => `${p.targetPort}:${p.port}`).join(','),
              },
              { name: 'DEVNET_INTERCEPT_GATEWAY', value: o.gateway },
              { name: 'DEVNET_INTERCEPT_TOKEN', value: o.token },
              ...(claims.length > 0 && o.sftpToken
                ? [{ name: 'DEVNET_INTERCEPT_SFTP_TOKEN', value: o.sftpToken }]
                : []),
            ],
            ...(claims.length > 0
              ? {
                  volumeMounts: claims.map((c, i) => ({
                    name: `claim-${i}`,
                    mountPath: `${VOLUMES_DIR}/${c.volume}`,
                    readOnly: true,
                  })),
                }
              : {}),
            // A Service that targets a port by name finds it on the intercept pod under the same name.
            ports: [
              ...[...new Map(o.targetPorts.map((p) => [p.targetPort, p])).values()].map((p) => ({
                ...(p.targetName ? { name: p.targetName } : {}),
                containerPort: p.targetPort,
                protocol: 'TCP',
              })),
              { name: 'devnet-health', containerPort: INTERCEPT_HEALTH_PORT, protocol: 'TCP' },
              ...(claims.length > 0
                ? [{ name: 'devnet-sftp', containerPort: INTERCEPT_SFTP_PORT, protocol: 'TCP' }]
                : []),
            ],
            readinessProbe: {
              httpGet: { path: '/readyz', port: INTERCEPT_HEALTH_PORT },
              periodSeconds: 2,
              failureThreshold: 2,
            },
            resources: { requests: { cpu: '50m', memory: '48Mi' }, limits: { cpu: '1', memory: '256Mi' } },
            securityContext: {
              allowPrivilegeEscalation: false,
              privileged: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            },
          },
        ],
      },
    },
  ];
}

export { GATEWAY_INTERCEPT_PORT };
