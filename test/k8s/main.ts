// `npm run k8s:up | k8s:down | k8s:status`: the real test cluster.
//
// up: builds the programs (cached, test/k8s/build.sh), makes the PKI,
// configuration and images, sets up the host side, starts the supervisor in
// the node's namespaces, imports the images into containerd, applies the
// addons (dev RBAC, CoreDNS, demo workloads), waits until everything is
// Ready, and prints the kubeconfig path as its last line. Idempotent: on a
// running cluster it re-imports changed images and re-applies the addons.
// down: stops the supervisor, sweeps every process of the node's namespace,
// removes cgroups, the namespace, routes and state, and restores the kernel
// settings the kubelet changed. Idempotent and safe after a kill -9.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { apiserverToKubelet, coredns, demo, devRbac } from './addons.ts';
import { corednsImage, pauseImage } from './cluster-images.ts';
import {
  apiServerUrl,
  cniConfig,
  componentKubeconfig,
  containerdConfig,
  kubeletConfig,
  kubeProxyConfig,
  userKubeconfig,
} from './configs.ts';
import {
  BEFORE_FILE,
  ensureDirs,
  hostDifferences,
  hostSnapshot,
  killNode,
  netnsExists,
  nodeProcesses,
  removeCgroups,
  setupHost,
  teardownHost,
} from './host.ts';
import { allSpecs, type Build, buildFile, importSpecs } from './import.ts';
import {
  API_PORT,
  E2E_LOCK,
  NETNS,
  type Paths,
  PRIVATE_DIRS,
  paths,
  startedByTests,
  UNREACHABLE_DNS,
} from './layout.ts';
import { holdLock } from './lock.ts';
import { ensurePki, pem } from './pki.ts';

const HERE = import.meta.dirname;
const log = (msg: string) => console.error(`k8s: ${msg}`);

