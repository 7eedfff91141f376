// The bench's lab on the sandbox: a sandbox cluster of its own (prefix
// dnt-<pid>-bn, files under /tmp/devnet-bench-<pid>), a benchmark pod running
// iperf3, sockperf and an echo server, and two namespaces of ours:
//
//   laptop ns --veth 10.250.0.0/30-- gateway ns --veth 10.250.1.0/30-- sandbox node ns -- pod
//
// The laptop has no route to the pod subnet unless a path under test adds
// one (kernel forwarding for `direct`, a peer's tunnel, or devnet's TUN). The
// gateway namespace routes the pod subnet to the node, and the node routes
// 10.250.0.0/16 back. Everything is undone in reverse order by Cleanup, also
// on SIGINT/SIGTERM; sweepStale() removes what a killed bench left behind.
// The host's own routes and links are never touched (the sandbox adds and
// removes its own `unreachable` routes).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { Netns, sh } from '../../test/support/netns.ts';

const root = join(import.meta.dirname, '../..');
/** DEVNET_BIN is this checkout's CLI. */
export const DEVNET_BIN = join(root, 'bin/devnet.mjs');
const WORK_PREFIX = '/tmp/devnet-bench-';

/** Addresses of the lab (all inside namespaces the bench creates). */
export const LAB = {
  laptop: '10.250.0.2',
  gateway: '10.250.0.1',
  gatewayToNode: '10.250.1.1',
  nodeToGateway: '10.250.1.2',
  podSubnet: '10.244.0.0/16',
  labSubnet: '10.250.0.0/16',
  iperfPort: 5201,
  sockperfPort: 11111,
  echoPort: 7,
} as const;

/** Cleanup runs undo steps in reverse order, once, whatever happened before. */
export class Cleanup {
  #steps: { what: string; run: () => unknown }[] = [];
  #running: Promise<void> | undefined;

  /** add registers an undo step. */
  add(what: string, run: () => unknown): void {
    this.#steps.push({ what, run });
  }

  /**
   * run undoes everything registered, newest first; failures are reported, not
   * thrown. Every caller (a signal handler, the normal end) awaits the same run.
   */
  run(log: (s: string) => void): Promise<void> {
    this.#running ??= this.#undo(log);
    return this.#running;
  }

  async #undo(log: (s: string) => void): Promise<void> {
    for (const s of this.#steps.reverse()) {
      try {
        await s.run();
      } catch (err) {
        log(`cleanup: ${s.what}: ${(err as Error).message}`);
      }
    }
  }
}

/** signalGroup signals a background program's process group (it leads its own: see Lab.background). */
function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
}

/** stop sends SIGTERM to a background program's group and resolves once it has exited (SIGKILL after 5 s). */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    signalGroup(child, 'SIGTERM');
  });
}

