// The host side of the test cluster: the node's network namespace, the one
// /30 link to it, the node's firewall, the host's last-resort routes, and
// the kernel settings the kubelet changes. Teardown finds everything by name
// and by namespace identity (a sweep), so it works after a kill -9 of
// anything, and restores the saved kernel settings.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  API_PORT,
  HOST_IP,
  HOST_LINK,
  LINK_PREFIX,
  NETNS,
  NODE_IP,
  NODE_LINK,
  type Paths,
  POD_CIDR,
  SAFETY_METRIC,
  SERVICE_CIDR,
} from './layout.ts';

/** KUBELET_SYSCTLS are the host-wide kernel settings the kubelet sets at start (setupKernelTunables); down restores them. */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}

/** netnsExists answers whether the node namespace exists. */
export function netnsExists(): boolean {
  return existsSync(`/run/netns/${NETNS}`);
}

/** nodeFirewall admits from the host link only the API server's port (and replies); everything else, and anything forwarded to or from the link, is refused at once. */
export function nodeFirewall(): string {
  return `table inet devnet-k8s-guard {
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "${NODE_LINK}" ct state established,related accept
    iifname "${NODE_LINK}" tcp dport ${API_PORT} accept
    iifname "${NODE_LINK}" meta l4proto tcp reject with tcp reset
    iifname "${NODE_LINK}" reject with icmpx admin-prohibited
  }
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${NODE_LINK}" reject with icmpx admin-prohibited
    oifname "${NODE_LINK}" reject with icmpx admin-prohibited
  }
}
`;
}

/** setupHost makes the node namespace, the link, the firewall and the host's unreachable routes; idempotent. */
export function setupHost(p: Paths): void {
  for (const cidr of [SERVICE_CIDR, POD_CIDR])
    sh('ip', ['route', 'replace', 'unreachable', cidr, 'metric', String(SAFETY_METRIC)]);
  if (!netnsExists()) {
    sh('ip', ['netns', 'add', NETNS]);
    sh('ip', ['link', 'add', HOST_LINK, 'type', 'veth', 'peer', 'name', NODE_LINK, 'netns', NETNS]);
    sh('ip', ['addr', 'add', `${HOST_IP}/${LINK_PREFIX}`, 'dev', HOST_LINK]);
    sh('ip', ['link', 'set', HOST_LINK, 'up']);
    sh(
      'ip',
      ['-n', NETNS, '-batch', '-'],
      `link set lo up\naddr add ${NODE_IP}/${LINK_PREFIX} dev ${NODE_LINK}\nlink set ${NODE_LINK} up\n`,
    );
    // /usr/sbin/nft by path: npm puts node_modules/.bin first, where ava's @vercel/nft is also called nft.
    sh('ip', ['netns', 'exec', NETNS, '/usr/sbin/nft', '-f', '-'], nodeFirewall());
    for (const s of [
      'net.ipv4.ip_forward=1',
      'net.bridge.bridge-nf-call-iptables=1',
      'net.bridge.bridge-nf-call-ip6tables=1',
    ]) {
      quiet('ip', ['netns', 'exec', NETNS, 'sysctl', '-qw', s]);
    }
  }
  if (!existsSync(p.sysctls)) {
    const saved = Object.fromEntries(KUBELET_SYSCTLS.map((s) => [s, readFileSync(`/proc/sys/${s}`, 'utf8').trim()]));
    mkdirSync(p.state, { recursive: true });
    writeFileSync(p.sysctls, `${JSON.stringify(saved, null, 2)}\n`);
  }
}

/** createdDirsFile records host directories up created as mount points, so down removes exactly those. */
const createdDirsFile = (p: Paths) => join(p.state, 'created-dirs.json');

/** ensureDirs creates missing host directories and records which it created. */
export function ensureDirs(p: Paths, dirs: string[]): void {
  const file = createdDirsFile(p);
  const created: string[] = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  for (const d of dirs) {
    if (existsSync(d)) continue;
    mkdirSync(d, { recursive: true });
    created.push(d);
  }
  writeFileSync(file, `${JSON.stringify(created)}\n`);
}

function nsInode(path: string): string | undefined {
  try {
    return String(statSync(path).ino);
  } catch {
    return undefined;
  }
}