/** build runs build.sh and returns the bin dir and the versions it recorded. */
function build(): { bin: string; versions: Record<string, string> } {
  const t0 = Date.now();
  const out = execFileSync('bash', [join(HERE, 'build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const bin = out.trim().split('\n').pop() as string;
  const versions = Object.fromEntries(
    readFileSync(join(bin, '..', 'versions'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
  log(`programs ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (Kubernetes ${versions.kubernetes})`);
  return { bin, versions };
}

function writeConfigs(p: Paths, versions: Record<string, string>): void {
  for (const d of [p.config, p.logs, p.etcd, p.containerd, p.kubelet, p.podLogs, p.cniConf, p.cniData, p.images]) {
    mkdirSync(d, { recursive: true });
  }
  mkdirSync(p.run, { recursive: true, mode: 0o700 });
  ensurePki(p.pki);
  const ca = pem(p.pki, 'ca.crt');
  const cred = (name: string) => ({ cert: pem(p.pki, `${name}.crt`), key: pem(p.pki, `${name}.key`) });
  const local = `https://127.0.0.1:${API_PORT}`;
  const files: Record<string, string> = {
    'controller-manager.kubeconfig': componentKubeconfig(
      local,
      ca,
      'system:kube-controller-manager',
      cred('controller-manager'),
    ),
    'scheduler.kubeconfig': componentKubeconfig(local, ca, 'system:kube-scheduler', cred('scheduler')),
    'kubelet.kubeconfig': componentKubeconfig(apiServerUrl(), ca, 'kubelet', cred('kubelet')),
    'kube-proxy.kubeconfig': componentKubeconfig(apiServerUrl(), ca, 'system:kube-proxy', cred('kube-proxy')),
    'admin.kubeconfig': componentKubeconfig(apiServerUrl(), ca, 'kubernetes-admin', cred('admin')),
    'containerd.toml': containerdConfig(p, pauseImage(versions.pause as string), !hasCapability(CAP_SYS_RESOURCE)),
    'kubelet.yaml': kubeletConfig(p),
    'kube-proxy.yaml': kubeProxyConfig(p),
    'node-resolv.conf': `nameserver ${UNREACHABLE_DNS}\n`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(p.config, name), text, { mode: 0o600 });
  writeFileSync(join(p.cniConf, '10-devnet-k8s.conflist'), cniConfig(p));
  writeFileSync(p.kubeconfig, userKubeconfig(apiServerUrl(), ca, cred('admin'), cred('dev')), { mode: 0o600 });
}

const CAP_SYS_RESOURCE = 24;

/** hasCapability answers whether this process holds a capability in its effective set. */
function hasCapability(cap: number): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? ((BigInt(`0x${m[1]}`) >> BigInt(cap)) & 1n) === 1n : false;
}

/** supervisorPid returns the running supervisor's pid, or undefined. */
function supervisorPid(p: Paths): number | undefined {
  if (!existsSync(p.supervisorPid)) return undefined;
  const [pid, start] = readFileSync(p.supervisorPid, 'utf8').trim().split(' ');
  return pid && processStart(Number(pid)) === start ? Number(pid) : undefined;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

async function startSupervisor(p: Paths, bin: string): Promise<number> {
  rmSync(join(p.run, 'supervisor.started'), { force: true });
  const out = openSync(join(p.logs, 'supervisor.log'), 'a');
  const node = process.execPath;
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${NETNS}`,
      '--',
      'unshare',
      '--mount',
      '--propagation',
      'private',
      '--',
      node,
      join(HERE, 'supervisor.ts'),
      bin,
    ],
    {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, DEVNET_K8S_STATE: p.state, DEVNET_K8S_RUN: p.run },
    },
  );
  child.unref();
  // nsenter and unshare exec in place: the child's pid is the supervisor's.
  const pid = child.pid as number;
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(p.supervisorPid, `${pid} ${processStart(pid)}\n`);
  const until = Date.now() + 180_000;
  while (!existsSync(join(p.run, 'supervisor.started'))) {
    if (!processStart(pid)) throw new Error(`the node supervisor exited; see ${join(p.logs, 'supervisor.log')}`);
    if (Date.now() > until) throw new Error(`the control plane did not start within 180 s; see ${p.logs}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return pid;
}

function kubectl(p: Paths, args: string[], input?: string): string {
  return execFileSync('kubectl', ['--kubeconfig', join(p.config, 'admin.kubeconfig'), ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 300_000,
  });
}

function applyAddons(p: Paths, versions: Record<string, string>): void {
  const objects = [
    ...apiserverToKubelet(),
    ...devRbac(),
    ...coredns(corednsImage(versions.coredns as string)),
    ...demo(),
  ];
  const yaml = objects.map((o) => `---\n${stringify(o)}`).join('');
  try {
    kubectl(p, ['apply', '-f', '-'], yaml);
  } catch (err) {
    // A StatefulSet's claim templates (and most of its spec) cannot change: recreate the demo's.
    if (!/updates to statefulset spec for fields other than/.test(String((err as { stderr?: string }).stderr)))
      throw err;
    for (const o of objects.filter((x) => x.kind === 'StatefulSet')) {
      const meta = o.metadata as { name: string; namespace: string };
      kubectl(p, ['-n', meta.namespace, 'delete', 'statefulset', meta.name, '--ignore-not-found', '--wait=true']);
      log(`recreating StatefulSet ${meta.namespace}/${meta.name} (its spec changed where Kubernetes allows no update)`);
    }
    kubectl(p, ['apply', '-f', '-'], yaml);
  }
}

/** restartDemo rolls the demo workloads onto a re-imported demo image (same tag, new content). */
function restartDemo(p: Paths): void {
  for (const o of demo()) {
    const kind = String(o.kind);
    if (kind !== 'Deployment' && kind !== 'StatefulSet') continue;
    const meta = o.metadata as { name: string; namespace: string };
    kubectl(p, ['-n', meta.namespace, 'rollout', 'restart', `${kind.toLowerCase()}/${meta.name}`]);
  }
  log('demo workloads restarted on the new demo image');
}

function waitReady(p: Paths): void {
  kubectl(p, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=180s']);
  kubectl(p, ['-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=180s']);
  for (const o of demo()) {
    const kind = String(o.kind);
    if (kind !== 'Deployment' && kind !== 'StatefulSet') continue;
    const meta = o.metadata as { name: string; namespace: string };
    kubectl(p, ['-n', meta.namespace, 'rollout', 'status', `${kind.toLowerCase()}/${meta.name}`, '--timeout=180s']);
  }
}

/** UP_LOCK serializes up and down. */
const UP_LOCK = '/run/devnet-k8s.lock';

async function up(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('k8s:up needs root (network namespaces, containers): run it with sudo');
  await holdLock(UP_LOCK);
  const t0 = Date.now();
  const p = paths();
  const wasRunning = supervisorPid(p) !== undefined;
  const { bin, versions } = build();
  if (!wasRunning && !netnsExists() && !existsSync(BEFORE_FILE))
    writeFileSync(BEFORE_FILE, JSON.stringify(hostSnapshot()));
  mkdirSync(p.state, { recursive: true, mode: 0o700 });
  writeConfigs(p, versions);
  setupHost(p);
  ensureDirs(p, PRIVATE_DIRS);
  if (!supervisorPid(p)) {
    const pid = await startSupervisor(p, bin);
    log(`control plane and node started (supervisor pid ${pid})`);
  }
  if (!wasRunning && process.argv.includes('--by-tests')) writeFileSync(startedByTests(p), '');
  const record: Build = { bin, versions };
  writeFileSync(buildFile(p), JSON.stringify(record));
  // A test run refreshes the images between suites, never under one (suites hold the e2e lock),
  // and leaves the published gateway tag alone: suites run their checkout's gateway under a tag of
  // their own (test/k8s/import.ts).
  const byTests = process.argv.includes('--by-tests');
  const releaseE2E = byTests ? await holdLock(E2E_LOCK) : undefined;
  const specs = allSpecs(record).filter((s) => !byTests || s.key !== 'gateway');
  const imported = importSpecs(p, record, specs, log);
  applyAddons(p, versions);
  if (wasRunning && imported.includes('demo')) restartDemo(p);
  waitReady(p);
  await releaseE2E?.();
  log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(p.kubeconfig);
}

async function down(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('k8s:down needs root: run it with sudo');
  await holdLock(UP_LOCK);
  const p = paths();
  const pid = supervisorPid(p);
  if (pid) {
    spawnSync('kill', ['-TERM', String(pid)]);
    const until = Date.now() + 30_000;
    while (processStart(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  }
  if (netnsExists()) await killNode(5_000);
  removeCgroups();
  teardownHost(p);
  rmSync(p.state, { recursive: true, force: true });
  rmSync(p.run, { recursive: true, force: true });
  log('down: node namespace, link, routes, cgroups and state removed; kernel settings restored');
  if (existsSync(BEFORE_FILE)) {
    const diff = hostDifferences(JSON.parse(readFileSync(BEFORE_FILE, 'utf8')), hostSnapshot());
    rmSync(BEFORE_FILE, { force: true });
    if (diff.length) {
      log(`the host is not as it was before up:\n  ${diff.join('\n  ')}`);
      if (process.env.CI || process.argv.includes('--verify')) process.exit(3);
    } else {
      log('the host is as it was before up: namespaces, links, routes, nftables, mounts, kernel settings');
    }
  }
}

function status(): void {
  const p = paths();
  const pid = supervisorPid(p);
  console.log(
    JSON.stringify({
      running: Boolean(pid),
      supervisor: pid,
      nodeProcesses: nodeProcesses().length,
      kubeconfig: p.kubeconfig,
    }),
  );
}

const verb = process.argv[2];
const verbs: Record<string, () => Promise<void> | void> = { up, down, status };
const run = verb ? verbs[verb] : undefined;
if (!run) {
  console.error('usage: test/k8s/main.ts up|down|status');
  process.exit(2);
}
try {
  await run();
  process.exit(0);
} catch (err) {
  const e = err as Error & { stderr?: string };
  console.error(`k8s ${verb} failed: ${e.message}${e.stderr ? `\n${String(e.stderr).trim()}` : ''}`);
  process.exit(1);
}