/** run executes a program and returns code and output without throwing. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      stderr += err.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // a program that exits without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** must is run() that throws with the program's stderr on a non-zero exit. */
export async function must(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim().slice(-600)}`);
  return r.stdout;
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** sandboxEnv is the environment that points the sandbox CLI and kubectl at one bench's sandbox. */
function sandboxEnv(work: string, pid: number, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(work, 'sandbox-state'),
    DEVNET_SANDBOX_RUN: join(work, 'sandbox-run'),
    DEVNET_SANDBOX_PREFIX: `dnt-${pid}-bn`,
    DEVNET_SANDBOX_PORT: String(port),
    KUBECONFIG: join(work, 'kubeconfig'),
  };
}

/**
 * sweepStale removes what benches killed outright left behind: their sandbox
 * (through `sandbox down`, which also removes its host routes), devnet
 * processes started from their run dir, and namespaces named dnt-<dead pid>-bn*.
 */
export async function sweepStale(log: (s: string) => void): Promise<void> {
  for (const name of readdirSync('/tmp')) {
    const m = /^devnet-bench-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const work = `${WORK_PREFIX}${m[1]}`;
    log(`removing what bench ${m[1]} left behind`);
    await run('pkill', ['-9', '-f', join(work, 'devnet-run')]);
    await run(process.execPath, [DEVNET_BIN, 'sandbox', 'down'], {
      env: sandboxEnv(work, Number(m[1]), 0),
      timeoutMs: 60_000,
    });
    rmSync(work, { recursive: true, force: true });
  }
  for (const ns of (await run('ip', ['netns', 'list'])).stdout.split('\n')) {
    const m = /^(dnt-(\d+)-(?:bn|bnlap|bngw)-\S+)/.exec(ns);
    if (m && !pidAlive(Number(m[2]))) await run('ip', ['netns', 'del', m[1] as string]);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Lab is the running lab; start() builds it, registering every undo step with cleanup. */
export class Lab {
  readonly work: string;
  readonly cleanup: Cleanup;
  sandboxEnv: NodeJS.ProcessEnv = {};
  /** laptopEnv runs devnet in the laptop namespace with its own run/state dirs and the sandbox kubeconfig. */
  laptopEnv: NodeJS.ProcessEnv = {};
  laptop!: Netns;
  gateway!: Netns;
  nodeNs = '';
  podIp = '';
  /** stderrTail keeps the last words of background programs, for error reports. */
  stderrTail = '';
  #children: ChildProcess[] = [];

  constructor(cleanup: Cleanup) {
    this.cleanup = cleanup;
    this.work = `${WORK_PREFIX}${process.pid}`;
  }

  /** start brings up the sandbox, the benchmark pod and its servers, the laptop and gateway namespaces. */
  async start(log: (s: string) => void): Promise<void> {
    mkdirSync(this.work, { recursive: true, mode: 0o700 });
    // Kept when `sandbox down` failed: its journal is what lets sweepStale() finish the job later.
    let sandboxDown = false;
    this.cleanup.add('work dir', () => {
      if (sandboxDown) rmSync(this.work, { recursive: true, force: true });
      else throw new Error(`sandbox not down: ${this.work} kept; the next bench run sweeps it`);
    });
    this.cleanup.add('background processes', () => {
      for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) signalGroup(c, 'SIGKILL');
    });
    const port = await freePort();
    this.sandboxEnv = sandboxEnv(this.work, process.pid, port);
    this.cleanup.add('sandbox', async () => {
      // `down` is idempotent: retried for half a minute (e.g. while node_modules is being reinstalled).
      for (let attempt = 1; ; attempt++) {
        try {
          await this.devnetSandbox('down');
          sandboxDown = true;
          return;
        } catch (err) {
          if (attempt >= 6) throw err;
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
    });
    log('sandbox up');
    await this.devnetSandbox('up');
    await this.#benchPod(log);

    this.laptop = await Netns.create('bnlap');
    this.cleanup.add('laptop namespace', () => this.laptop.delete());
    this.gateway = await Netns.create('bngw');
    this.cleanup.add('gateway namespace', () => this.gateway.delete());
    // The node namespace's name is documented (docs/sandbox.md): <DEVNET_SANDBOX_PREFIX>-node.
    this.nodeNs = `${this.sandboxEnv.DEVNET_SANDBOX_PREFIX}-node`;
    await this.#wire();
    await this.#apiRelay(port);
    this.laptopEnv = {
      ...process.env,
      KUBECONFIG: join(this.work, 'kubeconfig'),
      DEVNET_RUN_DIR: join(this.work, 'devnet-run'),
      DEVNET_STATE_DIR: join(this.work, 'devnet-state'),
      NO_COLOR: '1',
    };
    // Whatever devnet processes survive a failed quit are found by their run dir.
    this.cleanup.add('devnet processes', () => run('pkill', ['-9', '-f', join(this.work, 'devnet-run')]));
  }

  /** devnetSandbox runs `devnet sandbox ARGS` against this lab's sandbox. */
  devnetSandbox(...args: string[]): Promise<string> {
    return must(process.execPath, [DEVNET_BIN, 'sandbox', ...args], { env: this.sandboxEnv, timeoutMs: 120_000 });
  }

  /** kubectl runs kubectl against this lab's sandbox. */
  kubectl(args: string[], input?: string): Promise<string> {
    return must('kubectl', ['--context', 'devnet-sandbox', ...args], {
      env: this.sandboxEnv,
      timeoutMs: 60_000,
      ...(input !== undefined ? { input } : {}),
    });
  }

  /** onLaptop runs a program in the laptop namespace (devnet's environment), without throwing. */
  onLaptop(cmd: string, args: string[], timeoutMs = 60_000, input?: string) {
    return run('ip', ['netns', 'exec', this.laptop.name, cmd, ...args], {
      env: this.laptopEnv,
      timeoutMs,
      ...(input !== undefined ? { input } : {}),
    });
  }

  /**
   * background starts a long-running program in a process group of its own
   * (so its children, e.g. under `devnet sandbox exec`, go with it), killed
   * at cleanup; `pipes` gives it a stdin and stdout.
   */
  background(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, pipes = false): ChildProcess {
    const c = spawn(cmd, args, {
      stdio: [pipes ? 'pipe' : 'ignore', pipes ? 'pipe' : 'ignore', 'pipe'],
      env,
      detached: true,
    });
    c.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = `${this.stderrTail}${d}`.slice(-2000);
    });
    this.#children.push(c);
    return c;
  }

  /** The benchmark pod: a bare Pod with the demo echo image (TCP/UDP echo on 7), servers added in its namespace. */
  async #benchPod(log: (s: string) => void): Promise<void> {
    log('benchmark pod');
    const manifest = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } },
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'bench', namespace: 'bench', labels: { app: 'bench' } },
          spec: {
            containers: [
              {
                name: 'echo',
                image: 'ghcr.io/devnet-dev/demo-echo:latest',
                ports: [{ containerPort: LAB.echoPort }],
                readinessProbe: { tcpSocket: { port: LAB.echoPort }, periodSeconds: 1 },
              },
            ],
          },
        },
      ],
    };
    await this.kubectl(['apply', '--validate=false', '-f', '-'], JSON.stringify(manifest));
    await this.kubectl(['wait', '-n', 'bench', 'pod/bench', '--for=condition=Ready', '--timeout=60s']);
    this.podIp = (await this.kubectl(['get', 'pod', '-n', 'bench', 'bench', '-o', 'jsonpath={.status.podIP}'])).trim();
    if (!this.podIp) throw new Error('the benchmark pod has no IP');
    // iperf3 and sockperf servers in the pod's network namespace.
    const inPod = (...cmd: string[]) =>
      this.background(
        process.execPath,
        [DEVNET_BIN, 'sandbox', 'exec', '-n', 'bench', 'bench', '--', ...cmd],
        this.sandboxEnv,
      );
    inPod('iperf3', '-s', '-p', String(LAB.iperfPort));
    inPod('sockperf', 'sr', '--tcp', '-p', String(LAB.sockperfPort));
    // Ready when they accept connections, seen from the node (which routes to every pod).
    for (const port of [LAB.iperfPort, LAB.sockperfPort]) {
      const deadline = Date.now() + 30_000;
      const nodeNs = `${this.sandboxEnv.DEVNET_SANDBOX_PREFIX}-node`;
      while ((await run('ip', ['netns', 'exec', nodeNs, 'nc', '-z', '-w', '1', this.podIp, String(port)])).code !== 0) {
        if (Date.now() > deadline)
          throw new Error(`the benchmark pod's server on port ${port} did not start: ${this.stderrTail}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** The veths: laptop ↔ gateway ↔ sandbox node, forwarding on in the gateway namespace. */
  async #wire(): Promise<void> {
    const lap = this.laptop;
    const gw = this.gateway;
    await this.#veth(lap.name, 'bnlap0', `${LAB.laptop}/30`, gw.name, 'bngw0', `${LAB.gateway}/30`);
    await this.#veth(gw.name, 'bnnode0', `${LAB.gatewayToNode}/30`, this.nodeNs, 'bngw1', `${LAB.nodeToGateway}/30`);
    for (const [ns, dev] of [
      [lap.name, 'bnlap0'],
      [gw.name, 'bngw0'],
      [gw.name, 'bnnode0'],
      [this.nodeNs, 'bngw1'],
    ] as const) {
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    await gw.ip('route', 'add', LAB.podSubnet, 'via', LAB.nodeToGateway);
    await sh('ip', ['-n', this.nodeNs, 'route', 'add', LAB.labSubnet, 'via', LAB.gatewayToNode]);
    await this.setForwarding(true);
    // Many short connections from one client: reuse TIME_WAIT ports, use the whole port range.
    await lap.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_local_port_range=1024 65535', 'net.ipv4.tcp_tw_reuse=1']);
  }

  /** #veth makes a veth pair (MTU 65520 at both ends, like the sandbox's pod links) from ns to peerNs, addressed. */
  async #veth(ns: string, dev: string, addr: string, peerNs: string, peerDev: string, peerAddr: string): Promise<void> {
    await sh('ip', [
      '-n',
      ns,
      'link',
      'add',
      dev,
      'mtu',
      '65520',
      'type',
      'veth',
      'peer',
      'name',
      peerDev,
      'mtu',
      '65520',
    ]);
    await sh('ip', ['-n', ns, 'link', 'set', peerDev, 'netns', peerNs]);
    await sh('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev]);
    await sh('ip', ['-n', peerNs, 'addr', 'add', peerAddr, 'dev', peerDev]);
  }

  /** setForwarding turns IPv4 forwarding in the gateway namespace on or off. */
  async setForwarding(on: boolean): Promise<void> {
    await this.gateway.exec('sysctl', ['-q', '-w', `net.ipv4.ip_forward=${on ? 1 : 0}`]);
  }

  /** The API server reached from the laptop's loopback through a unix socket, as a remote API server would be. */
  async #apiRelay(port: number): Promise<void> {
    const sock = join(this.work, 'api.sock');
    this.background('socat', [`UNIX-LISTEN:${sock},fork,mode=600`, `TCP:127.0.0.1:${port}`]);
    this.background('ip', [
      'netns',
      'exec',
      this.laptop.name,
      'socat',
      `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${sock}`,
    ]);
    for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** routeToPod says which device the laptop would use to reach the pod ('' when it has no route). */
  async routeToPod(): Promise<string> {
    const r = await run('ip', ['-n', this.laptop.name, 'route', 'get', this.podIp]);
    return r.code === 0 ? (/ dev (\S+)/.exec(r.stdout)?.[1] ?? '') : '';
  }

  /** waitReachable waits until a TCP echo to the benchmark pod round-trips from the laptop. */
  async waitReachable(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const r = await this.onLaptop('nc', ['-N', '-w', '2', this.podIp, String(LAB.echoPort)], 5000, 'ping\n');
      if (r.stdout !== 'ping\n') last = r.stderr.trim() || `exit ${r.code}`;
      else return;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`the pod is not reachable from the laptop: ${last}`);
  }
}
