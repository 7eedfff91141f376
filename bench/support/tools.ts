// The programs the side-by-side bench runs, and the Debian packages they come
// from. Missing ones are installed with apt-get (the bench runs as root);
// a path whose tools still cannot be had is skipped with the reason.

import { run } from './programs.ts';
import type { PathName } from './report.ts';

/** PACKAGE_OF maps each program to its Debian package. */
const PACKAGE_OF: Record<string, string> = {
  iperf3: 'iperf3',
  sockperf: 'sockperf',
  nc: 'netcat-openbsd',
  socat: 'socat',
  kubectl: '',
  dnsperf: 'dnsperf',
  openssl: 'openssl',
  openvpn: 'openvpn',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  sshuttle: 'sshuttle',
  sshd: 'openssh-server',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  iptables: 'iptables',
  curl: 'curl',
  // pgbench and the server (the sandbox's pod runs the host's; the k8s bench image copies them).
  '/usr/lib/postgresql/15/bin/pgbench': 'postgresql-15',
};

/** COMMON are needed by every path; the rest by the paths that name them. */
const COMMON = ['iperf3', 'sockperf', 'nc', 'socat', 'kubectl', 'curl', '/usr/lib/postgresql/15/bin/pgbench'];
const NEEDS: Record<PathName, string[]> = {
  direct: [],
  'devnet-direct': ['dnsperf'],
  'devnet-portforward': ['dnsperf'],
  openvpn: ['openvpn', 'openssl'],
  'wireguard-go': ['wireguard-go', 'wg'],
  sshuttle: ['sshuttle', 'sshd', 'ssh', 'ssh-keygen', 'iptables'],
};

/** APT_INSTALL is the command line the docs show for installing everything up front. */
export const APT_INSTALL = `apt-get install --no-install-recommends ${[...new Set(Object.values(PACKAGE_OF).filter(Boolean))].join(' ')}`;

const has = async (prog: string) =>
  (await run('sh', ['-c', `command -v ${prog} || test -x /usr/sbin/${prog}`])).code === 0;

/**
 * ensureTools installs missing programs for the chosen paths; it returns the
 * paths that cannot run (with the reason) and the installed package versions.
 * It throws when a program every path needs is missing.
 */
export async function ensureTools(
  paths: PathName[],
  log: (s: string) => void,
): Promise<{ missing: Partial<Record<PathName, string>>; versions: Record<string, string> }> {
  const wanted = [...new Set([...COMMON, ...paths.flatMap((p) => NEEDS[p])])];
  const absent: string[] = [];
  for (const prog of wanted) if (!(await has(prog))) absent.push(prog);
  const packages = [...new Set(absent.map((p) => PACKAGE_OF[p]).filter((p): p is string => !!p))];
  if (packages.length > 0) {
    log(`installing ${packages.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () =>
      run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, timeoutMs: 300_000 });
    if ((await install()).code !== 0) {
      await run('apt-get', ['update', '-q'], { env, timeoutMs: 300_000 });
      const r = await install();
      if (r.code !== 0) log(`apt-get install failed: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
    }
  }
  const still: string[] = [];
  for (const prog of absent) if (!(await has(prog))) still.push(prog);
  const common = still.filter((p) => COMMON.includes(p));
  if (common.length > 0) {
    const kubectl = common.includes('kubectl')
      ? '; kubectl is not a Debian package: install it from kubernetes.io'
      : '';
    throw new Error(`missing ${common.join(', ')}: ${APT_INSTALL}${kubectl}`);
  }
  const missing: Partial<Record<PathName, string>> = {};
  for (const p of paths) {
    const lack = NEEDS[p].filter((prog) => still.includes(prog));
    if (lack.length > 0)
      missing[p] = `missing ${lack.join(', ')} (apt-get install ${lack.map((l) => PACKAGE_OF[l]).join(' ')})`;
  }
  const versions: Record<string, string> = {};
  for (const pkg of new Set(wanted.map((p) => PACKAGE_OF[p]).filter((p): p is string => !!p))) {
    // dpkg-query's own format ${Version} (written \x24 so it is not read as a template).
    const v = await run('dpkg-query', ['-W', '-f', '\x24{Version}', pkg]);
    if (v.code === 0 && v.stdout) versions[pkg] = v.stdout;
  }
  return { missing, versions };
}
