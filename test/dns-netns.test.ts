// Real resolution on a "laptop": a network namespace with its own
// /etc/netns/NAME/resolv.conf (bind-mounted over /etc/resolv.conf by `ip
// netns exec`), devnet's DnsSession in resolv.conf mode, the cluster DNS
// stand-in and a fake internet DNS inside it. Every name form of issue 6 is
// resolved with getent (glibc), dig and curl; then quit and kill -9 must
// leave the resolv.conf byte-identical. The host's /etc/resolv.conf is never
// touched, and /etc/netns/NAME is removed after.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { execArgv } from '../src/helper/exec.ts';
import { isOwnerAlive } from '../src/helper/process.linux.ts';
import { recover } from '../src/journal/journal.ts';
import { machineUndoEnv } from '../src/journal/machine.ts';
import { killAllRoles, startRole, stopRole } from './dns-support/children.ts';
import { HELLO_IP, INTERNET, OTHER_HELLO_IP } from './dns-support/fixture.ts';
import { deleteAllNetns, Netns } from './support/netns.ts';
import { rootTest } from './support/root.ts';

const ORIGINAL = '# the laptop before devnet\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n';

let ns: Netns | undefined;
let etcDir = '';

async function setup(): Promise<{ ns: Netns; conf: string; journal: string }> {
  if (!ns) {
    ns = await Netns.create('dns');
    for (const ip of ['10.96.0.10', HELLO_IP, OTHER_HELLO_IP, '192.0.2.53'])
      await ns.ip('addr', 'add', `${ip}/32`, 'dev', 'lo');
    etcDir = `/etc/netns/${ns.name}`;
    await mkdir(etcDir, { recursive: true });
    await startRole(ns, { role: 'peers', journalPath: '' });
  }
  const conf = `${etcDir}/resolv.conf`;
  await writeFile(conf, ORIGINAL);
  return { ns, conf, journal: `${etcDir}/devnet-journal.jsonl` };
}

test.after.always(async () => {
  killAllRoles();
  if (etcDir) await rm(etcDir, { recursive: true, force: true });
  await deleteAllNetns();
});

const getent = (n: Netns, name: string) =>
  n.exec('getent', ['hosts', name]).then((s) => s.trim().replace(/[ \t]+/g, ' '));
const dig = (n: Netns, ...args: string[]) =>
  n.exec('dig', ['+short', '+time=2', '+tries=1', ...args]).then((s) => s.trim());

rootTest(
  'on the laptop every cluster name form resolves for getent, dig and curl; other names as before; quit restores resolv.conf',
  async (t: ExecutionContext) => {
    const { ns: n, conf, journal } = await setup();
    const before = await readFile(conf);
    const publicBefore = await getent(n, 'www.example.com');
    t.is(publicBefore, `${INTERNET['www.example.com']} www.example.com`);

    const child = await startRole(n, { role: 'devnet', resolvConfPath: conf, journalPath: journal });
    t.regex(await readFile(conf, 'utf8'), /^nameserver 127\.0\.0\.153$/m);

    t.regex(await getent(n, 'hello.demo'), new RegExp(`^${HELLO_IP.replaceAll('.', '\\.')}\\s`));
    t.regex(await getent(n, 'hello'), new RegExp(`^${HELLO_IP.replaceAll('.', '\\.')}\\s`));
    t.regex(
      await n.exec('curl', ['-s', '--max-time', '3', 'http://hello.demo.svc.cluster.local']),
      /^hello from hello-/,
    );
    t.is(await dig(n, 'db-0.db.demo.svc.cluster.local'), '10.244.1.10');
    t.is(await dig(n, 'SRV', '_http._tcp.hello.demo.svc.cluster.local'), '0 100 80 hello.demo.svc.cluster.local.');
    t.is(await dig(n, '-x', HELLO_IP), 'hello.demo.svc.cluster.local.');
    t.is(await dig(n, 'ext.demo.svc.cluster.local'), `hello.other.svc.cluster.local.\n${OTHER_HELLO_IP}`);
    t.regex(await n.exec('curl', ['-s', '--max-time', '3', 'http://hello.other']), /^hello from other\//);
    t.regex(await getent(n, 'db-1.db.demo'), /^10\.244\.1\.11\s/);

    // A namespace named dev never captures .dev; public names resolve exactly as before.
    t.is(await getent(n, 'example.dev'), `${INTERNET['example.dev']} example.dev`);
    t.is(await getent(n, 'www.example.com'), publicBefore);
    await t.throwsAsync(getent(n, 'nosuch.example.dev'));

    await stopRole(child, 'SIGTERM');
    t.deepEqual(await readFile(conf), before, 'quit restores resolv.conf byte for byte');
    t.is(await getent(n, 'www.example.com'), publicBefore);
    await rm(journal, { force: true });
  },
);

rootTest(
  'after kill -9 the next run replays the journal and resolv.conf is byte-identical',
  async (t: ExecutionContext) => {
    const { ns: n, conf, journal } = await setup();
    const before = await readFile(conf);
    const child = await startRole(n, { role: 'devnet', resolvConfPath: conf, journalPath: journal });
    t.notDeepEqual(await readFile(conf), before);
    await stopRole(child, 'SIGKILL');
    t.notDeepEqual(await readFile(conf), before, 'a crash leaves the change behind');
    // The next devnet run: replay the journal first.
    const env = {
      ...machineUndoEnv,
      exec: execArgv,
      writeFile: (path: string, data: Uint8Array, mode?: number) =>
        writeFile(path, data, mode === undefined ? undefined : { mode }),
      removeFile: (path: string) => rm(path, { force: true }),
    };
    t.like(await recover(journal, env, isOwnerAlive), { state: 'undone', steps: 1, failures: [] });
    t.deepEqual(await readFile(conf), before);
    t.is(await getent(n, 'www.example.com'), `${INTERNET['www.example.com']} www.example.com`);
  },
);
