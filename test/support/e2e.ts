// End-to-end harness shared by the sandbox suites: a sandbox of the test's
// own (dnt-<pid>-<tag> prefix, temporary dirs) and a "laptop" network
// namespace with its own /etc/resolv.conf and a fake internet DNS server,
// reaching the sandbox's API server on its own 127.0.0.1 through a
// unix-socket relay (socat), as a real laptop reaches a remote API server.
// devnet runs in the laptop namespace through the real CLI with its own
// DEVNET_RUN_DIR/DEVNET_STATE_DIR. cleanup() (for test.after.always) quits
// devnet, kills what the harness started, deletes the namespace and takes
// the sandbox down.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteAllNetns, Netns } from './netns.ts';

/** ROOT is the checkout. */
export const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/devnet.mjs');

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

/** E2E is one sandbox plus one laptop namespace. */
export class E2E {
  readonly dir: string;
  readonly tag: string;
  /** context is the admin kubeconfig context of the cluster under test. */
  readonly context = 'devnet-sandbox';
  /** devContext is the context of the restricted `dev` user (namespace `dev` only). */
  readonly devContext = 'devnet-sandbox-dev';
  sandboxEnv: NodeJS.ProcessEnv = {};
  laptopEnv: NodeJS.ProcessEnv = {};
  laptop: Netns | undefined;
  readonly #children: ChildProcess[] = [];
  /** bin is the devnet under test: this checkout's, or (opts.bin) an installed executable run as a user would. */
  readonly #bin: string | undefined;

  constructor(tag: string, opts: { bin?: string } = {}) {
    this.tag = tag;
    this.#bin = opts.bin;
    this.dir = mkdtempSync(join(tmpdir(), `devnet-${tag}-`));
  }

  /** start brings the sandbox up and makes the laptop namespace; laptopResolv is its /etc/resolv.conf. */
  async start(
    laptopResolv = '# the laptop before devnet\nnameserver 192.0.2.53\nsearch corp.example\n',
  ): Promise<void> {
    const port = await freePort();
    this.sandboxEnv = {
      ...process.env,
      DEVNET_SANDBOX_STATE: join(this.dir, 'sandbox-state'),
      DEVNET_SANDBOX_RUN: join(this.dir, 'sandbox-run'),
      DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-${this.tag}`,
      DEVNET_SANDBOX_PORT: String(port),
      KUBECONFIG: join(this.dir, 'kubeconfig'),
    };
    const up = await this.sandbox('up');
    if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stdout}${up.stderr}`);
    const laptop = await Netns.create('laptop');
    this.laptop = laptop;
    mkdirSync(`/etc/netns/${laptop.name}`, { recursive: true });
    writeFileSync(`/etc/netns/${laptop.name}/resolv.conf`, laptopResolv);
    await laptop.ip('addr', 'add', '192.0.2.53/32', 'dev', 'lo');
    const relay = join(this.dir, 'api.sock');
    this.background('socat', [`UNIX-LISTEN:${relay},fork,mode=600`, `TCP:127.0.0.1:${port}`]);
    this.background('ip', [
      'netns',
      'exec',
      laptop.name,
      'socat',
      `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${relay}`,
    ]);
    this.background('ip', [
      'netns',
      'exec',
      laptop.name,
      process.execPath,
      join(ROOT, 'test/support/fake-upstream.ts'),
      '192.0.2.53',
    ]);
    this.laptopEnv = {
      ...process.env,
      KUBECONFIG: join(this.dir, 'kubeconfig'),
      DEVNET_RUN_DIR: join(this.dir, 'devnet-run'),
      DEVNET_STATE_DIR: join(this.dir, 'devnet-state'),
      NO_COLOR: '1',
    };
    await new Promise((r) => setTimeout(r, 500));
  }

  /** background starts a helper process killed by cleanup(). */
  background(cmd: string, args: string[]): ChildProcess {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    this.#children.push(c);
    return c;
  }

  /** laptopServer starts test/support/laptop-http.ts on the laptop's 127.0.0.1:port, answering as `name`. */
  laptopServer(port: number, name: string): ChildProcess {
    const laptop = (this.laptop as Netns).name;
    const script = join(ROOT, 'test/support/laptop-http.ts');
    return this.background('ip', ['netns', 'exec', laptop, process.execPath, script, String(port), name]);
  }

  /** sandbox runs `devnet sandbox ...` against this test's sandbox. */
  sandbox(...args: string[]): Promise<Run> {
    const [cmd, argv] = this.#command(['sandbox', ...args]);
    return run(cmd, argv, this.sandboxEnv, 120_000);
  }

  #command(args: string[]): [string, string[]] {
    return this.#bin ? [this.#bin, args] : [process.execPath, [BIN, ...args]];
  }

  /** kubectl runs kubectl against the sandbox and returns trimmed stdout. */
  async kubectl(...args: string[]): Promise<string> {
    return (await run('kubectl', ['--context', this.context, ...args], this.sandboxEnv)).stdout.trim();
  }

  /** inPod runs a command inside a sandbox pod (`devnet sandbox exec`). */
  inPod(namespace: string, pod: string, cmd: string[]): Promise<Run> {
    return this.sandbox('exec', '-n', namespace, pod, '--', ...cmd);
  }

  /** onLaptop runs a command inside the laptop namespace. */
  onLaptop(cmd: string, args: string[], timeout?: number): Promise<Run> {
    return run('ip', ['netns', 'exec', (this.laptop as Netns).name, cmd, ...args], this.laptopEnv, timeout);
  }

  /** devnet runs the devnet CLI on the laptop. */
  devnet(...args: string[]): Promise<Run> {
    const [cmd, argv] = this.#command(args);
    return this.onLaptop(cmd, argv, 90_000);
  }

  /** killDevnet kill -9s every devnet process of this laptop (found by its run dir). */
  killDevnet(): Promise<Run> {
    return run('pkill', ['-9', '-f', join(this.dir, 'devnet-run')], process.env);
  }

  /** cleanup undoes everything start() did; safe after a partial start. */
  async cleanup(): Promise<void> {
    if (this.laptop) await this.devnet('quit');
    await this.killDevnet();
    for (const c of this.#children) c.kill('SIGKILL');
    if (this.laptop) rmSync(`/etc/netns/${this.laptop.name}`, { recursive: true, force: true });
    await deleteAllNetns();
    if (this.sandboxEnv.DEVNET_SANDBOX_PREFIX) await this.sandbox('down');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
