// The preflight: which system tools a use of devnet needs, which are
// missing on this machine, and what to do about it. Pure: the probes (tools
// found, os-release, root or not, whether apt-get exists and the TUN addon
// loads) are passed in, and the result is a plan that preflight/index.ts
// applies (after Tailscale's net/dns: detect from probes, compute, then act).

/** Use is what the tools are needed for. */
export type Use = 'connect' | 'sandbox' | 'demo';

/** Distro is the package family of the machine, from /etc/os-release. */
export type Distro = 'debian' | 'fedora' | 'arch' | 'alpine' | 'suse' | 'unknown';

/** Requirement is one system tool, what needs it, and the package that has it per family. */
export interface Requirement {
  tool: string;
  why: string;
  uses: Use[];
  packages: Record<Exclude<Distro, 'unknown'>, string>;
}

const ALL: Use[] = ['connect', 'sandbox', 'demo'];
const SANDBOX: Use[] = ['sandbox', 'demo'];

/** REQUIREMENTS lists every system tool devnet runs, with its package on each family. */
export const REQUIREMENTS: Requirement[] = [
  {
    tool: 'ip',
    why: 'routes, links and network namespaces',
    uses: ALL,
    packages: { debian: 'iproute2', fedora: 'iproute', arch: 'iproute2', alpine: 'iproute2', suse: 'iproute2' },
  },
  {
    tool: 'nft',
    why: "the sandbox's kube-proxy",
    uses: SANDBOX,
    packages: { debian: 'nftables', fedora: 'nftables', arch: 'nftables', alpine: 'nftables', suse: 'nftables' },
  },
  {
    tool: 'openssl',
    why: "the sandbox API server's certificates",
    uses: SANDBOX,
    packages: { debian: 'openssl', fedora: 'openssl', arch: 'openssl', alpine: 'openssl', suse: 'openssl' },
  },
  {
    tool: 'sysctl',
    why: 'forwarding and pod sysctls in the sandbox',
    uses: SANDBOX,
    packages: { debian: 'procps', fedora: 'procps-ng', arch: 'procps-ng', alpine: 'procps', suse: 'procps' },
  },
  {
    tool: 'nsenter',
    why: 'entering pods (sandbox exec)',
    uses: SANDBOX,
    packages: {
      debian: 'util-linux',
      fedora: 'util-linux',
      arch: 'util-linux',
      alpine: 'util-linux',
      suse: 'util-linux',
    },
  },
  {
    tool: 'setpriv',
    why: "running pods as their securityContext's user",
    uses: SANDBOX,
    packages: { debian: 'util-linux', fedora: 'util-linux', arch: 'util-linux', alpine: 'setpriv', suse: 'util-linux' },
  },
  {
    tool: 'dig',
    why: "probing the sandbox's cluster DNS (sandbox status)",
    uses: SANDBOX,
    packages: { debian: 'dnsutils', fedora: 'bind-utils', arch: 'bind', alpine: 'bind-tools', suse: 'bind-utils' },
  },
  {
    tool: 'curl',
    why: "the demo's HTTP requests",
    uses: ['demo'],
    packages: { debian: 'curl', fedora: 'curl', arch: 'curl', alpine: 'curl', suse: 'curl' },
  },
  {
    tool: 'nc',
    why: "the demo's TCP and UDP echo",
    uses: ['demo'],
    packages: {
      debian: 'netcat-openbsd',
      fedora: 'nmap-ncat',
      arch: 'openbsd-netcat',
      alpine: 'netcat-openbsd',
      suse: 'netcat-openbsd',
    },
  },
];

/** BUILD_REQUIREMENTS are needed only when no prebuilt TUN addon fits and it must be compiled. */
export const BUILD_REQUIREMENTS: Requirement[] = [
  {
    tool: 'python3',
    why: 'building the TUN addon (node-gyp)',
    uses: ['connect', 'demo'],
    packages: { debian: 'python3', fedora: 'python3', arch: 'python', alpine: 'python3', suse: 'python3' },
  },
  {
    tool: 'make',
    why: 'building the TUN addon',
    uses: ['connect', 'demo'],
    packages: { debian: 'make', fedora: 'make', arch: 'make', alpine: 'make', suse: 'make' },
  },
  {
    tool: 'g++',
    why: 'building the TUN addon',
    uses: ['connect', 'demo'],
    packages: { debian: 'g++', fedora: 'gcc-c++', arch: 'gcc', alpine: 'g++', suse: 'gcc-c++' },
  },
];

