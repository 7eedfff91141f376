// The test cluster's configuration files and command lines, as pure
// functions of the layout: kubeconfigs, containerd's config, the CNI bridge,
// the kubelet's and kube-proxy's configurations, and each control-plane
// program's flags. What each setting is for is said where it is set; the
// node-in-a-box settings follow kind's node image and REAL-K8S.md.
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  API_PORT,
  BRIDGE,
  CLUSTER_DNS_IP,
  CLUSTER_DOMAIN,
  CONTEXT_ADMIN,
  CONTEXT_DEV,
  DEV_NAMESPACE,
  NODE_IP,
  NODE_NAME,
  NODE_POD_CIDR,
  type Paths,
  POD_CIDR,
  SERVICE_CIDR,
} from './layout.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Credential is a client certificate and key (PEM). */
export interface Credential {
  cert: string;
  key: string;
}

/** componentKubeconfig is the kubeconfig a control-plane program or the node uses (inside the node, so 127.0.0.1 or the node IP). */
export function componentKubeconfig(server: string, ca: string, user: string, cred: Credential): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'devnet-k8s', cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(cred.cert), 'client-key-data': b64(cred.key) } }],
    contexts: [{ name: 'default', context: { cluster: 'devnet-k8s', user } }],
    'current-context': 'default',
  });
}

/** userKubeconfig is the file `k8s:up` prints: the admin context (current) and the restricted `dev` user's, namespace dev. */
export function userKubeconfig(server: string, ca: string, admin: Credential, dev: Credential): string {
  const user = (name: string, c: Credential) => ({
    name,
    user: { 'client-certificate-data': b64(c.cert), 'client-key-data': b64(c.key) },
  });
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'devnet-k8s', cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [user('devnet-k8s-admin', admin), user('devnet-k8s-dev', dev)],
    contexts: [
      { name: CONTEXT_ADMIN, context: { cluster: 'devnet-k8s', user: 'devnet-k8s-admin' } },
      { name: CONTEXT_DEV, context: { cluster: 'devnet-k8s', user: 'devnet-k8s-dev', namespace: DEV_NAMESPACE } },
    ],
    'current-context': CONTEXT_ADMIN,
    preferences: {},
  });
}

/** apiServerUrl is where the host and the node reach the API server. */
export const apiServerUrl = () => `https://${NODE_IP}:${API_PORT}`;

/** containerdSocket is the CRI endpoint. */
export const containerdSocket = (p: Paths) => join(p.containerdState, 'containerd.sock');

/** containerdConfig is containerd 2.x's config (version 3): runc without systemd cgroups, our dirs, the pinned pause image, netns mounts under our state dir; restrictOomScoreAdj when this root lacks CAP_SYS_RESOURCE (runc then cannot lower a container's oom_score_adj). */
export function containerdConfig(p: Paths, pauseImage: string, restrictOomScoreAdj: boolean): string {
  const q = (s: string) => `'${s}'`;
  return `version = 3
root = ${q(p.containerd)}
state = ${q(p.containerdState)}

[grpc]
  address = ${q(containerdSocket(p))}

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = ${q(pauseImage)}

[plugins.'io.containerd.cri.v1.runtime']
  tolerate_missing_hugetlb_controller = true
  restrict_oom_score_adj = ${restrictOomScoreAdj}
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = ${q(p.cniConf)}

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'
`;
}

