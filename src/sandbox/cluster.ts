// The operations behind `devnet sandbox ...`: up starts (or finds) the
// supervisor and waits until the sandbox is usable; down stops it and undoes
// everything from the journal, then sweeps anything named with our prefix;
// status, exec and kubeconfig read what is there.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { DevnetError } from '../errors.ts';
import { FileJournal } from '../journal/journal.ts';
import { machineUndoEnv, processStartText as processStartTime } from '../journal/machine.ts';
import { CLUSTER_DNS_IP, CONTEXT_ADMIN, CONTEXT_DEV } from './constants.ts';
import type { Exec } from './exec.ts';
import { listNetns, resolvConfPath } from './hostnet.ts';
import { PROXY_TABLE } from './kube-proxy.ts';
import {
  mergeKubeconfig,
  readKubeconfig,
  unmergeKubeconfig,
  userKubeconfigPath,
  writeKubeconfig,
} from './kubeconfig.ts';
import { nodeNetns, podNetns, podRunDir, runFile, type SandboxPaths } from './paths.ts';
import { podViewArgv } from './security.ts';
import { kubeconfigFile, readStatus, type SupervisorStatus } from './supervisor-status.ts';

const SUPERVISOR = join(import.meta.dirname, `supervisor${extname(import.meta.filename)}`);

/** requireRoot fails with a clear error when not root (namespaces and routes need CAP_NET_ADMIN). */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new DevnetError('user', 'the sandbox needs root: it creates network namespaces and routes', {
      hint: 'run it with sudo: sudo devnet sandbox up',
    });
  }
}

/** supervisorAlive reports the supervisor's pid when it is running. */
export function supervisorAlive(p: SandboxPaths): number | undefined {
  const j = FileJournal.shared(runFile(p, 'journal.jsonl'));
  const rec = j.readSync().find((e) => e.kind === 'process');
  if (rec?.kind !== 'process') return undefined;
  return processStartTime(rec.pid) === rec.start ? rec.pid : undefined;
}

