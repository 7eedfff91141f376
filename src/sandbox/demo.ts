// The demo workloads `devnet sandbox up` creates: what the README's first
// steps and the end-to-end tests use. Plain manifests, as a user would
// apply them; POD_NAME/POD_NAMESPACE come from the downward API. demo/hello
// mounts the ConfigMap hello-config at /etc/hello (its greeting answers
// GET /greeting); each db replica keeps its data on its own claim
// (volumeClaimTemplates `data`, ReadWriteOnce) at /var/lib/db.
import type {
  V1ConfigMap,
  V1Deployment,
  V1EnvVar,
  V1Namespace,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { CLUSTER_DNS_IP } from './constants.ts';
import { IMAGE_REPO } from './images.ts';

/** DemoObjects are the objects `up` creates, in creation order. */
export interface DemoObjects {
  namespaces: V1Namespace[];
  configMaps: V1ConfigMap[];
  services: V1Service[];
  deployments: V1Deployment[];
  statefulsets: V1StatefulSet[];
}

const podEnv: V1EnvVar[] = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];

function deployment(
  namespace: string,
  name: string,
  image: string,
  replicas: number,
  container: Record<string, unknown>,
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: `${IMAGE_REPO}/${image}:latest`, ...container }] },
      },
    },
  };
}

function service(namespace: string, name: string, spec: V1Service['spec']): V1Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels: { app: name } }, spec };
}

/** HELLO_GREETING is the demo ConfigMap's greeting. */
export const HELLO_GREETING = 'Hello from the hello-config ConfigMap';

/** demoObjects returns the demo namespaces, ConfigMaps, services and workloads. */
export function demoObjects(): DemoObjects {
  const helloContainer = (extraEnv: V1EnvVar[]) => ({
    ports: [{ name: 'http', containerPort: 8080 }],
    env: [...podEnv, ...extraEnv],
    readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2 },
  });
  const helloDeployment = deployment('demo', 'hello', 'demo-hello', 2, {
    ...helloContainer([]),
    volumeMounts: [{ name: 'config', mountPath: '/etc/hello', readOnly: true }],
  });
  (helloDeployment.spec?.template.spec as { volumes?: unknown[] }).volumes = [
    { name: 'config', configMap: { name: 'hello-config' } },
  ];
  return {
    namespaces: ['demo', 'other'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    configMaps: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'hello-config', namespace: 'demo', labels: { app: 'hello' } },
        data: { greeting: HELLO_GREETING },
      },
    ],
    services: [
      service('kube-system', 'kube-dns', {
        clusterIP: CLUSTER_DNS_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      }),
      service('demo', 'hello', { selector: { app: 'hello' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
      service('demo', 'echo', {
        selector: { app: 'echo' },
        ports: [
          { name: 'tcp-echo', port: 7, protocol: 'TCP' },
          { name: 'udp-echo', port: 7, protocol: 'UDP' },
        ],
      }),
      service('demo', 'db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'postgres', port: 5432 }] }),
      service('demo', 'ext', { type: 'ExternalName', externalName: 'hello.demo.svc.cluster.local' }),
      service('other', 'hello', { selector: { app: 'hello' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
    ],
    deployments: [
      helloDeployment,
      deployment('demo', 'echo', 'demo-echo', 1, {
        ports: [
          { name: 'tcp-echo', containerPort: 7, protocol: 'TCP' },
          { name: 'udp-echo', containerPort: 7, protocol: 'UDP' },
        ],
        readinessProbe: { tcpSocket: { port: 7 }, periodSeconds: 2 },
      }),
      deployment('other', 'hello', 'demo-hello', 1, helloContainer([{ name: 'HELLO_SHOW_NAMESPACE', value: 'true' }])),
    ],
    statefulsets: [
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: 'demo', labels: { app: 'db' } },
        spec: {
          serviceName: 'db',
          replicas: 2,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: {
              containers: [
                {
                  name: 'db',
                  image: `${IMAGE_REPO}/demo-db:latest`,
                  ports: [{ name: 'postgres', containerPort: 5432 }],
                  env: [...podEnv, { name: 'DB_DATA_DIR', value: '/var/lib/db' }],
                  volumeMounts: [{ name: 'data', mountPath: '/var/lib/db' }],
                  readinessProbe: { tcpSocket: { port: 5432 }, periodSeconds: 2 },
                },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } },
            },
          ],
        },
      },
    ],
  };
}
