// devnet against a real systemd-resolved (Debian's binary, confined to a test
// namespace with its own D-Bus: see dns-support/resolved.ts). The laptop
// namespace runs resolved with a fake internet DNS as its only upstream and a
// link `dnsr0` standing in for devnet's TUN; devnet's server sits at the far
// end of that link, in a "cluster side" namespace with the cluster DNS
// stand-in. getent (through resolved's stub at 127.0.0.53) must resolve
// cluster names by split DNS, every other name as before, and `quit` or
// kill -9 + recover() must leave the link's resolved state as it was.
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { execArgv } from '../src/helper/exec.ts';
import { isOwnerAlive } from '../src/helper/process.linux.ts';
import { recover } from '../src/journal/journal.ts';
import { machineUndoEnv } from '../src/journal/machine.ts';
import { killAllRoles, startRole, stopRole } from './dns-support/children.ts';
import { HELLO_IP, INTERNET, OTHER_HELLO_IP } from './dns-support/fixture.ts';
import { fetchResolved, type Resolved, startResolved } from './dns-support/resolved.ts';
import { deleteAllNetns, Netns, sh } from './support/netns.ts';
import { rootTest } from './support/root.ts';

const LINK = 'dnsr0';
const DEVNET_IP = '10.99.0.2';

let laptop: Netns | undefined;
let cluster: Netns | undefined;
let resolved: Resolved | undefined;
let etcDir = '';
let workDir = '';

test.after.always(async () => {
  killAllRoles();
  await resolved?.stop();
  if (etcDir) await rm(etcDir, { recursive: true, force: true });
  if (workDir) await rm(workDir, { recursive: true, force: true });
  await deleteAllNetns();
});

async function setup(): Promise<{ l: Netns; r: Resolved; journal: string; devnetArgs: object }> {
  if (!laptop || !cluster || !resolved) {
    const root = await fetchResolved();
    laptop = await Netns.create('rsl');
    cluster = await Netns.create('rsc');
    // The link devnet's TUN would be: laptop dnsr0 10.99.0.1 ↔ cluster side 10.99.0.2.
    await sh('ip', [
      '-n',
      laptop.name,
      'link',
      'add',
      LINK,
      'type',
      'veth',
      'peer',
      'name',
      'dnsr1',
      'netns',
      cluster.name,
    ]);
    await laptop.ip('addr', 'add', '10.99.0.1/30', 'dev', LINK);
    await cluster.ip('addr', 'add', `${DEVNET_IP}/30`, 'dev', 'dnsr1');
    await laptop.ip('link', 'set', LINK, 'up');
    await cluster.ip('link', 'set', 'dnsr1', 'up');
    for (const ip of ['10.96.0.10', HELLO_IP, OTHER_HELLO_IP, '192.0.2.53'])
      await cluster.ip('addr', 'add', `${ip}/32`, 'dev', 'lo');
    // The fake internet lives on the cluster side too; the laptop reaches it through the link.
    await laptop.ip('route', 'add', '192.0.2.53/32', 'via', DEVNET_IP);
    etcDir = `/etc/netns/${laptop.name}`;
    await mkdir(etcDir, { recursive: true });
    workDir = `/tmp/devnet-dns-resolved-${process.pid}`;
    await mkdir(workDir, { recursive: true });
    await startRole(cluster, { role: 'peers', journalPath: '' });
    resolved = await startResolved(laptop, root, `${workDir}/resolved`, '192.0.2.53');
    // As on a systemd-resolved machine, /etc/resolv.conf is a symlink to resolved's stub file
    // (nameserver 127.0.0.53 and the links' search domains); `ip netns exec` binds its target.
    await symlink(resolved.stubResolvConf, `${etcDir}/resolv.conf`);
  }
  const journal = `${workDir}/journal.jsonl`;
  return {
    l: laptop,
    r: resolved,
    journal,
    devnetArgs: {
      role: 'devnet',
      journalPath: journal,
      link: LINK,
      resolvectl: resolved.resolvectl,
      listen: DEVNET_IP,
    },
  };
}

const getent = (n: Netns, name: string) =>
  n.exec('getent', ['hosts', name]).then((s) => s.trim().replace(/[ \t]+/g, ' '));
const linkState = async (r: Resolved) =>
  (await r.exec(['resolvectl', 'status', LINK])).stdout.replace(/Current Scopes:.*\n/, '');

rootTest(
  'systemd-resolved: cluster names by split DNS, other names as before, quit restores the link',
  async (t: ExecutionContext) => {
    const { l, r, devnetArgs } = await setup();
    const before = await linkState(r);
    t.is(await getent(l, 'www.example.com'), `${INTERNET['www.example.com']} www.example.com`);

    const devnet = await startRole(cluster as Netns, devnetArgs);
    t.teardown(() => void (devnet.exitCode === null && devnet.kill('SIGKILL')));
    const domains = (await r.exec(['resolvectl', 'domain', LINK])).stdout;
    t.regex(domains, /~hello\.demo/);
    t.regex(domains, /demo\.svc\.cluster\.local/);
    t.notRegex(domains, /~dev(\s|$)/, 'namespace dev must not route the .dev TLD');

    t.regex(await getent(l, 'hello.demo'), new RegExp(`^${HELLO_IP.replaceAll('.', '\\.')} `));
    t.regex(await getent(l, 'hello'), new RegExp(`^${HELLO_IP.replaceAll('.', '\\.')} `));
    t.regex(await getent(l, 'hello.other'), new RegExp(`^${OTHER_HELLO_IP.replaceAll('.', '\\.')} `));
    t.regex(await getent(l, 'db-0.db.demo.svc.cluster.local'), /^10\.244\.1\.10 /);
    t.is(
      (await l.exec('dig', ['+short', '+time=2', '+tries=1', '-x', HELLO_IP])).trim(),
      'hello.demo.svc.cluster.local.',
    );
    t.is(await getent(l, 'example.dev'), `${INTERNET['example.dev']} example.dev`);
    t.is(await getent(l, 'www.example.com'), `${INTERNET['www.example.com']} www.example.com`);

    await stopRole(devnet, 'SIGTERM');
    t.is(await linkState(r), before, 'quit leaves the link as it was');
    await rm(`${workDir}/journal.jsonl`, { force: true });
  },
);

rootTest(
  'systemd-resolved: after kill -9, recover() replays `resolvectl revert` and the link is as before',
  async (t: ExecutionContext) => {
    const { r, journal, devnetArgs } = await setup();
    const before = await linkState(r);
    await rm(journal, { force: true }); // whatever an earlier failed test left
    const devnet = await startRole(cluster as Netns, devnetArgs);
    t.not(await linkState(r), before);
    await stopRole(devnet, 'SIGKILL');
    t.not(await linkState(r), before, 'a crash leaves the change behind');
    const env = {
      ...machineUndoEnv,
      exec: (argv: readonly string[]) =>
        execArgv(argv[0] === 'resolvectl' ? [...r.resolvectl, ...argv.slice(1)] : argv),
      writeFile: (path: string, data: Uint8Array) => writeFile(path, data),
      removeFile: (path: string) => rm(path, { force: true }),
    };
    t.like(await recover(journal, env, isOwnerAlive), { state: 'undone', steps: 1, failures: [] });
    t.is(await linkState(r), before);
  },
);
