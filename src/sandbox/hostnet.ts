// The sandbox's kernel plumbing: the node namespace, one namespace per pod
// joined to the node by a veth, and the host's last-resort routes. Nothing
// here links the host into the sandbox: the host only gets `unreachable`
// routes for the cluster ranges, so traffic to them can never leave the
// machine unless devnet's TUN (more specific or lower metric) claims it.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SyncJournal } from '../journal/journal.ts';
import { CLUSTER_DNS_IP, CLUSTER_DOMAIN, NODE_GATEWAY, NODE_IP, POD_CIDR, SERVICE_CIDR } from './constants.ts';
import type { Exec } from './exec.ts';
import { nodeNetns, type SandboxPaths } from './paths.ts';

/** VETH_MTU is the MTU of pod links: large, like devnet's TUN, so bulk transfers are not packet-bound. */
export const VETH_MTU = 65520;

/** safetyMetric is the metric of the host's unreachable routes: high so devnet's TUN routes win, distinct per prefix so two sandboxes never remove each other's. */
export function safetyMetric(prefix: string): number {
  let h = 0;
  for (const c of prefix) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 9000 + (h % 900);
}

/** safetyRoutes are the `ip route` arguments of the host's last-resort routes. */
export function safetyRoutes(prefix: string): string[][] {
  const metric = String(safetyMetric(prefix));
  return [SERVICE_CIDR, POD_CIDR].map((cidr) => ['unreachable', cidr, 'metric', metric]);
}

/** listNetns returns the names of the host's network namespaces. */
export async function listNetns(exec: Exec): Promise<string[]> {
  const out = await exec('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

/** setupHost creates the node namespace (forwarding on, node address on loopback) and the host's safety routes; it is idempotent. */
export async function setupHost(p: SandboxPaths, journal: SyncJournal, exec: Exec): Promise<void> {
  const node = nodeNetns(p);
  for (const args of safetyRoutes(p.prefix)) {
    const [type, dst, , metric] = args as [string, string, string, string];
    journal.recordSync({ kind: 'route-delete', type, dst, metric: Number(metric) });
    await exec('ip', ['route', 'replace', ...args]);
  }
  if ((await listNetns(exec)).includes(node)) return;
  journal.recordSync({ kind: 'netns', name: node });
  await exec('ip', ['netns', 'add', node]);
  // All of the service range is local to the node: ClusterIP ports that kube-proxy does not DNAT
  // (no ready endpoints) are refused by the node's own stack, and cluster DNS binds 10.96.0.10.
  await exec(
    'ip',
    ['-n', node, '-batch', '-'],
    `link set lo up\naddr add ${NODE_IP}/32 dev lo\nroute add local ${SERVICE_CIDR} dev lo\n`,
  );
  await exec('ip', ['netns', 'exec', node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

/** PodNetwork describes one pod's namespace and link. */
export interface PodNetwork {
  netns: string;
  /** link is the node end of the pod's veth. */
  link: string;
  ip: string;
}

/** podLinkName names a pod's node-side veth from its IP (interface names are at most 15 bytes). */
export function podLinkName(ip: string): string {
  const [, , c, d] = ip.split('.').map(Number);
  return `vp${(((c ?? 0) << 8) | (d ?? 0)).toString(16).padStart(4, '0')}`;
}

/** resolvConf is a pod's /etc/resolv.conf, as the kubelet writes it for dnsPolicy ClusterFirst. */
export function resolvConf(namespace: string): string {
  const d = CLUSTER_DOMAIN;
  return `search ${namespace}.svc.${d} svc.${d} ${d}\nnameserver ${CLUSTER_DNS_IP}\noptions ndots:5\n`;
}

/** resolvConfPath is where `ip netns exec` finds the file it bind-mounts over /etc/resolv.conf. */
export function resolvConfPath(netns: string): string {
  return `/etc/netns/${netns}/resolv.conf`;
}

/** setupPodNetwork creates a pod's namespace with a /32 routed through the node. */
export async function setupPodNetwork(
  p: SandboxPaths,
  net: PodNetwork,
  namespace: string,
  journal: SyncJournal,
  exec: Exec,
): Promise<void> {
  const node = nodeNetns(p);
  const conf = resolvConfPath(net.netns);
  if (!existsSync('/etc/netns')) journal.recordSync({ kind: 'emptydir', path: '/etc/netns' });
  journal.recordSync({ kind: 'path', path: dirname(conf) });
  mkdirSync(dirname(conf), { recursive: true });
  writeFileSync(conf, resolvConf(namespace));
  journal.recordSync({ kind: 'netns', name: net.netns });
  await exec('ip', ['netns', 'add', net.netns]);
  await exec(
    'ip',
    ['-n', node, '-batch', '-'],
    [
      `link add ${net.link} mtu ${VETH_MTU} type veth peer name eth0 mtu ${VETH_MTU} netns ${net.netns}`,
      `addr add ${NODE_GATEWAY}/32 dev ${net.link}`,
      `link set ${net.link} up`,
      `route add ${net.ip}/32 dev ${net.link}`,
      '',
    ].join('\n'),
  );
  await exec(
    'ip',
    ['-n', net.netns, '-batch', '-'],
    [
      'link set lo up',
      `addr add ${net.ip}/32 dev eth0`,
      'link set eth0 up',
      `route add ${NODE_GATEWAY} dev eth0 scope link`,
      `route add default via ${NODE_GATEWAY} dev eth0`,
      '',
    ].join('\n'),
  );
}

/** teardownPodNetwork removes a pod's namespace (which takes its veth and route with it) and resolv.conf. */
export async function teardownPodNetwork(net: PodNetwork, exec: Exec): Promise<void> {
  await exec('ip', ['netns', 'del', net.netns]).catch(() => undefined);
  rmSync(dirname(resolvConfPath(net.netns)), { recursive: true, force: true });
}
