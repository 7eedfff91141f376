// End-to-end harness shared by the suites, against the cluster that
// DEVNET_TEST_CLUSTER names (test/support/k8s.ts): `k8s`, the real
// Kubernetes of test/k8s, shared by every suite on the machine (a suite holds
// the e2e lock from start to cleanup and leaves the cluster as it found it),
// or `sandbox`, a sandbox of the suite's own (dnt-<pid>-<tag> prefix,
// temporary dirs). Either way devnet runs through the real CLI in "laptop"
// network namespaces, each with its own /etc/resolv.conf and a fake internet
// DNS server, reaching the API server on its own 127.0.0.1 through a
// unix-socket relay (socat), as a real laptop reaches a remote API server,
// with its own DEVNET_RUN_DIR/DEVNET_STATE_DIR. cleanup() (for
// test.after.always) quits devnet, kills what the harness started, deletes
// the namespaces, and takes the sandbox down or gives the real cluster back.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NETNS as K8S_NODE_NETNS } from '../k8s/layout.ts';
import { type ClusterKind, clusterKind, E2E_LOCK, holdLock, k8sAccess, k8sRunning } from './k8s.ts';
import { deleteAllNetns, Netns } from './netns.ts';

/** ROOT is the checkout. */
export const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/devnet.mjs');

/** LAPTOP_RESOLV is a laptop's /etc/resolv.conf before devnet. */
export const LAPTOP_RESOLV = '# the laptop before devnet\nnameserver 192.0.2.53\nsearch corp.example\n';

/** Run is a finished command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** run executes a program without a shell and never throws. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Laptop is one "laptop": a network namespace with devnet's environment. */
export interface Laptop {
  ns: Netns;
  env: NodeJS.ProcessEnv;
  /** runDir is DEVNET_RUN_DIR: every devnet process of this laptop names it. */
  runDir: string;
}

/** E2E is one cluster under test plus its laptop namespaces. */
export class E2E {
  readonly dir: string;
  readonly tag: string;
  /** cluster is the kind of cluster under test (DEVNET_TEST_CLUSTER). */
  readonly cluster: ClusterKind;
  /** context is the admin kubeconfig context of the cluster under test. */
  readonly context: string;
  /** devContext is the context of the restricted `dev` user (namespace `dev` only). */
  readonly devContext: string;
  /** sandboxEnv is the host environment whose KUBECONFIG reaches the cluster under test (kubectl, cluster tools). */
  sandboxEnv: NodeJS.ProcessEnv = {};
  laptopEnv: NodeJS.ProcessEnv = {};
  laptop: Netns | undefined;
  readonly laptops: Laptop[] = [];
  readonly #children: ChildProcess[] = [];
  #release: (() => Promise<void>) | undefined;
  #apiPort = 0;
  #gatewayImage: string | undefined;
  /** #bin is the devnet under test: this checkout's, or (opts.bin) an installed executable run as a user would. */
  readonly #bin: string | undefined;

  constructor(tag: string, cluster: ClusterKind = clusterKind(), opts: { bin?: string } = {}) {
    this.tag = tag;
    this.#bin = opts.bin;
    this.cluster = cluster;
    this.context = cluster === 'k8s' ? 'devnet-k8s' : 'devnet-sandbox';
    this.devContext = `${this.context}-dev`;
    this.dir = mkdtempSync(join(tmpdir(), `devnet-${tag}-`));
  }

  /** clusterEnv is sandboxEnv under a cluster-neutral name. */
  get clusterEnv(): NodeJS.ProcessEnv {
    return this.sandboxEnv;
  }

  /** start readies the cluster (a sandbox of our own, or the shared real one) and makes the first laptop; laptopResolv is its /etc/resolv.conf. */
  async start(laptopResolv = LAPTOP_RESOLV): Promise<void> {
    let apiTarget: string;
    if (this.cluster === 'k8s') {
      this.#release = await holdLock(E2E_LOCK);
      const k = k8sAccess();
      this.#gatewayImage = k.gatewayImage;
      this.sandboxEnv = { ...process.env, KUBECONFIG: k.kubeconfig };
      this.#apiPort = k.apiPort;
      apiTarget = `TCP:${k.apiHost}:${k.apiPort}`;
      const doc = readFileSync(k.kubeconfig, 'utf8').replace(
        /server:\s*https:\/\/\S+/,
        `server: https://127.0.0.1:${k.apiPort}`,
      );
      writeFileSync(join(this.dir, 'kubeconfig'), doc, { mode: 0o600 });
      await this.#resetCluster();
    } else {
      this.#apiPort = await freePort();
      apiTarget = `TCP:127.0.0.1:${this.#apiPort}`;
      this.sandboxEnv = {
        ...process.env,
        DEVNET_SANDBOX_STATE: join(this.dir, 'sandbox-state'),
        DEVNET_SANDBOX_RUN: join(this.dir, 'sandbox-run'),
        DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-${this.tag}`,
        DEVNET_SANDBOX_PORT: String(this.#apiPort),
        KUBECONFIG: join(this.dir, 'kubeconfig'),
      };
      const up = await this.sandbox('up');
      if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stdout}${up.stderr}`);
    }
    this.background('socat', [`UNIX-LISTEN:${join(this.dir, 'api.sock')},fork,mode=600`, apiTarget]);
    const first = await this.addLaptop('laptop', laptopResolv, 'devnet');
    this.laptop = first.ns;
    this.laptopEnv = first.env;
  }