/** nodeProcesses lists the pids whose network namespace is the node's. */
export function nodeProcesses(): number[] {
  const ino = nsInode(`/run/netns/${NETNS}`);
  if (!ino) return [];
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const link = readlinkSync(`/proc/${d}/ns/net`);
      if (link === `net:[${ino}]`) pids.push(Number(d));
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** killNode ends every process in the node's namespace: SIGTERM, then SIGKILL after graceMs. */
export async function killNode(graceMs: number): Promise<void> {
  let pids = nodeProcesses();
  for (const pid of pids) quiet('kill', ['-TERM', String(pid)]);
  const until = Date.now() + graceMs;
  while (Date.now() < until && pids.some(alive)) {
    await new Promise((r) => setTimeout(r, 200));
    pids = pids.filter(alive);
  }
  for (let round = 0; round < 50; round++) {
    pids = nodeProcesses().filter(alive);
    if (pids.length === 0) return;
    for (const pid of pids) quiet('kill', ['-KILL', String(pid)]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`processes still running in the node namespace: ${pids.join(' ')}`);
}

/** removeCgroups removes the kubelet's and containerd's cgroup trees (kubepods) from every v1 hierarchy, deepest first. */
export function removeCgroups(): void {
  const roots: string[] = [];
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, target, type] = line.split(' ');
    if (target?.startsWith('/sys/fs/cgroup/') && (type === 'cgroup' || type === 'cgroup2')) roots.push(target);
  }
  const rmTree = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      // still in use or already gone: reported by the caller's check
    }
  };
  for (const root of roots)
    for (const name of ['kubepods', 'kubepods.slice']) if (existsSync(join(root, name))) rmTree(join(root, name));
}

/** teardownHost removes the namespace (and with it the link, bridge and firewall), the routes, the created dirs, and restores kernel settings. */
export function teardownHost(p: Paths): void {
  if (netnsExists()) quiet('ip', ['netns', 'del', NETNS]);
  quiet('ip', ['link', 'del', HOST_LINK]);
  for (const cidr of [SERVICE_CIDR, POD_CIDR])
    quiet('ip', ['route', 'del', 'unreachable', cidr, 'metric', String(SAFETY_METRIC)]);
  if (existsSync(p.sysctls)) {
    const saved = JSON.parse(readFileSync(p.sysctls, 'utf8')) as Record<string, string>;
    for (const [k, v] of Object.entries(saved)) {
      if (KUBELET_SYSCTLS.includes(k) && /^-?\d+$/.test(v)) writeFileSync(`/proc/sys/${k}`, `${v}\n`);
    }
  }
  const file = createdDirsFile(p);
  if (existsSync(file)) {
    const created = JSON.parse(readFileSync(file, 'utf8')) as string[];
    for (const d of created.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // not empty or gone
      }
    }
  }
}

/** HostSnapshot is what must be the same before `up` and after `down`. */
export type HostSnapshot = Record<string, string[]>;

/** BEFORE_FILE holds the host as it was before a fresh `up` (outside the state dir, which `down` removes). */
export const BEFORE_FILE = '/run/devnet-k8s-host-before.json';

/** hostSnapshot reads the host's namespaces, links, routes, firewall, mounts, the kernel settings the kubelet changes, and the fixed dirs it writes. */
export function hostSnapshot(): HostSnapshot {
  const lines = (cmd: string, args: string[]) => {
    try {
      return sh(cmd, args)
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    } catch {
      return [];
    }
  };
  return {
    netns: lines('ip', ['netns', 'list']).map((l) => l.split(' ')[0] as string),
    links: lines('ip', ['-o', 'link']).map((l) => (l.split(': ')[1] ?? '').split('@')[0] as string),
    routes: lines('ip', ['route', 'show', 'table', 'all']),
    nftables: lines('/usr/sbin/nft', ['list', 'tables']),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4] as string),
    sysctls: KUBELET_SYSCTLS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, 'utf8').trim()}`),
    dirs: ['/run/containerd', '/var/lib/cni', '/var/log/containers'].filter((d) => existsSync(d)),
  };
}

/**
 * hostDifferences lists what differs between two snapshots, leaving out what
 * concurrently running tests own (names dnt-*) and /run/netns itself, which
 * iproute2 makes a mount point the first time anything adds a namespace and
 * never removes.
 */
export function hostDifferences(before: HostSnapshot, after: HostSnapshot): string[] {
  const ours = (x: string) => !/dnt-/.test(x) && x !== '/run/netns';
  const out: string[] = [];
  for (const key of Object.keys(before)) {
    const b = new Set((before[key] ?? []).filter(ours));
    const a = new Set((after[key] ?? []).filter(ours));
    for (const x of a) if (!b.has(x)) out.push(`${key}: added ${x}`);
    for (const x of b) if (!a.has(x)) out.push(`${key}: removed ${x}`);
  }
  return out;
}
