import test from 'ava';
import { distroOf, instructions, planPreflight } from './plan.ts';

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n';
const UBUNTU = 'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n';
const MINT = 'PRETTY_NAME="Linux Mint 21"\nID=linuxmint\nID_LIKE="ubuntu debian"\n';
const FEDORA = 'PRETTY_NAME="Fedora Linux 40"\nID=fedora\n';
const GENTOO = 'PRETTY_NAME="Gentoo Linux"\nID=gentoo\n';

const without =
  (...missing: string[]) =>
  (tool: string) =>
    !missing.includes(tool);

test('distroOf reads ID, then ID_LIKE', (t) => {
  t.is(distroOf(DEBIAN).distro, 'debian');
  t.is(distroOf(UBUNTU).distro, 'debian');
  t.is(distroOf(MINT).distro, 'debian');
  t.is(distroOf(FEDORA).distro, 'fedora');
  t.deepEqual(distroOf(GENTOO), { distro: 'unknown', name: 'Gentoo Linux' });
  t.is(distroOf('').distro, 'unknown');
});

test('everything there: nothing to do', (t) => {
  const plan = planPreflight('demo', { has: () => true, osRelease: DEBIAN, root: true, addonLoads: true });
  t.is(plan.action, 'ok');
  t.deepEqual(plan.missing, []);
});

test('root on Debian: install the missing packages with --no-install-recommends, each package once', (t) => {
  const plan = planPreflight('demo', {
    has: without('nft', 'curl', 'nsenter', 'setpriv'),
    osRelease: DEBIAN,
    root: true,
    addonLoads: true,
  });
  t.is(plan.action, 'install');
  t.deepEqual(
    plan.missing.map((r) => r.tool),
    ['nft', 'nsenter', 'setpriv', 'curl'],
  );
  t.deepEqual(plan.install, ['apt-get', 'install', '-y', '--no-install-recommends', 'nftables', 'util-linux', 'curl']);
});

test('not root on Ubuntu: the exact sudo command, and nothing changed', (t) => {
  const plan = planPreflight('sandbox', { has: without('nft'), osRelease: UBUNTU, root: false, addonLoads: true });
  t.is(plan.action, 'instruct');
  const { message, hint } = instructions(plan);
  t.regex(message, /nft\s+for the sandbox's kube-proxy \(package nftables\)/);
  t.is(
    hint,
    'Install them: sudo apt-get install -y --no-install-recommends nftables (or run this as root: devnet installs them itself on Debian and Ubuntu). Nothing was changed.',
  );
});

test('root elsewhere (Fedora): the dnf command, never an install', (t) => {
  const plan = planPreflight('demo', { has: without('nc', 'dig'), osRelease: FEDORA, root: true, addonLoads: true });
  t.is(plan.action, 'instruct');
  t.is(instructions(plan).hint, 'Install them: dnf install -y bind-utils nmap-ncat. Nothing was changed.');
});

test('an unknown distribution: the tools by name', (t) => {
  const plan = planPreflight('demo', { has: without('ip'), osRelease: GENTOO, root: true, addonLoads: true });
  t.is(plan.action, 'instruct');
  t.regex(instructions(plan).message, /^ {2}ip +for routes, links and network namespaces$/m);
  t.regex(instructions(plan).hint, /Gentoo Linux's package manager/);
});

test('Debian without apt-get (a stripped image): instruct, do not try', (t) => {
  const plan = planPreflight('demo', {
    has: without('curl', 'apt-get'),
    osRelease: DEBIAN,
    root: true,
    addonLoads: true,
  });
  t.is(plan.action, 'instruct');
});

test('no TUN addon: connect and the demo need the compilers and a build; the sandbox does not', (t) => {
  const probes = { has: without('g++', 'make'), osRelease: DEBIAN, root: true, addonLoads: false };
  const demo = planPreflight('demo', probes);
  t.true(demo.buildAddon);
  t.deepEqual(demo.packages, ['make', 'g++']);
  t.is(demo.action, 'install');
  const sandbox = planPreflight('sandbox', probes);
  t.false(sandbox.buildAddon);
  t.is(sandbox.action, 'ok');
  const built = planPreflight('connect', { ...probes, has: () => true });
  t.is(built.action, 'install', 'only the build is left to do');
  t.deepEqual(built.missing, []);
});
