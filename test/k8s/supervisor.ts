// The node's supervisor: started by `k8s:up` inside the node's network
// namespace and a mount namespace of its own (nsenter + unshare), it gives
// the node a view of its own, starts the control plane and node programs in
// order, restarts one that exits, and stops them all on SIGTERM.
//
// The mount view: /sys is remounted so it shows the node's interfaces, and
// the host's cgroup hierarchies are mounted again under it (a fresh sysfs
// has none); / becomes rshared, as kubelet volume mounts expect; the fixed
// paths containerd and CNI write to (/run/containerd for shim sockets,
// /var/lib/cni for CNI's cache, /var/log/containers for kubelet's links) get
// private tmpfs mounts. Nothing mounted here propagates to the host, and all
// of it disappears with the last process of the namespace.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { type Program, programs } from './configs.ts';
import { API_PORT, PRIVATE_DIRS, paths } from './layout.ts';

const p = paths();
const bin = process.argv[2];
if (!bin) {
  console.error('usage: supervisor.ts BIN_DIR');
  process.exit(2);
}
const log = (msg: string) => console.log(`${new Date().toISOString()} ${msg}`);

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** cgroupMounts lists the host's cgroup mounts under /sys/fs/cgroup: [type, options, mountpoint]. */
function cgroupMounts(): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, target, type, opts] = line.split(' ');
    if (!target?.startsWith('/sys/fs/cgroup/') || (type !== 'cgroup' && type !== 'cgroup2')) continue;
    const keep = (opts ?? '')
      .split(',')
      .filter((o) => !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec'].includes(o));
    out.push([type, keep.join(',') || 'none', target]);
  }
  return out;
}

function setupMounts(): void {
  const cgroups = cgroupMounts();
  mount(['--make-rprivate', '/']);
  execFileSync('umount', ['-l', '/sys']);
  mount(['-t', 'sysfs', 'sysfs', '/sys']);
  mount(['-t', 'tmpfs', '-o', 'mode=755', 'cgroup', '/sys/fs/cgroup']);
  for (const [type, opts, target] of cgroups) {
    execFileSync('mkdir', ['-p', target]);
    mount(type === 'cgroup2' ? ['-t', type, 'cgroup2', target] : ['-t', type, '-o', opts, 'cgroup', target]);
  }
  for (const dir of PRIVATE_DIRS) if (existsSync(dir)) mount(['-t', 'tmpfs', '-o', 'mode=755', 'devnet-k8s', dir]);
  // The node's own resolver: an address it has no route to, so a lookup by containerd (an image
  // pull nobody should attempt) or by CoreDNS's upstream fails at once and never reaches the host's DNS.
  mount(['--bind', join(p.config, 'node-resolv.conf'), '/etc/resolv.conf']);
  mount(['--make-rshared', '/']);
}

/** ready waits until a program serves. */
async function ready(prog: Program, until: number): Promise<void> {
  const r = prog.ready;
  if (!r) return;
  while (Date.now() < until) {
    if (r.socket && (await socketAnswers(r.socket))) return;
    if (r.url && (await urlAnswers(r.url))) return;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`${prog.name} did not become ready (see ${join(p.logs, `${prog.name}.log`)})`);
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function urlAnswers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const tls = url.startsWith('https:');
    const opts = tls
      ? {
          ca: readFileSync(join(p.pki, 'ca.crt')),
          cert: readFileSync(join(p.pki, 'admin.crt')),
          key: readFileSync(join(p.pki, 'admin.key')),
        }
      : {};
    const get = tls ? httpsRequest : httpRequest;
    const req = get(url, { ...opts, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

interface Running {
  prog: Program;
  child: ChildProcess;
  restarts: number[];
}

const running = new Map<string, Running>();
let stopping = false;

function start(prog: Program, restarts: number[] = []): void {
  const out = createWriteStream(join(p.logs, `${prog.name}.log`), { flags: 'a' });
  const [cmd, ...args] = prog.argv as [string, ...string[]];
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: p.state },
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const entry: Running = { prog, child, restarts };
  running.set(prog.name, entry);
  log(`started ${prog.name} (pid ${child.pid})`);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    log(`${prog.name} exited (${signal ?? code})`);
    const now = Date.now();
    const recent = entry.restarts.filter((t) => now - t < 60_000);
    if (recent.length >= 5) {
      log(`${prog.name} exited 5 times within a minute; not restarting it`);
      return;
    }
    setTimeout(() => start(prog, [...recent, now]), 1000);
  });
}

async function stopAll(): Promise<void> {
  stopping = true;
  const order = [...running.values()].reverse();
  for (const r of order) {
    if (r.child.exitCode !== null || r.child.signalCode !== null) continue;
    const gone = new Promise((res) => r.child.once('exit', res));
    r.child.kill('SIGTERM');
    const t = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
    log(`stopped ${r.prog.name}`);
  }
}

async function main(): Promise<void> {
  setupMounts();
  writeFileSync(join(p.run, 'supervisor.ready'), '');
  process.on('SIGTERM', () => {
    void stopAll().then(() => process.exit(0));
  });
  for (const prog of programs(p, bin as string)) {
    start(prog);
    await ready(prog, Date.now() + 120_000);
    log(`${prog.name} ready`);
  }
  writeFileSync(join(p.run, 'supervisor.started'), `${API_PORT}\n`);
  log('all programs started');
}

main().catch((err: Error) => {
  log(`supervisor failed: ${err.message}`);
  void stopAll().then(() => process.exit(1));
});
