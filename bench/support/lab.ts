// The bench's lab: the cluster --cluster names (cluster.ts: the real
// Kubernetes of test/k8s under the e2e lock, or a sandbox of the bench's
// own), a benchmark pod running iperf3, sockperf and an echo server, and two
// namespaces of ours, with files under /tmp/devnet-bench-<pid>:
//
//   laptop ns --veth 10.250.0.0/30-- gateway ns --veth 10.250.1.0/30-- node ns -- pod
//
// The laptop has no route to the pod subnet unless a path under test adds
// one (kernel forwarding for `direct`, a peer's tunnel, or devnet's TUN). The
// gateway namespace routes the pod subnet to the node, and the node routes
// 10.250.0.0/16 back through the bench's own veth end (bnn<pid>: the real
// cluster's node is shared, and its firewall guards only its host link
// dk8s-node). Everything is undone in reverse order by Cleanup, also on
// SIGINT/SIGTERM; sweepStale() (sweep.ts) removes what a killed bench left
// behind. The host's own routes and links are never touched (the sandbox adds
// and removes its own `unreachable` routes).
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ClusterKind } from '../../test/support/k8s.ts';
import { Netns, sh } from '../../test/support/netns.ts';
import { BENCH_NAMESPACE_LABEL, type BenchCluster } from './cluster.ts';
import { K8sCluster } from './cluster-k8s.ts';
import { SandboxCluster } from './cluster-sandbox.ts';
import { type Cleanup, must, run, signalGroup } from './programs.ts';
import { CLUSTER_FILE, GROUPS_FILE, killNetnsPids, nodeLinkName, WORK_PREFIX } from './sweep.ts';
import { profileName, type WanProfile } from './wan-link.ts';

/** Addresses and ports of the lab (all inside namespaces the bench creates, and the pod). */
export const LAB = {
  laptop: '10.250.0.2',
  gateway: '10.250.0.1',
  gatewayToNode: '10.250.1.1',
  nodeToGateway: '10.250.1.2',
  labSubnet: '10.250.0.0/16',
  iperfPort: 5201,
  sockperfPort: 11111,
  echoPort: 7,
  /** httpPort serves `GET /1` (one byte) and `GET /1m` (1 MiB) from the pod, for the WAN bench's fetches. */
  httpPort: 8080,
} as const;

/** HTTP_SERVER is the pod's small HTTP server (the pod's own Node runtime): one byte at /1, 1 MiB at /1m. */
const HTTP_SERVER = [
  'const big = Buffer.alloc(1 << 20, 120);',
  "require('node:http').createServer((q, s) => {",
  "  const body = q.url === '/1m' ? big : Buffer.from('x');",
  "  s.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });",
  '  s.end(body);',
  `}).listen(${8080});`,
].join('\n');

/** WAN_FORWARDER is the link emulator the WAN bench puts between the laptop and the gateway namespace. */
const WAN_FORWARDER = join(import.meta.dirname, '..', 'wan-forwarder.ts');

/** Lab is the running lab; open() takes the cluster and start() builds the rest, registering every undo step with cleanup. */
export class Lab {
  readonly work: string;
  readonly cleanup: Cleanup;
  cluster!: BenchCluster;
  /** laptopEnv runs devnet in the laptop namespace with its own run/state dirs and the cluster's kubeconfig. */
  laptopEnv: NodeJS.ProcessEnv = {};
  laptop!: Netns;
  gateway!: Netns;
  podIp = '';
  /** stderrTail keeps the last words of background programs, for error reports. */
  stderrTail = '';
  #children: ChildProcess[] = [];
  #laptopApiRelay: ChildProcess | undefined;

  constructor(cleanup: Cleanup) {
    this.cleanup = cleanup;
    this.work = `${WORK_PREFIX}${process.pid}`;
  }

  /** podSubnet is the cluster's pod range, which the peers route. */
  get podSubnet(): string {
    return this.cluster.podSubnet;
  }