/** UpResult is what `up` made. */
export interface UpResult {
  created: boolean;
  status: SupervisorStatus;
  kubeconfig: string;
  userKubeconfig: string;
  madeCurrent: boolean;
  seconds: number;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** up starts the sandbox if it is not running and waits until it is ready (or failed). */
export async function up(p: SandboxPaths, exec: Exec, timeoutMs = 90_000): Promise<UpResult> {
  requireRoot();
  const t0 = Date.now();
  let created = false;
  if (!supervisorAlive(p)) {
    // A previous run that crashed may have left things behind: undo them first.
    await down(p, exec, { keepUserKubeconfig: true });
    mkdirSync(p.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(p.stateDir, { recursive: true, mode: 0o700 });
    const journal = FileJournal.shared(runFile(p, 'journal.jsonl'));
    journal.recordSync({ kind: 'path', path: p.stateDir });
    journal.recordSync({ kind: 'path', path: p.runDir });
    const out = openSync(runFile(p, 'supervisor.out'), 'a');
    const child = spawn(process.execPath, [SUPERVISOR], {
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        ...process.env,
        DEVNET_SANDBOX_STATE: p.stateDir,
        DEVNET_SANDBOX_RUN: p.runDir,
        DEVNET_SANDBOX_PREFIX: p.prefix,
        DEVNET_SANDBOX_PORT: String(p.port),
      },
    });
    closeSync(out);
    const pid = child.pid as number;
    journal.recordSync({ kind: 'process', pid, start: processStartTime(pid) ?? '' });
    child.unref();
    created = true;
  }
  let status: SupervisorStatus | undefined;
  for (;;) {
    status = readStatus(p);
    if (status?.phase === 'ready') break;
    const dead = !supervisorAlive(p);
    if (status?.phase === 'failed' || dead || Date.now() - t0 > timeoutMs) {
      const why = status?.message ?? (dead ? 'the supervisor exited' : `not ready after ${timeoutMs / 1000} s`);
      const log = `${tail(runFile(p, 'supervisor.out'))}\n${tail(runFile(p, 'supervisor.log'))}`.trim();
      await down(p, exec, { keepUserKubeconfig: true }).catch(() => undefined);
      if (/EADDRINUSE/.test(log)) {
        throw new DevnetError('user', `sandbox failed to start: port ${p.port} on 127.0.0.1 is in use`, {
          hint: 'another sandbox or program holds it: stop it, or pick a port with DEVNET_SANDBOX_PORT',
        });
      }
      throw new DevnetError('internal', `sandbox failed to start: ${why}${log ? `\n${log}` : ''}`, {
        hint: 'the sandbox was removed again; fix the cause and re-run `devnet sandbox up`',
      });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const kubeconfig = kubeconfigFile(p);
  const userKubeconfig = userKubeconfigPath();
  const before = readKubeconfig(userKubeconfig);
  const ours = readKubeconfig(kubeconfig);
  if (!ours) throw new DevnetError('internal', `the sandbox kubeconfig ${kubeconfig} is missing`);
  const merged = mergeKubeconfig(before, ours);
  writeKubeconfig(userKubeconfig, merged);
  return {
    created,
    status,
    kubeconfig,
    userKubeconfig,
    madeCurrent: !before?.['current-context'] && merged['current-context'] === CONTEXT_ADMIN,
    seconds: (Date.now() - t0) / 1000,
  };
}

/** down stops the supervisor and removes every namespace, route, file and context the sandbox made. */
export async function down(
  p: SandboxPaths,
  exec: Exec,
  opts: { keepUserKubeconfig?: boolean } = {},
): Promise<string[]> {
  requireRoot();
  const journal = FileJournal.shared(runFile(p, 'journal.jsonl'));
  const problems = (await journal.undoAll(machineUndoEnv)).map((f) => f.error);
  // Sweep by name too, in case the journal itself was lost.
  for (const ns of await listNetns(exec)) {
    if (ns === nodeNetns(p) || ns.startsWith(`${p.prefix}-pod-`)) {
      await exec('ip', ['netns', 'del', ns]).catch((e: Error) => problems.push(e.message));
    }
  }
  if (existsSync('/etc/netns')) {
    for (const d of readdirSync('/etc/netns')) {
      if (d.startsWith(`${p.prefix}-pod-`)) rmSync(join('/etc/netns', d), { recursive: true, force: true });
    }
  }
  rmSync(p.runDir, { recursive: true, force: true });
  rmSync(p.stateDir, { recursive: true, force: true });
  rmSync(p.imageDir, { recursive: true, force: true });
  try {
    rmdirSync(dirname(p.imageDir)); // the image store, when no other sandbox has an image there
  } catch {
    // not empty, or gone
  }
  if (!opts.keepUserKubeconfig) {
    const path = userKubeconfigPath();
    const doc = readKubeconfig(path);
    if (doc?.contexts?.some((c) => c.name === CONTEXT_ADMIN || c.name === CONTEXT_DEV))
      writeKubeconfig(path, unmergeKubeconfig(doc));
  }
  return problems;
}

/** SandboxStatus is `devnet sandbox status` in data. */
export interface SandboxStatus {
  running: boolean;
  phase?: SupervisorStatus['phase'];
  message?: string;
  components: { name: string; pid?: number; healthy: boolean; detail?: string }[];
  nodes: { name: string; ready: boolean; podCIDRs: string[] }[];
  pods: { namespace: string; name: string; phase: string; ready: string; ip?: string; reason?: string }[];
}

/** adminClients builds API clients from the standalone kubeconfig's admin context, through devnet's one kubeconfig loader (client-node is loaded only here: the other verbs start faster without it). */
async function adminClients(p: SandboxPaths) {
  const file = kubeconfigFile(p);
  if (!existsSync(file)) throw new DevnetError('user', 'the sandbox is not up', { hint: 'run `devnet sandbox up`' });
  const [{ makeClients }, { loadKube }, { KubeConfig }] = await Promise.all([
    import('./kube.ts'),
    import('../cluster/kubeconfig.ts'),
    import('@kubernetes/client-node'),
  ]);
  return makeClients(loadKube({ explicit: file, files: [] }, { context: CONTEXT_ADMIN }, KubeConfig).kc);
}

function podReason(pod: V1Pod): string | undefined {
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
    if (w) return w;
  }
  return undefined;
}

/** status reports the supervisor's components with their PIDs and health, the nodes and the pods. */
export async function status(p: SandboxPaths, exec: Exec): Promise<SandboxStatus> {
  const pid = supervisorAlive(p);
  const st = readStatus(p);
  const out: SandboxStatus = { running: pid !== undefined, components: [], nodes: [], pods: [] };
  if (st?.phase) out.phase = st.phase;
  if (st?.message) out.message = st.message;
  if (!pid) return out;
  let apiHealthy = false;
  let apiDetail = st?.url ?? '';
  try {
    const c = await adminClients(p);
    const [nodes, pods] = await Promise.all([c.core.listNode(), c.core.listPodForAllNamespaces()]);
    apiHealthy = true;
    out.nodes = nodes.items.map((n) => ({
      name: n.metadata?.name ?? '',
      ready: n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false,
      podCIDRs: n.spec?.podCIDRs ?? [],
    }));
    out.pods = pods.items.map((pod) => {
      const cs = pod.status?.containerStatuses ?? [];
      const reason = podReason(pod);
      return {
        namespace: pod.metadata?.namespace ?? '',
        name: pod.metadata?.name ?? '',
        phase: pod.status?.phase ?? 'Pending',
        ready: `${cs.filter((c) => c.ready).length}/${pod.spec?.containers.length ?? 0}`,
        ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
        ...(reason ? { reason } : {}),
      };
    });
  } catch (err) {
    apiDetail = (err as Error).message;
  }
  const ready = st?.phase === 'ready';
  const node = nodeNetns(p);
  // Real probes, from inside the node namespace: DNS answers, kube-proxy's table is installed.
  const [dnsAnswer, proxyTable] = await Promise.all([
    exec('ip', [
      'netns',
      'exec',
      node,
      'dig',
      '+time=1',
      '+tries=1',
      '+short',
      `@${CLUSTER_DNS_IP}`,
      'kubernetes.default.svc.cluster.local',
    ]).catch(() => ''),
    exec('ip', ['netns', 'exec', node, '/usr/sbin/nft', 'list', 'table', 'ip', PROXY_TABLE]).then(
      () => true,
      () => false,
    ),
  ]);
  const podsWithIP = out.pods.filter((x) => x.ip).length;
  const runners = st?.runners ?? 0;
  out.components = [
    { name: 'supervisor', pid, healthy: true, detail: st?.phase ?? '' },
    { name: 'apiserver', pid, healthy: apiHealthy, detail: apiDetail },
    { name: 'controller-manager', pid, healthy: ready && apiHealthy },
    {
      name: 'kubelet',
      pid,
      healthy: ready && runners >= podsWithIP,
      detail: `${runners} pod runners for ${podsWithIP} pods with an IP`,
    },
    { name: 'kube-proxy', pid, healthy: proxyTable, detail: `nftables table ${PROXY_TABLE} in netns ${node}` },
    {
      name: 'cluster-dns',
      pid,
      healthy: /^\d+\.\d+\.\d+\.\d+$/m.test(dnsAnswer),
      detail: `${CLUSTER_DNS_IP}:53 in netns ${node}, ${st?.dns?.queries ?? 0} queries`,
    },
  ];
  return out;
}

/**
 * execArgv is how to run a command in a pod, as `kubectl exec` would: in its
 * runner's network and mount namespaces (the pod's /run with its service
 * account), with the pod's resolv.conf bound afresh (security.ts
 * podViewArgv: the runner's own bind may have been detached by the host);
 * without a runner record, in its network namespace through `ip netns exec`.
 */
export async function execArgv(
  p: SandboxPaths,
  exec: Exec,
  namespace: string,
  name: string,
  command: string[],
): Promise<{ argv: string[]; env: NodeJS.ProcessEnv }> {
  // Fast path, no API round trip: the kubelet records each runner's PID (and the container's environment) in the pod's run dir.
  let pid: number | undefined;
  try {
    pid = Number(readFileSync(join(podRunDir(p, namespace, name), 'runner.pid'), 'utf8').trim());
  } catch {
    pid = undefined;
  }
  // The runner must still be in one of our pod namespaces (a recycled PID would not be).
  const running = pid ? (await exec('ip', ['netns', 'identify', String(pid)]).catch(() => '')).trim() : '';
  if (pid && running.startsWith(`${p.prefix}-pod-`)) {
    return {
      argv: ['nsenter', `--target=${pid}`, '--net', '--mount', '--', ...podViewArgv(resolvConfPath(running), command)],
      env: containerExecEnv(p, namespace, name),
    };
  }
  // Slow path: ask the API, for a precise error (not found, not running) or a pod without a runner record.
  const { netns } = await podNetnsFor(p, exec, namespace, name);
  return { argv: ['ip', 'netns', 'exec', netns, ...command], env: containerExecEnv(p, namespace, name) };
}

/** containerExecEnv is what a command run in a pod sees, as with `kubectl exec`: the first container's environment, not the caller's. */
function containerExecEnv(p: SandboxPaths, namespace: string, name: string): NodeJS.ProcessEnv {
  let env: Record<string, string> = {};
  try {
    env = JSON.parse(readFileSync(join(podRunDir(p, namespace, name), 'exec-env.json'), 'utf8')) as Record<
      string,
      string
    >;
  } catch {
    // a pod started before exec-env.json existed: its environment is unknown
  }
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    HOSTNAME: name,
    ...env,
  };
}

/** podNetnsFor finds a pod's network namespace through the API. */
export async function podNetnsFor(
  p: SandboxPaths,
  exec: Exec,
  namespace: string,
  name: string,
): Promise<{ netns: string; pod: V1Pod }> {
  const c = await adminClients(p);
  const pod = await c.core.readNamespacedPod({ namespace, name }).catch((err: unknown) => {
    if ((err as { code?: number }).code === 404)
      throw new DevnetError('user', `pods "${name}" not found in namespace "${namespace}"`);
    throw err;
  });
  const netns = podNetns(p, pod.metadata?.uid ?? '');
  if (!(await listNetns(exec)).includes(netns)) {
    throw new DevnetError('user', `pod ${namespace}/${name} is not running (phase ${pod.status?.phase ?? 'Pending'})`);
  }
  return { netns, pod };
}