  /** addLaptop makes another laptop namespace reaching the same API server; its devnet dirs are named after runName. */
  async addLaptop(tag: string, resolv = LAPTOP_RESOLV, runName = `devnet-${tag}`): Promise<Laptop> {
    const ns = await Netns.create(tag);
    mkdirSync(`/etc/netns/${ns.name}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns.name}/resolv.conf`, resolv);
    await ns.ip('addr', 'add', '192.0.2.53/32', 'dev', 'lo');
    this.background('ip', [
      'netns',
      'exec',
      ns.name,
      'socat',
      `TCP-LISTEN:${this.#apiPort},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${join(this.dir, 'api.sock')}`,
    ]);
    // The internet's DNS as the laptop knew it before devnet.
    this.background('ip', [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      join(ROOT, 'test/support/fake-upstream.ts'),
      '192.0.2.53',
    ]);
    const runDir = join(this.dir, `${runName}-run`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBECONFIG: join(this.dir, 'kubeconfig'),
      DEVNET_RUN_DIR: runDir,
      DEVNET_STATE_DIR: join(this.dir, `${runName}-state`),
      NO_COLOR: '1',
      ...(this.#gatewayImage ? { DEVNET_GATEWAY_IMAGE: this.#gatewayImage } : {}),
    };
    const laptop = { ns, env, runDir };
    this.laptops.push(laptop);
    await new Promise((r) => setTimeout(r, 500));
    return laptop;
  }

  /** background starts a helper process killed by cleanup(). */
  background(cmd: string, args: string[]): ChildProcess {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    this.#children.push(c);
    return c;
  }

  /** laptopServer starts test/support/laptop-http.ts on a laptop's (default: the first) 127.0.0.1:port, answering as `name` (and appending each request to `log`). */
  laptopServer(port: number, name: string, log?: string, on: Laptop = this.laptops[0] as Laptop): ChildProcess {
    const laptop = on.ns.name;
    const script = join(ROOT, 'test/support/laptop-http.ts');
    return this.background('ip', [
      'netns',
      'exec',
      laptop,
      process.execPath,
      script,
      String(port),
      name,
      ...(log ? [log] : []),
    ]);
  }

  /** devnetProcess starts the devnet CLI on the laptop and returns the process (for signals); its pid is devnet's own. */
  devnetProcess(...args: string[]): ChildProcess {
    const laptop = (this.laptop as Netns).name;
    const c = spawn('ip', ['netns', 'exec', laptop, process.execPath, BIN, ...args], {
      env: this.laptopEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#children.push(c);
    return c;
  }

  /** sandbox runs `devnet sandbox ...` against this test's sandbox (sandbox suites only). */
  sandbox(...args: string[]): Promise<Run> {
    if (this.cluster !== 'sandbox') throw new Error('e.sandbox() needs DEVNET_TEST_CLUSTER=sandbox');
    const [cmd, argv] = this.#command(['sandbox', ...args]);
    return run(cmd, argv, this.sandboxEnv, 120_000);
  }

  /** #command is how to run the devnet under test with args. */
  #command(args: string[]): [string, string[]] {
    return this.#bin ? [this.#bin, args] : [process.execPath, [BIN, ...args]];
  }

  /** kubectl runs kubectl as the cluster's admin and returns trimmed stdout. */
  async kubectl(...args: string[]): Promise<string> {
    return (await this.kubectlRun(...args)).stdout.trim();
  }

  /** kubectlRun runs kubectl as the cluster's admin and returns the whole result. */
  kubectlRun(...args: string[]): Promise<Run> {
    return run('kubectl', ['--context', this.context, ...args], this.sandboxEnv, 120_000);
  }

  /** inPod runs a command inside a pod's first container (`kubectl exec` on a real cluster, `devnet sandbox exec` on the sandbox). */
  inPod(namespace: string, pod: string, cmd: string[]): Promise<Run> {
    if (this.cluster === 'k8s') return this.kubectlRun('exec', '-n', namespace, pod, '--', ...cmd);
    return this.sandbox('exec', '-n', namespace, pod, '--', ...cmd);
  }

  /** podLog returns the end of a pod's log (what explains a failure). */
  async podLog(namespace: string, pod: string): Promise<string> {
    if (this.cluster === 'k8s') {
      const r = await this.kubectlRun('logs', '-n', namespace, pod, '--tail=50');
      return r.stdout || r.stderr;
    }
    try {
      return readFileSync(join(this.dir, 'sandbox-run/pods', namespace, pod, 'pod.log'), 'utf8').slice(-4000);
    } catch {
      return '(no pod log)';
    }
  }

  /** nodeNetns is the network namespace of the cluster's node (where pod addresses are routed). */
  nodeNetns(): string {
    return this.cluster === 'k8s' ? K8S_NODE_NETNS : `${this.sandboxEnv.DEVNET_SANDBOX_PREFIX}-node`;
  }

  /** volumePath is a node directory for a test's hostPath PersistentVolume (one the cluster's node serves). */
  volumePath(name: string): string {
    return this.cluster === 'k8s'
      ? `/var/lib/devnet-k8s/volumes/${name}`
      : join(this.sandboxEnv.DEVNET_SANDBOX_STATE as string, 'volumes', name);
  }

  /** serviceCidrs lists the cluster's service ranges as the API reports them (ServiceCIDR objects). */
  async serviceCidrs(): Promise<string[]> {
    return (await this.kubectl('get', 'servicecidrs', '-o', 'jsonpath={.items[*].spec.cidrs[*]}'))
      .split(/\s+/)
      .filter(Boolean);
  }

  /** onLaptop runs a command inside the first laptop namespace. */
  onLaptop(cmd: string, args: string[], timeout?: number): Promise<Run> {
    return this.on(this.laptops[0] as Laptop, cmd, args, timeout);
  }

  /** on runs a command inside a laptop's namespace with its devnet environment. */
  on(laptop: Laptop, cmd: string, args: string[], timeout?: number): Promise<Run> {
    return run('ip', ['netns', 'exec', laptop.ns.name, cmd, ...args], laptop.env, timeout);
  }

  /** devnet runs the devnet CLI on the first laptop. */
  devnet(...args: string[]): Promise<Run> {
    return this.devnetOn(this.laptops[0] as Laptop, ...args);
  }

  /** devnetOn runs the devnet CLI on a laptop. */
  devnetOn(laptop: Laptop, ...args: string[]): Promise<Run> {
    const [cmd, argv] = this.#command(args);
    return this.on(laptop, cmd, argv, 90_000);
  }

  /** killDevnet kill -9s every devnet process of every laptop (found by their run dirs under this test's dir). */
  killDevnet(): Promise<Run> {
    return run('pkill', ['-9', '-f', `${this.dir}/devnet[^ ]*-run`], process.env);
  }

  /** #resetCluster gives the real cluster back as k8s:up left it: no gateway, no intercept, no leftovers of a suite killed earlier. */
  async #resetCluster(): Promise<void> {
    for (const ns of ['devnet', 'dev']) {
      await run(
        process.execPath,
        [BIN, 'gateway', 'uninstall', '--context', this.context, '--gateway-namespace', ns],
        this.sandboxEnv,
        120_000,
      );
    }
    await this.kubectlRun('delete', 'namespace', 'devnet', '--ignore-not-found', '--wait=true', '--timeout=90s');
    for (const ns of ['demo', 'other', 'dev']) {
      await this.kubectlRun(
        'delete',
        'all,roles,rolebindings,serviceaccounts,secrets,configmaps',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/managed-by=devnet',
        '--ignore-not-found',
        '--wait=false',
      );
    }
  }

  /** cleanup undoes everything start() did; safe after a partial start. */
  async cleanup(): Promise<void> {
    for (const l of this.laptops) await this.devnetOn(l, 'quit');
    await this.killDevnet();
    for (const c of this.#children) c.kill('SIGKILL');
    for (const l of this.laptops) rmSync(`/etc/netns/${l.ns.name}`, { recursive: true, force: true });
    await deleteAllNetns();
    if (this.cluster === 'sandbox' && this.sandboxEnv.DEVNET_SANDBOX_PREFIX) await this.sandbox('down');
    if (this.#release) {
      if (k8sRunning()) await this.#resetCluster();
      await this.#release();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