  /** open readies the cluster: brings up a sandbox, or waits for the real cluster's e2e lock and checks it runs. */
  async open(kind: ClusterKind, log: (s: string) => void): Promise<void> {
    mkdirSync(this.work, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.work, CLUSTER_FILE), kind);
    const cluster = kind === 'k8s' ? new K8sCluster(this.work) : new SandboxCluster(this.work);
    this.cluster = cluster;
    // Kept when the sandbox did not go down: its journal is what lets sweepStale() finish the job later.
    this.cleanup.add('work dir', () => {
      if (!cluster.keepWork()) rmSync(this.work, { recursive: true, force: true });
      else throw new Error(`sandbox not down: ${this.work} kept; the next bench run sweeps it`);
    });
    this.cleanup.add('background processes', () => {
      for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) signalGroup(c, 'SIGKILL');
    });
    await cluster.open(this.cleanup, log);
  }

  /** start makes the benchmark pod and its servers, the laptop and gateway namespaces and their wiring to the node. */
  async start(log: (s: string) => void): Promise<void> {
    await this.#benchPod(log);
    this.laptop = await Netns.create('bnlap');
    this.cleanup.add('laptop namespace', () => this.laptop.delete());
    this.gateway = await Netns.create('bngw');
    this.cleanup.add('gateway namespace', () => this.gateway.delete());
    await this.#wire();
    await this.#apiRelay();
    this.laptopEnv = {
      ...process.env,
      ...this.cluster.devnetEnv,
      KUBECONFIG: this.cluster.laptopKubeconfig,
      DEVNET_RUN_DIR: join(this.work, 'devnet-run'),
      DEVNET_STATE_DIR: join(this.work, 'devnet-state'),
      NO_COLOR: '1',
    };
    // Whatever survives a failed `devnet quit` (helper, daemon) runs in our namespaces: killed by pid.
    this.cleanup.add('processes in our namespaces', async () => {
      await killNetnsPids(this.laptop.name);
      await killNetnsPids(this.gateway.name);
    });
  }

  /** kubectl runs kubectl against the lab's cluster as its admin. */
  kubectl(args: string[], input?: string): Promise<string> {
    return must('kubectl', ['--context', this.cluster.context, ...args], {
      env: this.cluster.env,
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
    // For sweepStale(), should this bench be killed outright: group id and command line.
    if (c.pid) appendFileSync(join(this.work, GROUPS_FILE), `${JSON.stringify([c.pid, [cmd, ...args].join('\0')])}\n`);
    c.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = `${this.stderrTail}${d}`.slice(-2000);
    });
    this.#children.push(c);
    return c;
  }

  /**
   * The benchmark pod: a bare Pod whose container serves TCP/UDP echo on 7
   * (the cluster's image: see BenchCluster.container), in a namespace of its
   * own (removed with the sandbox, or by K8sCluster at cleanup); iperf3 and
   * sockperf servers are started in it as a user would, through the cluster's
   * exec (`kubectl exec` on the real cluster, `devnet sandbox exec` on the sandbox).
   */
  async #benchPod(log: (s: string) => void): Promise<void> {
    log('benchmark pod');
    const manifest = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench', labels: BENCH_NAMESPACE_LABEL } },
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'bench', namespace: 'bench', labels: { app: 'bench' } },
          spec: {
            containers: [
              {
                name: 'echo',
                ...this.cluster.container,
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
    const inPod = (...cmd: string[]) => this.background(...this.cluster.inPod('bench', 'bench', cmd), this.cluster.env);
    inPod('iperf3', '-s', '-p', String(LAB.iperfPort));
    inPod('sockperf', 'sr', '--tcp', '-p', String(LAB.sockperfPort));
    inPod('node', '-e', HTTP_SERVER);
    // Ready when they accept connections, seen from the node (which routes to every pod).
    for (const port of [LAB.iperfPort, LAB.sockperfPort, LAB.httpPort]) {
      const deadline = Date.now() + 30_000;
      const probe = ['netns', 'exec', this.cluster.nodeNs, 'nc', '-z', '-w', '1', this.podIp, String(port)];
      while ((await run('ip', probe)).code !== 0) {
        if (Date.now() > deadline)
          throw new Error(`the benchmark pod's server on port ${port} did not start: ${this.stderrTail}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** The veths: laptop ↔ gateway ↔ the cluster's node, forwarding on in the gateway namespace. */
  async #wire(): Promise<void> {
    const lap = this.laptop;
    const gw = this.gateway;
    const node = this.cluster.nodeNs;
    const nodeLink = nodeLinkName(process.pid);
    await this.#veth(lap.name, 'bnlap0', `${LAB.laptop}/30`, gw.name, 'bngw0', `${LAB.gateway}/30`);
    // Registered before it exists, so that a half-made pair goes too; only a link still there after del is an error.
    this.cleanup.add(`${nodeLink} in ${node}`, async () => {
      const r = await run('ip', ['-n', node, 'link', 'del', nodeLink]);
      if (r.code !== 0 && (await run('ip', ['-n', node, 'link', 'show', nodeLink])).code === 0)
        throw new Error(r.stderr.trim());
    });
    await this.#veth(gw.name, 'bnnode0', `${LAB.gatewayToNode}/30`, node, nodeLink, `${LAB.nodeToGateway}/30`);
    for (const [ns, dev] of [
      [lap.name, 'bnlap0'],
      [gw.name, 'bngw0'],
      [gw.name, 'bnnode0'],
      [node, nodeLink],
    ] as const) {
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    await gw.ip('route', 'add', this.podSubnet, 'via', LAB.nodeToGateway);
    await sh('ip', ['-n', node, 'route', 'add', LAB.labSubnet, 'via', LAB.gatewayToNode, 'dev', nodeLink]);
    this.cleanup.add(`route to ${LAB.labSubnet} in ${node}`, () =>
      sh('ip', ['-n', node, 'route', 'del', LAB.labSubnet, 'via', LAB.gatewayToNode, 'dev', nodeLink]),
    );
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
  async #apiRelay(): Promise<void> {
    const sock = join(this.work, 'api.sock');
    this.background('socat', [`UNIX-LISTEN:${sock},fork,mode=600`, this.cluster.apiTarget]);
    this.#laptopApiRelay = this.background('ip', [
      'netns',
      'exec',
      this.laptop.name,
      'socat',
      `TCP-LISTEN:${this.cluster.apiPort},bind=127.0.0.1,fork,reuseaddr`,
      `UNIX-CONNECT:${sock}`,
    ]);
    for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /**
   * useWanLink replaces the laptop↔gateway veth with the WAN bench's emulated
   * link (bench/wan-forwarder.ts: two TUN devices under the same names and
   * addresses, MTU 1500, `profile`'s delay and rate each way) and sends the
   * laptop's API server connection across it: the laptop's relay now goes to
   * a relay in the gateway namespace. For the rest of the run every path's
   * carrier crosses the link; the returned function reshapes it.
   */
  async useWanLink(profile: WanProfile, log: (s: string) => void): Promise<(p: WanProfile) => Promise<void>> {
    log(`WAN link: replacing the laptop's veth with the emulated link (${profileName(profile)})`);
    await this.laptop.ip('link', 'del', 'bnlap0');
    const tag = process.pid % 100000;
    const [ta, tb] = [`bnwa${tag}`, `bnwb${tag}`];
    const fwd = this.background(
      process.execPath,
      [
        WAN_FORWARDER,
        '--a',
        ta,
        '--b',
        tb,
        '--mtu',
        '1500',
        '--rtt-ms',
        String(profile.rttMs),
        '--rate-mbps',
        String(profile.rateMbps),
      ],
      process.env,
      true,
    );
    this.cleanup.add('WAN link forwarder', () => {
      if (fwd.exitCode === null && fwd.signalCode === null) fwd.kill('SIGTERM');
    });
    const lines = createInterface({ input: fwd.stdout as NonNullable<typeof fwd.stdout> });
    const nextLine = () =>
      new Promise<string>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`the WAN forwarder did not answer: ${this.stderrTail}`)), 20_000);
        lines.once('line', (l) => {
          clearTimeout(t);
          res(l);
        });
      });
    if ((await nextLine()) !== 'ready') throw new Error(`the WAN forwarder did not start: ${this.stderrTail}`);
    for (const [ns, tun, dev, addr] of [
      [this.laptop, ta, 'bnlap0', `${LAB.laptop}/30`],
      [this.gateway, tb, 'bngw0', `${LAB.gateway}/30`],
    ] as const) {
      await sh('ip', ['link', 'set', 'dev', tun, 'netns', ns.name]);
      await ns.ip('link', 'set', tun, 'name', dev, 'mtu', '1500', 'txqueuelen', '10000');
      await ns.ip('addr', 'add', addr, 'dev', dev);
      await ns.ip('link', 'set', dev, 'up');
    }
    // The API server, reached across the link: laptop 127.0.0.1 → gateway namespace → the unix-socket relay.
    // TCP_NODELAY on the relay's sockets, as devnet's and the API server's own sockets have it: with Nagle,
    // a small frame (a new flow's OPEN) would wait a round trip of the WAN for the previous one's ACK.
    const sock = join(this.work, 'api.sock');
    const port = String(this.cluster.apiPort);
    this.background('ip', [
      'netns',
      'exec',
      this.gateway.name,
      'socat',
      `TCP-LISTEN:${port},bind=${LAB.gateway},fork,reuseaddr,nodelay`,
      `UNIX-CONNECT:${sock}`,
    ]);
    if (this.#laptopApiRelay) signalGroup(this.#laptopApiRelay, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    this.#laptopApiRelay = this.background('ip', [
      'netns',
      'exec',
      this.laptop.name,
      'socat',
      `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr,nodelay`,
      `TCP:${LAB.gateway}:${port},nodelay`,
    ]);
    await new Promise((r) => setTimeout(r, 200));
    return async (p: WanProfile) => {
      fwd.stdin?.write(`${p.rttMs} ${p.rateMbps}\n`);
      const answer = await nextLine();
      if (answer !== `shaped ${p.rttMs} ${p.rateMbps}`) throw new Error(`the WAN forwarder answered "${answer}"`);
    };
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
