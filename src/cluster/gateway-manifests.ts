// The gateway's Kubernetes objects, computed by a pure function (compute,
// then apply: `devnet gateway install` applies these, the sandbox runs them,
// and cluster-images/gateway/gateway.yaml is rendered from them). They pass
// the `restricted` Pod Security Standard (ARCHITECTURE decision 3).
import { stringify } from 'yaml';
import { PROTOCOL_VERSION } from '../tunnel/version.ts';
import { VERSION } from '../version.ts';

/** GATEWAY_NAME names the Deployment, ServiceAccount, Role and RoleBinding. */
export const GATEWAY_NAME = 'devnet-gateway';
/** GATEWAY_SECRET names the Secret laptops read: the session token (key `token`) and the direct listener's pin (key `tls-fingerprint`). */
export const GATEWAY_SECRET = 'devnet-gateway-token';
/** GATEWAY_TLS_SECRET names the Secret with the direct listener's certificate and key (kubernetes.io/tls); only the gateway needs it. */
export const GATEWAY_TLS_SECRET = 'devnet-gateway-tls';
/** GATEWAY_APP_LABEL is the value of app.kubernetes.io/name on gateway pods. */
export const GATEWAY_APP_LABEL = 'devnet-gateway';
/** GATEWAY_TUNNEL_PORT is the tunnel listener on the pod's loopback (the port-forward target). */
export const GATEWAY_TUNNEL_PORT = 8300;
/** GATEWAY_HEALTH_PORT serves /healthz, /readyz and /metrics on the pod IP. */
export const GATEWAY_HEALTH_PORT = 8301;
/** GATEWAY_INTERCEPT_PORT is the listener intercept pods reach through the gateway's Service (derived tokens only). */
export const GATEWAY_INTERCEPT_PORT = 8302;
/** GATEWAY_IMAGE_REPO is the gateway image without its tag. */
export const GATEWAY_IMAGE_REPO = 'ghcr.io/devnet-dev/gateway';
/** GATEWAY_UID is the non-root user and group the gateway runs as. */
export const GATEWAY_UID = 65532;

/** GatewayManifestOptions choose namespace, version and token. */
export interface GatewayManifestOptions {
  namespace?: string;
  /** version is devnet's version: the image tag and the version label (default: this checkout's). */
  version?: string;
  /** image overrides the image reference entirely. */
  image?: string;
  /** token is the session token stored in the Secret ('' renders a Secret the operator must fill). */
  token?: string;
  /** tls is the direct listener's certificate (src/tls/certificate.ts); omitted renders empty fields to fill. */
  tls?: { certPem: string; keyPem: string; fingerprint: string };
}

/** KubeObject is a Kubernetes object as plain data. */
export type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** gatewayImage is the gateway image for a version: DEVNET_GATEWAY_IMAGE when set (a mirror registry for an air-gapped cluster, or a local build), else the published image. Intercept pods run the same image. */
export function gatewayImage(version: string = VERSION, env: NodeJS.ProcessEnv = process.env): string {
  return env.DEVNET_GATEWAY_IMAGE || `${GATEWAY_IMAGE_REPO}:${version}`;
}

