// The sandbox as the bench's cluster: a sandbox of the bench's own (prefix
// dnt-<pid>-bn, state in the bench's work dir, its own API port), brought up
// at open and taken down at cleanup (`sandbox down`, retried: it is
// idempotent). Programs run in a pod with `devnet sandbox exec`.
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import type { BenchCluster, BenchContainer } from './cluster.ts';
import { type Cleanup, DEVNET_BIN, must } from './programs.ts';

/** sandboxEnv is the environment that points the sandbox CLI and kubectl at one bench's sandbox. */
export function sandboxEnv(work: string, pid: number, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(work, 'sandbox-state'),
    DEVNET_SANDBOX_RUN: join(work, 'sandbox-run'),
    DEVNET_SANDBOX_PREFIX: `dnt-${pid}-bn`,
    DEVNET_SANDBOX_PORT: String(port),
    KUBECONFIG: join(work, 'kubeconfig'),
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** SandboxCluster is a sandbox of the bench's own. */
export class SandboxCluster implements BenchCluster {
  readonly kind = 'sandbox';
  readonly context = 'devnet-sandbox';
  readonly podSubnet = '10.244.0.0/16';
  readonly devnetEnv: NodeJS.ProcessEnv = {};
  readonly container: BenchContainer = { image: 'ghcr.io/devnet-dev/demo-echo:latest' };
  readonly laptopKubeconfig: string;
  readonly #work: string;
  env: NodeJS.ProcessEnv = {};
  nodeNs = '';
  apiTarget = '';
  apiPort = 0;
  #down = false;

  constructor(work: string) {
    this.#work = work;
    this.laptopKubeconfig = join(work, 'kubeconfig');
  }

  async open(cleanup: Cleanup, log: (s: string) => void): Promise<void> {
    this.apiPort = await freePort();
    this.apiTarget = `TCP:127.0.0.1:${this.apiPort}`;
    this.env = sandboxEnv(this.#work, process.pid, this.apiPort);
    // The node namespace's name is documented (docs/sandbox.md): <DEVNET_SANDBOX_PREFIX>-node.
    this.nodeNs = `${this.env.DEVNET_SANDBOX_PREFIX}-node`;
    cleanup.add('sandbox', async () => {
      // `down` is idempotent: retried for half a minute (e.g. while node_modules is being reinstalled).
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#sandbox('down');
          this.#down = true;
          return;
        } catch (err) {
          if (attempt >= 6) throw err;
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
    });
    log('sandbox up');
    await this.#sandbox('up');
  }

  inPod(namespace: string, pod: string, cmd: string[]): [string, string[]] {
    return [process.execPath, [DEVNET_BIN, 'sandbox', 'exec', '-n', namespace, pod, '--', ...cmd]];
  }

  keepWork(): boolean {
    return !this.#down;
  }

  /** #sandbox runs `devnet sandbox ARGS` against this bench's sandbox. */
  #sandbox(...args: string[]): Promise<string> {
    return must(process.execPath, [DEVNET_BIN, 'sandbox', ...args], { env: this.env, timeoutMs: 120_000 });
  }
}