/** distroOf reads the package family from /etc/os-release (ID, then ID_LIKE). */
export function distroOf(osRelease: string): { distro: Distro; name: string } {
  const field = (k: string) =>
    new RegExp(`^${k}=("?)([^"\\n]*)\\1$`, 'm').exec(osRelease)?.[2]?.toLowerCase().split(/\s+/).filter(Boolean) ?? [];
  const name = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? field('ID')[0] ?? 'this system';
  for (const id of [...field('ID'), ...field('ID_LIKE')]) {
    if (['debian', 'ubuntu'].includes(id)) return { distro: 'debian', name };
    if (['fedora', 'rhel', 'centos', 'rocky', 'almalinux'].includes(id)) return { distro: 'fedora', name };
    if (['arch', 'manjaro'].includes(id)) return { distro: 'arch', name };
    if (id === 'alpine') return { distro: 'alpine', name };
    if (['suse', 'opensuse', 'sles'].includes(id) || id.startsWith('opensuse')) return { distro: 'suse', name };
  }
  return { distro: 'unknown', name };
}

/** installCommand is the exact command that installs packages on a family (argv, without sudo). */
export function installCommand(distro: Distro, packages: string[]): string[] | undefined {
  switch (distro) {
    case 'debian':
      return ['apt-get', 'install', '-y', '--no-install-recommends', ...packages];
    case 'fedora':
      return ['dnf', 'install', '-y', ...packages];
    case 'arch':
      return ['pacman', '-S', '--needed', '--noconfirm', ...packages];
    case 'alpine':
      return ['apk', 'add', ...packages];
    case 'suse':
      return ['zypper', 'install', '-y', ...packages];
    case 'unknown':
      return undefined;
  }
}

/** Probes are what the plan is computed from. */
export interface Probes {
  /** has reports whether a tool is installed (an executable on PATH or in the system's bin folders). */
  has(tool: string): boolean;
  osRelease: string;
  root: boolean;
  /** addonLoads reports whether the TUN addon (prebuilt or built) loads. */
  addonLoads: boolean;
}

/** Plan is what the preflight found and will do. */
export interface Plan {
  use: Use;
  missing: Requirement[];
  /** buildAddon says the TUN addon must be compiled once the tools are there. */
  buildAddon: boolean;
  distro: Distro;
  distroName: string;
  packages: string[];
  /** install is the command to run: as root on Debian/Ubuntu devnet runs it, elsewhere it is printed. */
  install: string[] | undefined;
  /** act: nothing to do; install (root on Debian/Ubuntu); or tell the user and stop. */
  action: 'ok' | 'install' | 'instruct';
  root: boolean;
}

/** planPreflight computes what is missing for a use and what to do about it. */
export function planPreflight(use: Use, p: Probes): Plan {
  const buildAddon = use !== 'sandbox' && !p.addonLoads;
  const wanted = [...REQUIREMENTS, ...(buildAddon ? BUILD_REQUIREMENTS : [])].filter((r) => r.uses.includes(use));
  const missing = wanted.filter((r) => !p.has(r.tool));
  const { distro, name } = distroOf(p.osRelease);
  const packages = distro === 'unknown' ? [] : [...new Set(missing.map((r) => r.packages[distro]))];
  const install = packages.length > 0 ? installCommand(distro, packages) : undefined;
  let action: Plan['action'] = 'ok';
  if (missing.length > 0) action = distro === 'debian' && p.root && p.has('apt-get') ? 'install' : 'instruct';
  else if (buildAddon) action = 'install';
  return { use, missing, buildAddon, distro, distroName: name, packages, install, action, root: p.root };
}

/** describeMissing names every missing tool with what needs it and its package. */
export function describeMissing(plan: Plan): string {
  return plan.missing
    .map(
      (r) =>
        `  ${r.tool.padEnd(8)} for ${r.why}${plan.distro === 'unknown' ? '' : ` (package ${r.packages[plan.distro as Exclude<Distro, 'unknown'>]})`}`,
    )
    .join('\n');
}

/** instructions is the message for a plan devnet will not carry out itself: what is missing and the exact command. */
export function instructions(plan: Plan): { message: string; hint: string } {
  const label = { demo: 'the demo', sandbox: 'the sandbox', connect: 'devnet connect' }[plan.use];
  const what = `${label} needs tools this machine lacks:\n${describeMissing(plan)}`;
  if (!plan.install) {
    return {
      message: what,
      hint: `Install them with ${plan.distroName}'s package manager, then run this again.`,
    };
  }
  const sudo = plan.root ? '' : 'sudo ';
  const command = `${sudo}${plan.install.join(' ')}`;
  const rerun =
    plan.distro === 'debian' && !plan.root
      ? ' (or run this as root: devnet installs them itself on Debian and Ubuntu)'
      : '';
  return { message: what, hint: `Install them: ${command}${rerun}. Nothing was changed.` };
}