/** gatewayManifests returns Namespace, ServiceAccount, the two Secrets, Service and Deployment, in apply order. */
export function gatewayManifests(opts: GatewayManifestOptions = {}): KubeObject[] {
  const namespace = opts.namespace ?? 'devnet';
  const version = opts.version ?? VERSION;
  const image = opts.image ?? gatewayImage(version);
  const labels = {
    'app.kubernetes.io/name': GATEWAY_APP_LABEL,
    'app.kubernetes.io/component': 'gateway',
    'app.kubernetes.io/part-of': 'devnet',
    'app.kubernetes.io/managed-by': 'devnet',
    'app.kubernetes.io/version': version,
  };
  const meta = (name: string): Record<string, unknown> => ({ name, namespace, labels });
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: {
          'app.kubernetes.io/part-of': 'devnet',
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(GATEWAY_NAME), automountServiceAccountToken: false },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(GATEWAY_SECRET),
      type: 'Opaque',
      stringData: { token: opts.token ?? '', 'tls-fingerprint': opts.tls?.fingerprint ?? '' },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(GATEWAY_TLS_SECRET),
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': opts.tls?.certPem ?? '', 'tls.key': opts.tls?.keyPem ?? '' },
    },
    {
      // Intercept pods reach the gateway here; the tunnel port stays on the pod's loopback.
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(GATEWAY_NAME),
      spec: {
        selector: { 'app.kubernetes.io/name': GATEWAY_APP_LABEL },
        ports: [
          { name: 'intercepts', port: GATEWAY_INTERCEPT_PORT, targetPort: GATEWAY_INTERCEPT_PORT, protocol: 'TCP' },
        ],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(GATEWAY_NAME),
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': GATEWAY_APP_LABEL } },
        template: {
          metadata: {
            labels,
            annotations: { 'devnet.dev/version': version, 'devnet.dev/protocol-version': String(PROTOCOL_VERSION) },
          },
          spec: {
            serviceAccountName: GATEWAY_NAME,
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 30,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: GATEWAY_UID,
              runAsGroup: GATEWAY_UID,
              seccompProfile: { type: 'RuntimeDefault' },
              sysctls: [
                // Safe sysctls (no capability needed). ping_group_range: the gateway's gid may send ICMP echo.
                { name: 'net.ipv4.ping_group_range', value: `${GATEWAY_UID} ${GATEWAY_UID}` },
                // The gateway closes first towards destinations (the laptop's FIN becomes its FIN), so each
                // closed flow holds a local port in TIME-WAIT for 60 s: twice Linux's default range doubles
                // the sustained rate of new connections to one destination (~470/s → ~1,070/s). Not below
                // 1024: the kernel refuses a range under ip_unprivileged_port_start.
                { name: 'net.ipv4.ip_local_port_range', value: '1024 65535' },
              ],
            },
            containers: [
              {
                name: 'gateway',
                image,
                imagePullPolicy: 'IfNotPresent',
                args: [
                  '--listen',
                  `127.0.0.1:${GATEWAY_TUNNEL_PORT}`,
                  '--health-listen',
                  `0.0.0.0:${GATEWAY_HEALTH_PORT}`,
                  '--intercept-listen',
                  `0.0.0.0:${GATEWAY_INTERCEPT_PORT}`,
                  '--drain-timeout',
                  '20000',
                ],
                env: [
                  { name: 'DEVNET_GATEWAY_TOKEN', valueFrom: { secretKeyRef: { name: GATEWAY_SECRET, key: 'token' } } },
                  // The direct listener (off unless DEVNET_GATEWAY_DIRECT_LISTEN is set) serves TLS with these.
                  {
                    name: 'DEVNET_GATEWAY_TLS_CERT',
                    valueFrom: { secretKeyRef: { name: GATEWAY_TLS_SECRET, key: 'tls.crt', optional: true } },
                  },
                  {
                    name: 'DEVNET_GATEWAY_TLS_KEY',
                    valueFrom: { secretKeyRef: { name: GATEWAY_TLS_SECRET, key: 'tls.key', optional: true } },
                  },
                ],
                ports: [
                  { name: 'tunnel', containerPort: GATEWAY_TUNNEL_PORT, protocol: 'TCP' },
                  { name: 'health', containerPort: GATEWAY_HEALTH_PORT, protocol: 'TCP' },
                  { name: 'intercepts', containerPort: GATEWAY_INTERCEPT_PORT, protocol: 'TCP' },
                ],
                readinessProbe: {
                  httpGet: { path: '/readyz', port: GATEWAY_HEALTH_PORT },
                  periodSeconds: 5,
                  failureThreshold: 2,
                },
                livenessProbe: {
                  httpGet: { path: '/healthz', port: GATEWAY_HEALTH_PORT },
                  periodSeconds: 10,
                  failureThreshold: 3,
                },
                resources: {
                  requests: { cpu: '100m', memory: '64Mi' },
                  limits: { cpu: '2', memory: '512Mi' },
                },
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
      },
    },
  ];
}

/** GATEWAY_YAML_HEADER opens the rendered file and says how it is made. */
export const GATEWAY_YAML_HEADER = `# devnet gateway: Namespace, ServiceAccount, Secrets, Service, Deployment.
# Generated from src/cluster/gateway-manifests.ts by \`npm run manifests:gateway\`; do not edit.
# The Secrets are empty here: \`devnet gateway install\` fills them with a random token and a
# self-signed certificate for the direct listener, or set them yourself:
#   openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=devnet-gateway -keyout tls.key -out tls.crt
#   kubectl -n devnet create secret tls devnet-gateway-tls --cert tls.crt --key tls.key
#   kubectl -n devnet create secret generic devnet-gateway-token --from-literal=token=$(openssl rand -hex 32) \\
#     --from-literal=tls-fingerprint=$(openssl x509 -in tls.crt -noout -fingerprint -sha256 | cut -d= -f2)
`;

/** renderGatewayYaml renders the manifests as one multi-document YAML file. */
export function renderGatewayYaml(opts: GatewayManifestOptions = {}): string {
  return (
    GATEWAY_YAML_HEADER +
    gatewayManifests(opts)
      .map((o) => `---\n${stringify(o)}`)
      .join('')
  );
}
