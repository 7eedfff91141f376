// The real test cluster's fixed facts: names, ranges, addresses and paths.
// One node, in its own network namespace; the control plane runs there too.
// The host reaches the node only through one /30 veth link, and the node's
// firewall admits nothing from that link but the API server's port, so the
// host reaches the API server and nothing else. The ranges differ from the
// sandbox's (kubernetes-the-hard-way's), so devnet must discover them.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** NETNS is the node's network namespace. */
export const NETNS = 'devnet-k8s';
/** HOST_LINK and NODE_LINK are the two ends of the host↔node veth. */
export const HOST_LINK = 'dk8s-host';
export const NODE_LINK = 'dk8s-node';
/** HOST_IP and NODE_IP are the /30 link's addresses; NODE_IP is the node's InternalIP and the API server's. */
export const HOST_IP = '172.31.254.1';
export const NODE_IP = '172.31.254.2';
export const LINK_PREFIX = 30;
/** API_PORT is the API server's port on NODE_IP. */
export const API_PORT = 6443;
/** NODE_NAME is the Node object's name. */
export const NODE_NAME = 'devnet-k8s';
/** SERVICE_CIDR and POD_CIDR are the cluster's ranges; NODE_POD_CIDR is the node's slice. */
export const SERVICE_CIDR = '10.32.0.0/16';
export const POD_CIDR = '10.200.0.0/16';
export const NODE_POD_CIDR = '10.200.0.0/24';
/** KUBERNETES_SERVICE_IP is the `kubernetes` Service; CLUSTER_DNS_IP is kube-dns. */
export const KUBERNETES_SERVICE_IP = '10.32.0.1';
export const CLUSTER_DNS_IP = '10.32.0.10';
export const CLUSTER_DOMAIN = 'cluster.local';
/** BRIDGE is the CNI bridge in the node namespace. */
export const BRIDGE = 'cni0';
/** SAFETY_METRIC is the metric of the host's `unreachable` routes for the cluster ranges (devnet's TUN routes win). */
export const SAFETY_METRIC = 9901;
/** UNREACHABLE_DNS is the upstream CoreDNS forwards to: an address the node has no route to, so queries fail at once and nothing leaves the machine. */
export const UNREACHABLE_DNS = '192.0.2.153';
/** CONTEXT_ADMIN and CONTEXT_DEV name the kubeconfig contexts. */
export const CONTEXT_ADMIN = 'devnet-k8s';
export const CONTEXT_DEV = 'devnet-k8s-dev';
/** DEV_USER is the restricted developer (a client certificate's CN) and DEV_NAMESPACE its namespace. */
export const DEV_USER = 'dev';
export const DEV_NAMESPACE = 'dev';

/** PRIVATE_DIRS are fixed host paths the node's programs write to (shim sockets, CNI's cache, kubelet's log links); each gets a private tmpfs in the node's mount namespace. */
export const PRIVATE_DIRS = ['/run/containerd', '/var/lib/cni', '/var/log/containers'];

/** Paths are where the cluster keeps its state. */
export interface Paths {
  /** state holds everything the cluster writes; `down` removes it. */
  state: string;
  /** run holds sockets and pid files. */
  run: string;
  pki: string;
  config: string;
  logs: string;
  etcd: string;
  containerd: string;
  containerdState: string;
  kubelet: string;
  podLogs: string;
  cniConf: string;
  cniData: string;
  images: string;
  /** kubeconfig is the file `up` prints: contexts devnet-k8s and devnet-k8s-dev. */
  kubeconfig: string;
  /** supervisorPid records the supervisor's pid and start time. */
  supervisorPid: string;
  /** sysctls records the host's kernel settings the kubelet changes, to restore them. */
  sysctls: string;
}

/** paths derives every path from DEVNET_K8S_STATE and DEVNET_K8S_RUN. */
export function paths(env: NodeJS.ProcessEnv = process.env): Paths {
  const state = env.DEVNET_K8S_STATE ?? '/var/lib/devnet-k8s';
  const run = env.DEVNET_K8S_RUN ?? '/run/devnet-k8s';
  return {
    state,
    run,
    pki: join(state, 'pki'),
    config: join(state, 'config'),
    logs: join(state, 'logs'),
    etcd: join(state, 'etcd'),
    containerd: join(state, 'containerd'),
    containerdState: join(run, 'containerd'),
    kubelet: join(state, 'kubelet'),
    podLogs: join(state, 'pod-logs'),
    cniConf: join(state, 'cni', 'net.d'),
    cniData: join(state, 'cni', 'data'),
    images: join(state, 'images'),
    kubeconfig: join(state, 'kubeconfig'),
    supervisorPid: join(run, 'supervisor.pid'),
    sysctls: join(state, 'host-sysctls.json'),
  };
}

/** startedByTests marks a cluster a test run started, so the run that is last out takes it down. */
export const startedByTests = (p: Paths) => join(p.state, 'started-by-tests');

/** E2E_LOCK serializes end-to-end suites on the one real cluster (and image refreshes by test runs between them). */
export const E2E_LOCK = '/run/devnet-k8s-e2e.lock';

/** TEST_USERS_LOCK is held shared by every test run using the cluster; the last one out gets it exclusively. */
export const TEST_USERS_LOCK = '/run/devnet-k8s-users.lock';

/** cacheDir is the build cache for one Kubernetes version (test/k8s/build.sh writes it). */
export function cacheDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.DEVNET_K8S_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'devnet-k8s');
  return join(root, version);
}
