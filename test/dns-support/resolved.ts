// A real systemd-resolved for the DNS tests, confined to a test network
// namespace: Debian's binary is unpacked from its .deb (never installed: the
// package's postinst would rewrite the machine's /etc/resolv.conf), and runs
// in a private mount namespace (its own /run/systemd from a test directory,
// an /etc/passwd with the systemd-resolve user) on its own dbus-daemon. resolvectl reaches it through
// DBUS_SYSTEM_BUS_ADDRESS. Its only upstream is the given fake server.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { Exec } from '../../src/dns/os/types.ts';
import type { Netns } from '../support/netns.ts';

const execFileP = promisify(execFile);

/** RESOLVED_UID is the uid given to systemd-resolve in the private /etc/passwd. */
const RESOLVED_UID = 990;

/**
 * fetchResolved unpacks the systemd-resolved built with the installed
 * libsystemd-shared (.ci/apt-packages installs it, with dbus-daemon) into a
 * cache directory and returns the directory.
 */
export async function fetchResolved(): Promise<string> {
  // `dpkg-query -W PKG` prints "PKG<TAB>VERSION" (the arch may follow the name).
  const { stdout } = await execFileP('dpkg-query', ['-W', 'libsystemd-shared']).catch(() => ({ stdout: '' }));
  const version = stdout.trim().split('\t')[1] ?? '';
  if (!version) throw new Error('libsystemd-shared is not installed (apt-get install libsystemd-shared dbus-daemon)');
  const root = `/tmp/devnet-test-resolved-${version.replace(/[^\w.+-]/g, '_')}`;
  const binary = `${root}/root/lib/systemd/systemd-resolved`;
  if (
    await readFile(binary).then(
      () => true,
      () => false,
    )
  )
    return root;
  await mkdir(root, { recursive: true });
  await execFileP('apt-get', ['download', `systemd-resolved=${version}`], { cwd: root });
  const deb = (await readdir(root)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download systemd-resolved gave no .deb');
  await execFileP('dpkg', ['-x', `${root}/${deb}`, `${root}/root`]);
  return root;
}

/** Resolved is a running confined systemd-resolved. */
export interface Resolved {
  /** resolvectl is the argv prefix that runs resolvectl against it, inside the namespace. */
  resolvectl: string[];
  /** stubResolvConf is resolved's stub-resolv.conf (with the links' search domains), as /etc/resolv.conf links to on such machines. */
  stubResolvConf: string;
  /** exec runs argv, mapping `resolvectl` to this instance (an Exec for the configurator). */
  exec: Exec;
  stop(): Promise<void>;
}

/** startResolved runs systemd-resolved in ns with `upstream` as its only DNS server; dir holds its bus and files. */
export async function startResolved(ns: Netns, root: string, dir: string, upstream: string): Promise<Resolved> {
  await mkdir(dir, { recursive: true });
  const passwd = `${await readFile('/etc/passwd', 'utf8')}systemd-resolve:x:${RESOLVED_UID}:${RESOLVED_UID}::/:/usr/sbin/nologin\n`;
  const group = `${await readFile('/etc/group', 'utf8')}systemd-resolve:x:${RESOLVED_UID}:\n`;
  await writeFile(`${dir}/passwd`, passwd);
  await writeFile(`${dir}/group`, group);
  await writeFile(
    `${dir}/bus.conf`,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${dir}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`,
  );
  await writeFile(
    `${dir}/run.sh`,
    `set -e
mount --bind ${dir}/passwd /etc/passwd
mount --bind ${dir}/group /etc/group
mkdir -p ${dir}/run
mount --bind ${dir}/run /run/systemd
mkdir -p /run/systemd/resolve /run/systemd/resolved.conf.d
chown ${RESOLVED_UID}:${RESOLVED_UID} /run/systemd/resolve
printf '[Resolve]\\nDNS=${upstream}\\nFallbackDNS=\\nLLMNR=no\\nMulticastDNS=no\\nDNSSEC=no\\nDNSOverTLS=no\\n' > /run/systemd/resolved.conf.d/devnet-test.conf
rm -f ${dir}/bus
dbus-daemon --config-file=${dir}/bus.conf --nofork --nopidfile &
for i in $(seq 50); do [ -S ${dir}/bus ] && break; sleep 0.1; done
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=${dir}/bus SYSTEMD_LOG_TARGET=console
exec ${root}/root/lib/systemd/systemd-resolved
`,
  );
  // `unshare -m` keeps the mounts private to this process tree; dbus-daemon dies with it (same session, killed below).
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', ns.name, 'unshare', '-m', '--propagation', 'private', '--kill-child', 'bash', `${dir}/run.sh`],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let log = '';
  child.stderr?.on('data', (d) => {
    log += d;
  });
  const resolvectl = [
    'ip',
    'netns',
    'exec',
    ns.name,
    'env',
    `DBUS_SYSTEM_BUS_ADDRESS=unix:path=${dir}/bus`,
    `${root}/root/usr/bin/resolvectl`,
  ];
  const exec: Exec = async (argv) => {
    const [cmd, ...args] = argv[0] === 'resolvectl' ? [...resolvectl, ...argv.slice(1)] : argv;
    try {
      const { stdout } = await execFileP(cmd as string, args, { encoding: 'utf8', timeout: 10_000 });
      return { stdout };
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${argv.join(' ')}: ${e.stderr?.trim() || e.message}`);
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((done) => child.once('exit', done));
      process.kill(-child.pid, 'SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      await exec(['resolvectl', 'status']);
      return { resolvectl, exec, stop, stubResolvConf: `${dir}/run/resolve/stub-resolv.conf` };
    } catch (err) {
      if (i >= 50 || child.exitCode !== null) {
        await stop();
        throw new Error(`systemd-resolved did not start: ${(err as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
