// The root helper as a security boundary (docs/security.md, "a local
// unprivileged user"): an unprivileged user — allowed to run `sudo devnet
// connect` and nothing else — talks to the helper's socket directly, as a
// hostile daemon would, and plants symlinks where root works. Each attack is
// refused with a clear message and the host (routes, links, resolv.conf, the
// symlinks' targets) stays exactly as it was. Everything runs in a test
// network namespace as a uid with no passwd entry.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { helperArgv } from '../src/cli/launch.ts';
import { devnetPaths } from '../src/control/paths.ts';
import { loadAddon } from '../src/tun/addon.ts';
import { run } from './support/e2e.ts';
import { asUser, freeUid } from './support/local-user.ts';
import { deleteAllNetns, Netns } from './support/netns.ts';
import { rootTest } from './support/root.ts';

const ROOT = resolve(import.meta.dirname, '..');
const peer = join(ROOT, 'test/support/control-peer.ts');
const BIN = join(ROOT, 'bin/devnet.mjs');
const ORIGINAL_RESOLV = '# the laptop before devnet\nnameserver 192.0.2.53\nsearch corp.example\n';

test.after.always(deleteAllNetns);

/** World is one attack's namespace, directories and (optionally) running helper. */
interface World {
  ns: Netns;
  uid: number;
  dir: string;
  runDir: string;
  stateDir: string;
  userDir: string;
  resolvConf: string;
  helper?: ChildProcess;
}

async function world(tag: string): Promise<World> {
  const ns = await Netns.create(tag);
  const uid = freeUid();
  const dir = mkdtempSync(join(tmpdir(), 'devnet-adv-'));
  chmodSync(dir, 0o755);
  const runDir = join(dir, 'run');
  const stateDir = join(dir, 'state');
  mkdirSync(runDir, { mode: 0o755 });
  mkdirSync(stateDir, { mode: 0o700 });
  const userDir = join(runDir, `user-${uid}`);
  mkdirSync(userDir, { mode: 0o700 });
  chownSync(userDir, uid, uid);
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, ORIGINAL_RESOLV, { mode: 0o644 });
  return { ns, uid, dir, runDir, stateDir, userDir, resolvConf };
}

/** startHelper starts the helper exactly as `sudo devnet connect` would for this user (launch.ts helperArgv). */
async function startHelper(w: World, allowConflicts: string[] = []): Promise<void> {
  const paths = devnetPaths(w.uid, { DEVNET_RUN_DIR: w.runDir, DEVNET_STATE_DIR: w.stateDir });
  const argv = helperArgv({ uid: w.uid, gid: w.uid, home: '/nonexistent' }, paths, { allowConflicts });
  const child = spawn('ip', ['netns', 'exec', w.ns.name, process.execPath, ...argv, '--resolv-conf', w.resolvConf], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  w.helper = child;
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout }).once('line', res);
    child.once('exit', (code) => rej(new Error(`helper exited ${code}`)));
  });
  if (!JSON.parse(line).ready) throw new Error(`helper did not start: ${line}`);
}

async function stop(w: World): Promise<void> {
  if (w.helper && w.helper.exitCode === null) {
    const exited = new Promise((r) => w.helper?.once('exit', r));
    w.helper.kill('SIGTERM');
    await exited;
  }
  await w.ns.delete();
  rmSync(w.dir, { recursive: true, force: true });
}

interface PeerResult {
  responses: { id: number | null; result?: unknown; error?: { message: string; category: string; hint?: string } }[];
  routes: string;
  links: string;
  gotFd: boolean;
}

