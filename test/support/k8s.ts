// The real test cluster (test/k8s) as the end-to-end suites see it. One
// cluster serves every suite on the machine, so a suite holds the e2e lock
// from start to cleanup (suites run one after another against it, each
// leaving the cluster as it found it), and runs the gateway image built from
// its own checkout under a tag of its own (DEVNET_GATEWAY_IMAGE), so two
// checkouts testing at once never run each other's gateway.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { devGatewayImage, importDevGatewayImage } from '../k8s/import.ts';
import { E2E_LOCK, paths } from '../k8s/layout.ts';

export { holdLock } from '../k8s/lock.ts';
export { E2E_LOCK };

/** ClusterKind is the cluster the end-to-end suites run against. */
export type ClusterKind = 'k8s' | 'sandbox';

/** clusterKind reads DEVNET_TEST_CLUSTER: `k8s` (the default: a real Kubernetes) or `sandbox`. */
export function clusterKind(env: NodeJS.ProcessEnv = process.env): ClusterKind {
  const v = env.DEVNET_TEST_CLUSTER ?? 'k8s';
  if (v !== 'k8s' && v !== 'sandbox') throw new Error(`DEVNET_TEST_CLUSTER must be k8s or sandbox, not "${v}"`);
  return v;
}

/** K8sAccess is what a suite needs of the running cluster. */
export interface K8sAccess {
  /** kubeconfig reaches the API server from the host. */
  kubeconfig: string;
  /** apiHost and apiPort are the API server's address from the host. */
  apiHost: string;
  apiPort: number;
  /** gatewayImage is this checkout's gateway image, imported under a tag of its own. */
  gatewayImage: string;
}

/** k8sRunning answers whether the real cluster's supervisor runs. */
export function k8sRunning(): boolean {
  const p = paths();
  if (!existsSync(p.supervisorPid) || !existsSync(p.kubeconfig)) return false;
  const [pid] = readFileSync(p.supervisorPid, 'utf8').trim().split(' ');
  return Boolean(pid) && existsSync(`/proc/${pid}`);
}

/** k8sAccess checks that the cluster runs, imports this checkout's gateway image, and says how to reach it. */
export function k8sAccess(): K8sAccess {
  if (!k8sRunning()) {
    throw new Error(
      'the real test cluster is not running: start it with `sudo npm run k8s:up` (npm test starts it by itself), or run the suites against the sandbox with DEVNET_TEST_CLUSTER=sandbox',
    );
  }
  const p = paths();
  const server = /server:\s*https:\/\/([\d.]+):(\d+)/.exec(readFileSync(p.kubeconfig, 'utf8'));
  if (!server) throw new Error(`no server address in ${p.kubeconfig}`);
  importDevGatewayImage();
  return {
    kubeconfig: p.kubeconfig,
    apiHost: server[1] as string,
    apiPort: Number(server[2]),
    gatewayImage: devGatewayImage(),
  };
}

/** kubectlK8s runs kubectl against the real cluster as admin. */
export function kubectlK8s(args: string[], input?: string): string {
  return execFileSync('kubectl', ['--kubeconfig', paths().kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 180_000,
  });
}
