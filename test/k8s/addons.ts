// The objects a fresh test cluster gets after its control plane is up:
// the restricted `dev` user's RBAC (the same rules the sandbox grants, so
// both clusters test one set of rights), CoreDNS as kubeadm deploys it (our
// build, our Corefile: upstream names go to an address with no route, so
// nothing leaves the machine), and the demo workloads the sandbox runs.
import { DEV_CLUSTER_RULES, DEV_ROLE_RULES } from '../../src/sandbox/apiserver/bootstrap.ts';
import { demoObjects } from '../../src/sandbox/demo.ts';
import { demoImage } from './cluster-images.ts';
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN, DEV_NAMESPACE, DEV_USER, paths, UNREACHABLE_DNS } from './layout.ts';

type Obj = Record<string, unknown>;
const RBAC = 'rbac.authorization.k8s.io';

/** apiserverToKubelet lets the API server's kubelet client (its certificate's CN) use the kubelet API: exec, logs, port-forward (kubeadm binds the same built-in role). */
export function apiserverToKubelet(): Obj[] {
  return [
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'devnet-k8s:apiserver-kubelet-client' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
      subjects: [{ apiGroup: RBAC, kind: 'User', name: 'kube-apiserver-kubelet-client' }],
    },
  ];
}

/** devRbac lets the `dev` user do a namespaced devnet install in `dev` and read the cluster-scoped objects devnet consults. */
export function devRbac(): Obj[] {
  const subject = [{ apiGroup: RBAC, kind: 'User', name: DEV_USER }];
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEV_NAMESPACE } },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'Role',
      metadata: { name: 'devnet-user', namespace: DEV_NAMESPACE },
      rules: DEV_ROLE_RULES,
    },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'devnet-user', namespace: DEV_NAMESPACE },
      roleRef: { apiGroup: RBAC, kind: 'Role', name: 'devnet-user' },
      subjects: subject,
    },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'devnet-user-cluster-read' },
      rules: DEV_CLUSTER_RULES,
    },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'devnet-user-cluster-read' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'devnet-user-cluster-read' },
      subjects: subject,
    },
  ];
}

/** corefile is CoreDNS's configuration: kubeadm's, minus the plugins we do not build (prometheus, loadbalance). */
export function corefile(): string {
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    forward . ${UNREACHABLE_DNS} {
       max_concurrent 1000
    }
    cache 30 {
       disable success ${CLUSTER_DOMAIN}
       disable denial ${CLUSTER_DOMAIN}
    }
    loop
    reload
}
`;
}

/** coredns is CoreDNS's ServiceAccount, RBAC, ConfigMap, Deployment and the kube-dns Service, after kubeadm's addon. */
export function coredns(image: string): Obj[] {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: `${RBAC}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: ns },
      data: { Corefile: corefile() },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            priorityClassName: 'system-cluster-critical',
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'IfNotPresent',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080 },
                  initialDelaySeconds: 60,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
                  readOnlyRootFilesystem: true,
                },
                resources: { requests: { cpu: '100m', memory: '70Mi' }, limits: { memory: '170Mi' } },
              },
            ],
            volumes: [
              { name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: CLUSTER_DNS_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      },
    },
  ];
}

/** demo is the sandbox's demo workloads (less its own kube-dns), with this cluster's locally built images. */
export function demo(): Obj[] {
  const d = demoObjects();
  const retag = (image: string) => {
    const m = /demo-(hello|echo|db)/.exec(image);
    return m ? demoImage(m[1] as 'hello' | 'echo' | 'db') : image;
  };
  const workloads = [...d.deployments, ...d.statefulsets].map((w) => {
    const copy = structuredClone(w) as unknown as Obj & { spec: { template: { spec: { containers: Obj[] } } } };
    for (const c of copy.spec.template.spec.containers) {
      c.image = retag(String(c.image));
      c.imagePullPolicy = 'IfNotPresent';
    }
    return copy;
  });
  const services = d.services.filter((s) => s.metadata?.namespace !== 'kube-system');
  const extra = (d as unknown as { configMaps?: Obj[] }).configMaps ?? [];
  return [
    ...(d.namespaces as unknown as Obj[]),
    ...extra,
    ...demoStorage(d.statefulsets),
    ...(services as unknown as Obj[]),
    ...workloads,
  ];
}

/**
 * demoStorage gives the demo's claims somewhere to live without a provisioner: the default StorageClass
 * `local-path` (no provisioner) and, for each StatefulSet replica's volumeClaimTemplate, a hostPath
 * PersistentVolume on the node pre-bound to its claim (the PV controller binds them).
 */
export function demoStorage(sets: ReturnType<typeof demoObjects>['statefulsets']): Obj[] {
  const out: Obj[] = [
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: 'local-path', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'kubernetes.io/no-provisioner',
      reclaimPolicy: 'Retain',
      volumeBindingMode: 'Immediate',
    },
  ];
  for (const s of sets)
    for (const t of s.spec?.volumeClaimTemplates ?? [])
      for (let i = 0; i < (s.spec?.replicas ?? 1); i++) {
        const claim = `${t.metadata?.name}-${s.metadata?.name}-${i}`;
        const name = `demo-${claim}`;
        out.push({
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name },
          spec: {
            capacity: { storage: t.spec?.resources?.requests?.storage ?? '64Mi' },
            accessModes: t.spec?.accessModes ?? ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: 'local-path',
            hostPath: { path: `${paths().state}/volumes/${name}`, type: 'DirectoryOrCreate' },
            claimRef: { namespace: s.metadata?.namespace, name: claim },
          },
        });
      }
  return out;
}
