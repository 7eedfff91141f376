// The real Kubernetes of test/k8s as the bench's cluster. It is shared by
// everything on the machine, so the bench holds the e2e lock from open to
// the end of cleanup (end-to-end suites and other benches wait), runs its own
// checkout's gateway under a content tag (DEVNET_GATEWAY_IMAGE, as the suites
// do) and gives the cluster back as it found it: the bench namespace deleted,
// the gateway uninstalled and its namespace deleted, at the end and also at
// open (what a bench killed outright left). The cluster must be running:
// `sudo npm run k8s:up` starts it. The pod image is built here and imported
// only when its content changed (test/k8s/cluster-images.ts benchImageSpec).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importBenchImage } from '../../test/k8s/import.ts';
import { CONTEXT_ADMIN, E2E_LOCK, NETNS, POD_CIDR } from '../../test/k8s/layout.ts';
import { holdLock, tryLock } from '../../test/k8s/lock.ts';
import { k8sAccess, k8sRunning } from '../../test/support/k8s.ts';
import { BENCH_NAMESPACE_LABEL, type BenchCluster, type BenchContainer } from './cluster.ts';
import { type Cleanup, DEVNET_BIN, must, run } from './programs.ts';

/** GATEWAY_NAMESPACE is where `devnet connect` installs the gateway (its default). */
const GATEWAY_NAMESPACE = 'devnet';

/** K8sCluster is the running test/k8s cluster, held under the e2e lock. */
export class K8sCluster implements BenchCluster {
  readonly kind = 'k8s';
  readonly context = CONTEXT_ADMIN;
  readonly podSubnet = POD_CIDR;
  readonly nodeNs = NETNS;
  readonly laptopKubeconfig: string;
  env: NodeJS.ProcessEnv = {};
  devnetEnv: NodeJS.ProcessEnv = {};
  apiTarget = '';
  apiPort = 0;
  container: BenchContainer = { image: '' };

  constructor(work: string) {
    this.laptopKubeconfig = join(work, 'kubeconfig');
  }

  async open(cleanup: Cleanup, log: (s: string) => void): Promise<void> {
    let release = await tryLock(E2E_LOCK);
    if (!release) {
      log(`waiting for ${E2E_LOCK}: an end-to-end suite or another bench is using the cluster`);
      release = await holdLock(E2E_LOCK);
    }
    cleanup.add('e2e lock', release);
    if (!k8sRunning()) {
      throw new Error(
        'the real test cluster is not running: start it with `sudo npm run k8s:up`, or bench the sandbox with `--cluster sandbox`',
      );
    }
    log("importing this checkout's gateway and the bench image (only what changed)");
    const access = k8sAccess();
    this.env = { ...process.env, KUBECONFIG: access.kubeconfig };
    this.devnetEnv = { DEVNET_GATEWAY_IMAGE: access.gatewayImage };
    this.apiTarget = `TCP:${access.apiHost}:${access.apiPort}`;
    this.apiPort = access.apiPort;
    this.container = { image: importBenchImage(log), imagePullPolicy: 'IfNotPresent' };
    // The laptop reaches the API server on its own loopback, through the relay (lab.ts).
    const doc = readFileSync(access.kubeconfig, 'utf8').replace(
      /server:\s*https:\/\/\S+/,
      `server: https://127.0.0.1:${access.apiPort}`,
    );
    writeFileSync(this.laptopKubeconfig, doc, { mode: 0o600 });
    await this.#giveBack(log);
    cleanup.add('the cluster given back', () => this.#giveBack(log));
  }

  inPod(namespace: string, pod: string, cmd: string[]): [string, string[]] {
    return ['kubectl', ['--context', this.context, 'exec', '-n', namespace, pod, '--', ...cmd]];
  }

  keepWork(): boolean {
    return false;
  }

  /** #giveBack removes what a bench adds to the cluster: its namespace, the gateway and the gateway's namespace. */
  async #giveBack(log: (s: string) => void): Promise<void> {
    const kubectl = (...args: string[]) =>
      must('kubectl', ['--context', this.context, ...args], { env: this.env, timeoutMs: 150_000 });
    const label = Object.entries(BENCH_NAMESPACE_LABEL)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    await kubectl('delete', 'namespace', '-l', label, '--wait=true', '--timeout=120s');
    const u = await run(
      process.execPath,
      [DEVNET_BIN, 'gateway', 'uninstall', '--context', this.context, '--gateway-namespace', GATEWAY_NAMESPACE],
      { env: this.env, timeoutMs: 120_000 },
    );
    if (u.code !== 0) log(`gateway uninstall: ${(u.stderr || u.stdout).trim().slice(-300)}`);
    await kubectl('delete', 'namespace', GATEWAY_NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=120s');
  }
}
