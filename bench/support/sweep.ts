// What benches killed outright (kill -9) left behind, removed by the next
// bench before it starts: the processes in their namespaces and those
// naming their work dir, the process groups they recorded, their laptop and
// gateway namespaces, their links in the real cluster's node, and their
// sandbox. What they left in the real cluster itself (the bench namespace,
// the gateway) is removed under the e2e lock by K8sCluster.open.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NETNS as K8S_NODE_NETNS } from '../../test/k8s/layout.ts';
import { sandboxEnv } from './cluster-sandbox.ts';
import { DEVNET_BIN, pidAlive, run } from './programs.ts';

/** WORK_PREFIX names a bench's work dir: WORK_PREFIX + its pid. */
export const WORK_PREFIX = '/tmp/devnet-bench-';
/** GROUPS_FILE (in the work dir) lists the process groups Lab.background started. */
export const GROUPS_FILE = 'process-groups.jsonl';
/** CLUSTER_FILE (in the work dir) names the kind of cluster the bench ran on. */
export const CLUSTER_FILE = 'cluster';

/** nodeLinkName is the bench's end of its veth in the node namespace (unique per bench: the real node is shared). */
export const nodeLinkName = (pid: number) => `bnn${pid}`;

/** killRecordedGroups kills the groups a dead bench recorded, each only if its leader still runs the same command. */
function killRecordedGroups(file: string): void {
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const [pid, cmdline] = JSON.parse(line) as [number, string];
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '') === cmdline) process.kill(-pid, 'SIGKILL');
    } catch {
      // gone (or the pid now belongs to someone else's process, left alone)
    }
  }
}

/**
 * killUsersOf kills, by pid, the processes whose command line names a dead
 * bench's work dir (devnet's helper and daemon, the API relay): they outlive
 * their namespaces when something else deleted those first.
 */
function killUsersOf(work: string): void {
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${work}/`)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** killNetnsPids kills, by pid, every process running in one of the bench's own namespaces. */
export async function killNetnsPids(ns: string): Promise<void> {
  for (const pid of (await run('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * sweepNodeLinks deletes, in the real cluster's node namespace, the veth ends
 * of benches that are gone (with them go the routes through them). Deleting a
 * dead bench's gateway namespace already destroys the pair; this covers a
 * namespace deleted by hand or half made.
 */
async function sweepNodeLinks(log: (s: string) => void): Promise<void> {
  if (!existsSync(`/run/netns/${K8S_NODE_NETNS}`)) return;
  const links = (await run('ip', ['-n', K8S_NODE_NETNS, '-o', 'link', 'show'])).stdout;
  for (const m of links.matchAll(/^\d+: (bnn(\d+))[@:]/gm)) {
    const [, dev, pid] = m as unknown as [string, string, string];
    if (dev !== nodeLinkName(Number(pid)) || pidAlive(Number(pid))) continue;
    log(`removing ${dev} (bench ${pid}) from the node ${K8S_NODE_NETNS}`);
    await run('ip', ['-n', K8S_NODE_NETNS, 'link', 'del', dev]);
  }
}

/**
 * sweepStale removes what benches killed outright left behind: the processes
 * in their namespaces (devnet's helper and daemon, the pod's servers), the
 * process groups they recorded, processes naming their work dir, their
 * laptop and gateway namespaces (dnt-<dead pid>-bnlap/bngw-*), their links in
 * the real cluster's node, then their sandbox through `sandbox down` (which
 * also removes its host routes).
 */
export async function sweepStale(log: (s: string) => void): Promise<void> {
  for (const ns of (await run('ip', ['netns', 'list'])).stdout.split('\n')) {
    const m = /^(dnt-(\d+)-(bnlap|bngw|bn)-\S+)/.exec(ns);
    if (!m || pidAlive(Number(m[2]))) continue;
    // Pods' namespaces too: the servers the bench started there with `sandbox exec` are not the sandbox's to stop.
    await killNetnsPids(m[1] as string);
    if (m[3] !== 'bn') await run('ip', ['netns', 'del', m[1] as string]);
  }
  await sweepNodeLinks(log);
  for (const name of readdirSync('/tmp')) {
    const m = /^devnet-bench-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const work = `${WORK_PREFIX}${m[1]}`;
    log(`removing what bench ${m[1]} left behind`);
    killRecordedGroups(join(work, GROUPS_FILE));
    killUsersOf(work);
    const onK8s = existsSync(join(work, CLUSTER_FILE)) && readFileSync(join(work, CLUSTER_FILE), 'utf8') === 'k8s';
    if (!onK8s) {
      await run(process.execPath, [DEVNET_BIN, 'sandbox', 'down'], {
        env: sandboxEnv(work, Number(m[1]), 0),
        timeoutMs: 60_000,
      });
    }
    rmSync(work, { recursive: true, force: true });
  }
}