/** attack sends requests to the helper's socket as the unprivileged user (holding a TUN it is sent, if any). */
async function attack(w: World, requests: { method: string; params: unknown }[], fdSocket = '-') {
  const r = await asUser(w.ns, w.uid, process.execPath, [
    peer,
    join(w.runDir, 'helper.sock'),
    fdSocket,
    JSON.stringify(requests),
  ]);
  if (r.code !== 0) throw new Error(`control peer failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PeerResult;
}

/** rootSocketVisits listens on a root-only socket for timeoutMs: 'nothing' unless someone connected to it. */
function rootSocketVisits(path: string, timeoutMs: number): Promise<string> {
  return new Promise((res) =>
    loadAddon().receiveFd(path, timeoutMs, (err, fd) => {
      if (fd !== undefined) loadAddon().closeFd(fd);
      res(
        err && /ETIMEDOUT|timed out/i.test(`${err.message} ${(err as NodeJS.ErrnoException).code}`)
          ? 'nothing'
          : 'a connection',
      );
    }),
  );
}

async function hostRoutes(ns: Netns): Promise<string> {
  return (await ns.ip('route')) + (await ns.ip('-6', 'route'));
}

const openTun = (w: World, routes: string[], fdSocket = join(w.userDir, 'tun-fd.sock')) => ({
  method: 'openTun',
  params: { name: 'devnet0', mtu: 65520, routes: routes.map((dst) => ({ dst })), fdSocket },
});

rootTest(
  'a hostile daemon asking for 0.0.0.0/1 + 128.0.0.0/1 (every address) is refused; no route changes',
  async (t) => {
    const w = await world('adv-route');
    try {
      await startHelper(w);
      const before = await hostRoutes(w.ns);
      const r = await attack(
        w,
        [{ method: 'hello', params: null }, openTun(w, ['0.0.0.0/1', '128.0.0.0/1'])],
        join(w.userDir, 'tun-fd.sock'),
      );
      const refusal = r.responses[1]?.error;
      t.truthy(refusal, `openTun was accepted: ${JSON.stringify(r.responses[1])}`);
      t.regex(refusal?.message ?? '', /0\.0\.0\.0\/1: it is broader than \/8/);
      t.false(r.gotFd);
      t.is(r.routes, before, 'the routes while the attacker held whatever it was sent');
      t.notRegex(r.links, /devnet0/);
      t.is(await hostRoutes(w.ns), before);
    } finally {
      await stop(w);
    }
  },
);

rootTest(
  'routes that are a default route, reserved, or overlap a host route are refused in the helper itself',
  async (t) => {
    const w = await world('adv-overlap');
    try {
      await w.ns.ip('tuntap', 'add', 'dev', 'lan0', 'mode', 'tun');
      await w.ns.ip('link', 'set', 'lan0', 'up');
      await w.ns.ip('route', 'add', '10.0.0.0/8', 'dev', 'lan0');
      await startHelper(w);
      const before = await hostRoutes(w.ns);
      const cases: [string, RegExp][] = [
        ['0.0.0.0/0', /default route/],
        ['::/0', /default route/],
        ['10.1.0.0/16', /overlaps the route "10\.0\.0\.0\/8 dev lan0"/],
        ['127.0.0.0/8', /reserved/],
        ['169.254.0.0/16', /reserved/],
        ['not-a-cidr', /not a CIDR/],
      ];
      // One hostile connection tries them all (the helper serves one daemon connection per session).
      const r = await attack(
        w,
        [{ method: 'hello', params: null }, ...cases.map(([dst]) => openTun(w, [dst]))],
        join(w.userDir, 'tun-fd.sock'),
      );
      cases.forEach(([dst, why], i) => {
        const answer = r.responses[i + 1];
        t.regex(answer?.error?.message ?? `accepted: ${JSON.stringify(answer)}`, why, dst);
      });
      t.regex(r.responses[3]?.error?.hint ?? '', /sudo devnet connect --allow-conflict 10\.1\.0\.0\/16/);
      t.false(r.gotFd);
      t.is(r.routes, before);
      t.is(await hostRoutes(w.ns), before);
    } finally {
      await stop(w);
    }
  },
);

rootTest(
  "only the user's own --allow-conflict, given to the helper by root, lets a route overlap a host route",
  async (t) => {
    const w = await world('adv-allow');
    try {
      await w.ns.ip('tuntap', 'add', 'dev', 'lan0', 'mode', 'tun');
      await w.ns.ip('link', 'set', 'lan0', 'up');
      await w.ns.ip('route', 'add', '10.0.0.0/8', 'dev', 'lan0');
      await startHelper(w, ['10.1.0.0/16']);
      const ok = await attack(
        w,
        [{ method: 'hello', params: null }, openTun(w, ['10.1.0.0/16', '10.2.0.0/16']), openTun(w, ['10.1.0.0/16'])],
        join(w.userDir, 'tun-fd.sock'),
      );
      t.regex(
        ok.responses[1]?.error?.message ?? 'accepted',
        /10\.2\.0\.0\/16: it overlaps the route "10\.0\.0\.0\/8 dev lan0"/,
      );
      t.deepEqual(ok.responses[2], { id: 3, result: { name: 'devnet0' } });
      t.true(ok.gotFd);
      t.regex(ok.routes, /10\.1\.0\.0\/16 dev devnet0/);
      t.regex(ok.routes, /198\.18\.0\.2 dev devnet0/);
    } finally {
      await stop(w);
    }
  },
);

rootTest('a nameserver or search domain carrying a newline is refused; resolv.conf stays byte for byte', async (t) => {
  const w = await world('adv-dns');
  try {
    await startHelper(w);
    const dnsSet = (nameserver: string, search: string) => ({
      method: 'dnsSet',
      params: {
        config: { nameservers: [{ address: nameserver, port: 53 }], searchDomains: [search], matchDomains: [] },
      },
    });
    const r = await attack(w, [
      { method: 'hello', params: null },
      { method: 'dnsBaseConfig', params: { mode: 'resolvconf' } },
      dnsSet('198.18.0.2\nnameserver 203.0.113.66', 'default.svc.cluster.local'),
      dnsSet('198.18.0.2', 'default.svc.cluster.local\noptions ndots:15'),
      dnsSet('203.0.113.66', 'default.svc.cluster.local'),
    ]);
    t.regex(r.responses[2]?.error?.message ?? 'accepted', /nameservers.*IP address/);
    t.regex(r.responses[3]?.error?.message ?? 'accepted', /searchDomains.*DNS name/);
    t.regex(r.responses[4]?.error?.message ?? 'accepted', /203\.0\.113\.66 is not devnet's DNS server 198\.18\.0\.2/);
    t.is(readFileSync(w.resolvConf, 'utf8'), ORIGINAL_RESOLV);
  } finally {
    await stop(w);
  }
});

rootTest(
  'a forged fdSocket never gets the TUN: not a path outside the user folder, not a symlink planted in it',
  async (t) => {
    const w = await world('adv-fd');
    try {
      await startHelper(w);
      // A socket only root may use, standing for any privileged service on the machine.
      const rootOnly = join(w.dir, 'root-only');
      mkdirSync(rootOnly, { mode: 0o700 });
      const target = join(rootOnly, 'service.sock');
      const got = rootSocketVisits(target, 6000);
      const before = await hostRoutes(w.ns);
      const planted = await asUser(w.ns, w.uid, 'ln', ['-s', target, join(w.userDir, 'tun-fd.sock')]);
      t.is(planted.code, 0, planted.stderr);
      const r = await attack(w, [
        { method: 'hello', params: null },
        openTun(w, ['10.96.0.0/12'], target),
        openTun(w, ['10.96.0.0/12']),
      ]);
      t.regex(r.responses[1]?.error?.message ?? 'accepted', /fdSocket .* is not the socket the helper chose/);
      t.regex(r.responses[2]?.error?.message ?? 'accepted', /tun-fd\.sock is a symbolic link/);
      t.is(await got, 'nothing');
      t.is(await hostRoutes(w.ns), before);
      t.notRegex(await w.ns.ip('-o', 'link'), /devnet0/);
    } finally {
      await stop(w);
    }
  },
);

rootTest('sudo devnet connect with a planted daemon.log symlink refuses and leaves the target untouched', async (t) => {
  const w = await world('adv-log');
  try {
    const rootOnly = join(w.dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    const existing = join(rootOnly, 'passwd');
    writeFileSync(existing, 'root:x:0:0::/root:/bin/sh\n', { mode: 0o644 });
    const env = {
      ...process.env,
      SUDO_UID: String(w.uid),
      SUDO_GID: String(w.uid),
      DEVNET_RUN_DIR: w.runDir,
      DEVNET_STATE_DIR: w.stateDir,
      KUBECONFIG: join(w.dir, 'no-kubeconfig'),
      NO_COLOR: '1',
    };
    for (const target of [join(rootOnly, 'created-by-root'), existing]) {
      rmSync(join(w.userDir, 'daemon.log'), { force: true });
      const planted = await asUser(w.ns, w.uid, 'ln', ['-s', target, join(w.userDir, 'daemon.log')]);
      t.is(planted.code, 0, planted.stderr);
      const r = await run('ip', ['netns', 'exec', w.ns.name, process.execPath, BIN, 'connect'], env, 60_000);
      t.not(r.code, 0);
      t.regex(r.stderr, /daemon\.log is a symbolic link/, target);
    }
    t.false(existsSync(join(rootOnly, 'created-by-root')));
    t.is(readFileSync(existing, 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
  } finally {
    await stop(w);
  }
});

rootTest('devnet run as root never connects to a daemon.sock the user pointed elsewhere', async (t) => {
  const w = await world('adv-sock');
  try {
    const rootOnly = join(w.dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
    const target = join(rootOnly, 'service.sock');
    const got = rootSocketVisits(target, 6000);
    const planted = await asUser(w.ns, w.uid, 'ln', ['-s', target, join(w.userDir, 'daemon.sock')]);
    t.is(planted.code, 0, planted.stderr);
    const env = {
      ...process.env,
      SUDO_UID: String(w.uid),
      SUDO_GID: String(w.uid),
      DEVNET_RUN_DIR: w.runDir,
      DEVNET_STATE_DIR: w.stateDir,
      NO_COLOR: '1',
    };
    const r = await run('ip', ['netns', 'exec', w.ns.name, process.execPath, BIN, 'status'], env, 60_000);
    t.regex(r.stderr + r.stdout, /daemon\.sock is a symbolic link; devnet, running as root, will not use it/);
    t.is(await got, 'nothing');
  } finally {
    await stop(w);
  }
});

rootTest(
  'a run folder the user controls (an override kept by a lax sudoers rule) is refused before root uses it',
  async (t) => {
    const w = await world('adv-rundir');
    try {
      const theirs = join(w.dir, 'theirs');
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, w.uid, w.uid);
      const env = {
        ...process.env,
        SUDO_UID: String(w.uid),
        SUDO_GID: String(w.uid),
        DEVNET_RUN_DIR: join(theirs, 'run'),
        DEVNET_STATE_DIR: w.stateDir,
        KUBECONFIG: join(w.dir, 'no-kubeconfig'),
        NO_COLOR: '1',
      };
      const r = await run('ip', ['netns', 'exec', w.ns.name, process.execPath, BIN, 'connect'], env, 60_000);
      t.is(r.code, 3, r.stderr);
      t.regex(r.stderr, /devnet's run folder .* is not safe for root: .*theirs belongs to uid/);
      t.false(existsSync(join(theirs, 'run')));
    } finally {
      await stop(w);
    }
  },
);