/** cniConfig is the bridge network: pods get addresses from the node's slice, the bridge is their gateway, and nothing is masqueraded (pods have no way off the machine). */
export function cniConfig(p: Paths): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'devnet-k8s',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: p.cniData,
            ranges: [[{ subnet: NODE_POD_CIDR }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** kubeletConfig is the kubelet's KubeletConfiguration: cgroupfs (no systemd), x509 + webhook auth, cluster DNS, and no image GC or disk eviction (imported images must never be collected; kind does the same). */
export function kubeletConfig(p: Paths): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: join(p.pki, 'ca.crt') },
    },
    authorization: { mode: 'Webhook' },
    tlsCertFile: join(p.pki, 'kubelet.crt'),
    tlsPrivateKeyFile: join(p.pki, 'kubelet.key'),
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${containerdSocket(p)}`,
    clusterDomain: CLUSTER_DOMAIN,
    clusterDNS: [CLUSTER_DNS_IP],
    resolvConf: join(p.config, 'node-resolv.conf'),
    podLogsDir: p.podLogs,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%' },
    serializeImagePulls: false,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    protectKernelDefaults: false,
    podCIDR: NODE_POD_CIDR,
  });
}

/** kubeProxyConfig is kube-proxy's configuration: nftables mode; conntrack sysctls left alone (they are the host's, not the node namespace's). */
export function kubeProxyConfig(p: Paths): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: join(p.config, 'kube-proxy.kubeconfig') },
    mode: 'nftables',
    clusterCIDR: POD_CIDR,
    hostnameOverride: NODE_NAME,
    bindAddress: NODE_IP,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
  });
}

/** Program is one process the node runs. */
export interface Program {
  name: string;
  argv: string[];
  /** ready answers when the program serves (an HTTP(S) URL on the node or a socket path). */
  ready?: { url?: string; socket?: string };
}

/** programs lists the node's programs in start order with their flags. */
export function programs(p: Paths, bin: string): Program[] {
  const pki = (f: string) => join(p.pki, f);
  const cfg = (f: string) => join(p.config, f);
  const kc = (name: string) => [
    `--kubeconfig=${cfg(`${name}.kubeconfig`)}`,
    `--authentication-kubeconfig=${cfg(`${name}.kubeconfig`)}`,
    `--authorization-kubeconfig=${cfg(`${name}.kubeconfig`)}`,
  ];
  return [
    {
      name: 'etcd',
      argv: [
        join(bin, 'etcd'),
        '--name=devnet-k8s',
        `--data-dir=${p.etcd}`,
        '--listen-client-urls=http://127.0.0.1:2379',
        '--advertise-client-urls=http://127.0.0.1:2379',
        '--listen-peer-urls=http://127.0.0.1:2380',
        '--initial-advertise-peer-urls=http://127.0.0.1:2380',
        '--initial-cluster=devnet-k8s=http://127.0.0.1:2380',
        '--listen-metrics-urls=http://127.0.0.1:2381',
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      ready: { url: 'http://127.0.0.1:2381/health' },
    },
    {
      name: 'kube-apiserver',
      argv: [
        join(bin, 'kube-apiserver'),
        `--advertise-address=${NODE_IP}`,
        '--bind-address=0.0.0.0',
        `--secure-port=${API_PORT}`,
        '--etcd-servers=http://127.0.0.1:2379',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        `--client-ca-file=${pki('ca.crt')}`,
        `--tls-cert-file=${pki('apiserver.crt')}`,
        `--tls-private-key-file=${pki('apiserver.key')}`,
        `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
        `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
        `--kubelet-certificate-authority=${pki('ca.crt')}`,
        '--kubelet-preferred-address-types=InternalIP',
        `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
        `--service-account-key-file=${pki('sa.pub')}`,
        `--service-account-signing-key-file=${pki('sa.key')}`,
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction',
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
      ],
      ready: { url: `https://127.0.0.1:${API_PORT}/readyz` },
    },
    {
      name: 'kube-controller-manager',
      argv: [
        join(bin, 'kube-controller-manager'),
        ...kc('controller-manager'),
        '--bind-address=127.0.0.1',
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        `--cluster-signing-cert-file=${pki('ca.crt')}`,
        `--cluster-signing-key-file=${pki('ca.key')}`,
        `--root-ca-file=${pki('ca.crt')}`,
        `--service-account-private-key-file=${pki('sa.key')}`,
        '--allocate-node-cidrs=true',
        `--cluster-cidr=${POD_CIDR}`,
        '--node-cidr-mask-size=24',
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--v=1',
      ],
    },
    {
      name: 'kube-scheduler',
      argv: [join(bin, 'kube-scheduler'), ...kc('scheduler'), '--bind-address=127.0.0.1', '--leader-elect=false'],
    },
    {
      name: 'containerd',
      argv: [join(bin, 'containerd'), `--config=${cfg('containerd.toml')}`],
      ready: { socket: containerdSocket(p) },
    },
    {
      name: 'kubelet',
      argv: [
        join(bin, 'kubelet'),
        `--config=${cfg('kubelet.yaml')}`,
        `--kubeconfig=${cfg('kubelet.kubeconfig')}`,
        `--root-dir=${p.kubelet}`,
        `--node-ip=${NODE_IP}`,
        `--hostname-override=${NODE_NAME}`,
        '--v=1',
      ],
    },
    {
      name: 'kube-proxy',
      argv: [join(bin, 'kube-proxy'), `--config=${cfg('kube-proxy.yaml')}`],
    },
  ];
}
