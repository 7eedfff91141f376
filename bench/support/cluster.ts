// The cluster under the benchmark pod, chosen with `--cluster`: the real
// Kubernetes of test/k8s (cluster-k8s.ts: shared by everything on the
// machine, so held under the e2e lock and given back as found) or a sandbox
// of the bench's own (cluster-sandbox.ts). The lab (lab.ts) and the paths
// (paths.ts) see only this interface.
import type { ClusterKind } from '../../test/support/k8s.ts';
import type { Cleanup } from './programs.ts';

/** BENCH_NAMESPACE_LABEL marks the namespace the bench creates, so a later bench can remove one left behind. */
export const BENCH_NAMESPACE_LABEL = { 'app.kubernetes.io/managed-by': 'devnet-bench' } as const;

/** BenchContainer is the benchmark pod's container: its entry point serves TCP echo (RFC 862) on LAB.echoPort. */
export interface BenchContainer {
  image: string;
  imagePullPolicy?: 'IfNotPresent';
}

/** BenchCluster is what the lab needs of the cluster under test; open() readies it, registering its undo with cleanup. */
export interface BenchCluster {
  readonly kind: ClusterKind;
  /** context is the admin kubeconfig context, for kubectl and `devnet connect`. */
  readonly context: string;
  /** podSubnet is the pod range the peers route (devnet finds it by itself). */
  readonly podSubnet: string;
  /** nodeNs is the network namespace of the node, where pod addresses are routed. */
  readonly nodeNs: string;
  /** env points kubectl on the host at the cluster (KUBECONFIG). */
  readonly env: NodeJS.ProcessEnv;
  /** devnetEnv is what devnet on the laptop needs beyond its own dirs (which gateway image to run). */
  readonly devnetEnv: NodeJS.ProcessEnv;
  /** apiTarget is socat's address of the API server from the host; the laptop reaches it at 127.0.0.1:apiPort. */
  readonly apiTarget: string;
  readonly apiPort: number;
  /** laptopKubeconfig is the kubeconfig devnet on the laptop uses (server https://127.0.0.1:apiPort). */
  readonly laptopKubeconfig: string;
  readonly container: BenchContainer;
  open(cleanup: Cleanup, log: (s: string) => void): Promise<void>;
  /** inPod is the program and arguments that run cmd in a pod's first container, for as long as the program runs. */
  inPod(namespace: string, pod: string, cmd: string[]): [string, string[]];
  /** keepWork says the bench's work dir must outlive the run: it holds what sweepStale() needs to finish the cleanup. */
  keepWork(): boolean;
}
