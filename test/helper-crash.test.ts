// The root helper, for real, in a network namespace: configure a TUN with an
// address and routes, kill -9 the helper, undo from its journal, and find no
// trace in `ip link`, `ip addr`, `ip route` and `ip rule`.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { deleteAllNetns, Netns } from './support/netns.ts';
import { rootTest } from './support/root.ts';

const helperMain = resolve(import.meta.dirname, '../src/helper/main.ts');

test.after.always(deleteAllNetns);

async function snapshot(ns: Netns): Promise<string> {
  const parts = await Promise.all([
    ns.ip('-o', 'link'),
    ns.ip('-o', 'addr'),
    ns.ip('route', 'show', 'table', 'all'),
    ns.ip('-6', 'route', 'show', 'table', 'all'),
    ns.ip('rule'),
  ]);
  // Link counters and flags of lo are stable; strip nothing else.
  return parts.join('\n---\n');
}

function startHelper(ns: Netns, journal: string, spec: object) {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      helperMain,
      'configure',
      '--journal',
      journal,
      '--spec',
      JSON.stringify(spec),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const first = new Promise<Record<string, unknown>>((res, rej) => {
    lines.once('line', (l) => res(JSON.parse(l)));
    child.once('exit', (code) => rej(new Error(`helper exited ${code}`)));
  });
  return { child, first };
}

const spec = {
  name: 'devnet0',
  mtu: 65520,
  ownerUid: 65534,
  persist: true,
  addresses: ['198.18.0.1/32', 'fd00:de:0::1/128'],
  routes: [{ dst: '10.96.0.0/12' }, { dst: '10.244.0.0/16', metric: 50 }, { dst: 'fd00:96::/108' }],
};

rootTest('helper: kill -9 after configuring, then recover from the journal: no trace left', async (t) => {
  const ns = await Netns.create('helper');
  const before = await snapshot(ns);
  const journal = join(await mkdtemp(join(tmpdir(), 'devnet-helper-')), 'journal');
  const { child, first } = startHelper(ns, journal, spec);
  t.deepEqual(await first, { ready: true, name: 'devnet0', pid: (await first).pid });

  const link = await ns.ip('-d', 'link', 'show', 'devnet0');
  t.regex(link, /mtu 65520/);
  t.regex(link, /qlen 10000/, 'the queue towards the daemon holds a burst of 10,000 packets');
  t.regex(link, /tun type tun pi off .*persist on user (nobody|65534)/);
  t.regex(await ns.ip('route'), /10\.96\.0\.0\/12 dev devnet0/);
  t.regex(await ns.ip('route'), /10\.244\.0\.0\/16 dev devnet0 .*metric 50/);

  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // A persistent device outlives its creator: only the journal can clean up now.
  t.regex(await ns.ip('-o', 'link'), /devnet0/);
  t.regex(await readFile(journal, 'utf8'), /link-delete/);

  const recovered = JSON.parse(await ns.exec(process.execPath, [helperMain, 'recover', '--journal', journal]));
  t.is(recovered.state, 'undone');
  t.deepEqual(recovered.failures, []);
  t.is(await snapshot(ns), before);
  await t.throwsAsync(readFile(journal), { code: 'ENOENT' });
  await ns.delete();
});

rootTest('helper: SIGTERM undoes everything itself', async (t) => {
  const ns = await Netns.create('helper');
  const before = await snapshot(ns);
  const journal = join(await mkdtemp(join(tmpdir(), 'devnet-helper-')), 'journal');
  const { child, first } = startHelper(ns, journal, { ...spec, persist: false });
  t.like(await first, { ready: true });
  child.kill('SIGTERM');
  const exit = await new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  t.deepEqual(exit, { code: 0, signal: null });
  t.is(await snapshot(ns), before);
  await ns.delete();
});

rootTest('helper: refuses a device name that exists, changing nothing', async (t) => {
  const ns = await Netns.create('helper');
  await ns.ip('tuntap', 'add', 'dev', 'devnet0', 'mode', 'tun');
  const before = await snapshot(ns);
  const journal = join(await mkdtemp(join(tmpdir(), 'devnet-helper-')), 'journal');
  const { child } = startHelper(ns, journal, spec);
  const out = await new Promise<string>((res) => {
    let s = '';
    child.stdout.on('data', (d) => (s += d));
    child.once('exit', () => res(s));
  });
  t.regex(out, /already exists/);
  t.is(await snapshot(ns), before);
  await ns.delete();
});
