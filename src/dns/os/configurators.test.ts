// The configurators against a real file system in a temp directory (never
// /etc) and, for systemd-resolved, a stateful fake of resolvectl that keeps
// per-link state the way resolved does (the real systemd-resolved runs in
// test/dns-resolved.test.ts).
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { demoSnapshot } from '../../../test/dns-support/fixture.ts';
import { replay, type UndoEnv, type UndoJournal, type UndoStep } from '../../journal/journal.ts';
import { machineUndoEnv } from '../../journal/machine.ts';
import { osConfigFor } from './compile.ts';
import { execProgram, nodeFileSystem } from './index.ts';
import { MacResolverConfigurator } from './macos.ts';
import { ResolvConfConfigurator } from './resolvconf.ts';
import { ResolvedConfigurator } from './resolved.ts';
import type { Exec } from './types.ts';

const logger = pino({ level: 'silent' });
const cfg = osConfigFor(demoSnapshot(), [{ address: '127.0.0.153', port: 53 }]);
const ORIGINAL = '# my resolv.conf\nnameserver 10.255.255.53\nsearch corp.example\noptions edns0 trust-ad\n';

/** A journal that keeps steps in memory and checks, at record time, that nothing has changed yet. */
function memoryJournal(check: () => Promise<unknown> = async () => undefined): UndoJournal & { steps: UndoStep[] } {
  const steps: UndoStep[] = [];
  return {
    steps,
    async record(step) {
      await check();
      steps.push(step);
    },
  };
}

/** undo replays steps with the helper's journal code, on the real file system and the given exec. */
async function undo(steps: UndoStep[], exec: Exec = execProgram): Promise<void> {
  const env: UndoEnv = {
    ...machineUndoEnv,
    exec: async (argv) => ({ code: 0, stderr: '', ...(await exec([...argv])) }),
    writeFile: (path, data, mode) => writeFile(path, data, mode === undefined ? undefined : { mode }),
    removeFile: (path) => rm(path, { force: true }),
  };
  const failures = await replay(steps, env);
  if (failures.length > 0) throw new Error(JSON.stringify(failures));
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'devnet-dns-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('resolvconf: journals the original before writing, points at devnet, restores byte for byte with its mode', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'resolv.conf');
  await writeFile(path, ORIGINAL);
  await chmod(path, 0o640);
  const journal = memoryJournal(async () => t.is(await readFile(path, 'utf8'), ORIGINAL));
  const c = new ResolvConfConfigurator({ fs: nodeFileSystem, exec: execProgram, journal, logger }, path);
  t.deepEqual((await c.getBaseConfig()).nameservers, [{ address: '10.255.255.53', port: 53 }]);
  await c.setDNS(cfg);
  const written = await readFile(path, 'utf8');
  t.regex(written, /^nameserver 127\.0\.0\.153$/m);
  t.regex(written, /^search demo\.svc\.cluster\.local corp\.example$/m);
  t.is(journal.steps.length, 1);
  await c.setDNS(cfg); // again: no second journal entry
  t.is(journal.steps.length, 1);
  t.deepEqual(
    (await c.getBaseConfig()).nameservers,
    [{ address: '10.255.255.53', port: 53 }],
    'upstreams are the saved ones',
  );
  await c.close();
  t.is(await readFile(path, 'utf8'), ORIGINAL);
  t.is((await stat(path)).mode & 0o777, 0o640);
});

test('resolvconf: a symlinked resolv.conf keeps its symlink; the target is changed and restored', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'run'));
  const target = join(dir, 'run', 'resolv.conf');
  const link = join(dir, 'resolv.conf');
  await writeFile(target, ORIGINAL);
  await symlink('run/resolv.conf', link);
  const journal = memoryJournal();
  const c = new ResolvConfConfigurator({ fs: nodeFileSystem, exec: execProgram, journal, logger }, link);
  await c.setDNS(cfg);
  t.true((await lstat(link)).isSymbolicLink());
  t.regex(await readFile(target, 'utf8'), /127\.0\.0\.153/);
  t.like(journal.steps[0], { kind: 'restore-file', path: target });
  await c.close();
  t.true((await lstat(link)).isSymbolicLink());
  t.is(await readlink(link), 'run/resolv.conf');
  t.is(await readFile(target, 'utf8'), ORIGINAL);
});

test('resolvconf: a crash is undone by replaying the journal; a leftover file is refused, not taken as the original', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'resolv.conf');
  await writeFile(path, ORIGINAL);
  const journal = memoryJournal();
  await new ResolvConfConfigurator({ fs: nodeFileSystem, exec: execProgram, journal, logger }, path).setDNS(cfg);
  // The process "dies" here. The next run finds its own file: it must not save it as the original.
  const next = new ResolvConfConfigurator(
    { fs: nodeFileSystem, exec: execProgram, journal: memoryJournal(), logger },
    path,
  );
  await t.throwsAsync(next.setDNS(cfg), { message: /left changed by an earlier devnet run/ });
  await undo(journal.steps);
  t.is(await readFile(path, 'utf8'), ORIGINAL);
});

test('resolvconf: a missing resolv.conf is created and removed again', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'resolv.conf');
  const c = new ResolvConfConfigurator(
    { fs: nodeFileSystem, exec: execProgram, journal: memoryJournal(), logger },
    path,
  );
  await c.setDNS(cfg);
  t.regex(await readFile(path, 'utf8'), /127\.0\.0\.153/);
  await c.close();
  await t.throwsAsync(stat(path), { code: 'ENOENT' });
});

/** A stateful stand-in for resolvectl: per-link DNS and domains, revert, and the `dns` / `domain` listings. */
function fakeResolvectl() {
  const links = new Map<string, { dns: string[]; domains: string[]; defaultRoute?: string }>([
    ['eth0', { dns: ['10.255.255.53'], domains: ['corp.example'] }],
    ['devnet0', { dns: [], domains: [] }],
  ]);
  const calls: string[][] = [];
  const listing = (key: 'dns' | 'domains') =>
    `Global:\n${[...links].map(([n, l], i) => `Link ${i + 2} (${n}): ${l[key].join(' ')}`).join('\n')}\n`;
  const exec: Exec = async (argv) => {
    calls.push(argv);
    const [cmd, verb, link, ...rest] = argv;
    if (cmd !== 'resolvectl') throw new Error(`unexpected ${cmd}`);
    if (verb === 'dns' && !link) return { stdout: listing('dns') };
    if (verb === 'domain' && !link) return { stdout: listing('domains') };
    const l = links.get(link ?? '');
    if (!l) throw new Error(`Failed to resolve interface "${link}"`);
    if (verb === 'dns') l.dns = rest;
    else if (verb === 'domain') l.domains = rest;
    else if (verb === 'default-route') l.defaultRoute = rest[0];
    else if (verb === 'revert') links.set(link as string, { dns: [], domains: [] });
    else throw new Error(`unexpected verb ${verb}`);
    return { stdout: '' };
  };
  return { exec, calls, links, snapshot: () => JSON.stringify([...links]) };
}

test('resolved: journals `resolvectl revert` first, sets per-link DNS + ~domains + no default route, reverts to the same link state', async (t) => {
  const fake = fakeResolvectl();
  const before = fake.snapshot();
  const journal = memoryJournal(async () => t.is(fake.snapshot(), before));
  const c = new ResolvedConfigurator({ fs: nodeFileSystem, exec: fake.exec, journal, logger }, 'devnet0');
  t.true(c.supportsSplitDNS());
  t.deepEqual(await c.getBaseConfig(), {
    nameservers: [{ address: '10.255.255.53', port: 53 }],
    searchDomains: ['corp.example'],
  });
  await c.setDNS(cfg);
  t.deepEqual(journal.steps, [
    {
      kind: 'run',
      argv: ['resolvectl', 'revert', 'devnet0'],
      description: "drop devnet's DNS settings from link devnet0",
      okExitCodes: [0, 1],
    },
  ]);
  const link = fake.links.get('devnet0');
  t.deepEqual(link?.dns, ['127.0.0.153']);
  t.true(link?.domains.includes('~cluster.local'));
  t.true(link?.domains.includes('demo.svc.cluster.local'));
  t.false(link?.domains.includes('~dev'));
  t.is(link?.defaultRoute, 'false');
  t.deepEqual(fake.links.get('eth0'), { dns: ['10.255.255.53'], domains: ['corp.example'] }, 'other links untouched');
  await c.close();
  t.is(fake.snapshot(), before);
});

test('resolved: a crash is undone by replaying the journaled revert', async (t) => {
  const fake = fakeResolvectl();
  const before = fake.snapshot();
  const journal = memoryJournal();
  await new ResolvedConfigurator({ fs: nodeFileSystem, exec: fake.exec, journal, logger }, 'devnet0').setDNS(cfg);
  t.not(fake.snapshot(), before);
  await undo(journal.steps, fake.exec);
  t.is(fake.snapshot(), before);
});

test('macos: one resolver file per domain, the user’s own files kept, stale ones removed, all removed on close', async (t) => {
  const dir = await tempDir(t);
  const resolver = join(dir, 'resolver');
  await mkdir(resolver);
  await writeFile(join(resolver, 'cluster.local'), 'nameserver 10.1.1.1\n'); // the user's own
  const journal = memoryJournal();
  const c = new MacResolverConfigurator({ fs: nodeFileSystem, exec: execProgram, journal, logger }, resolver);
  const small = {
    nameservers: [{ address: '127.0.0.1', port: 5353 }],
    searchDomains: [],
    matchDomains: ['cluster.local', 'hello.demo', 'api.dev'],
  };
  await c.setDNS(small);
  t.is(await readFile(join(resolver, 'cluster.local'), 'utf8'), 'nameserver 10.1.1.1\n');
  t.regex(await readFile(join(resolver, 'hello.demo'), 'utf8'), /port 5353/);
  t.deepEqual(
    journal.steps.map((s) => s.kind === 'restore-file' && s.path),
    [join(resolver, 'hello.demo'), join(resolver, 'api.dev')],
  );
  await c.setDNS({ ...small, matchDomains: ['cluster.local', 'hello.demo'] });
  await t.throwsAsync(stat(join(resolver, 'api.dev')), { code: 'ENOENT' });
  await c.close();
  await t.throwsAsync(stat(join(resolver, 'hello.demo')), { code: 'ENOENT' });
  t.is(await readFile(join(resolver, 'cluster.local'), 'utf8'), 'nameserver 10.1.1.1\n');
});

test('resolvconf: a file another program rewrote while connected (VPN, DHCP) is left alone at quit', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'resolv.conf');
  await writeFile(path, ORIGINAL);
  const c = new ResolvConfConfigurator(
    { fs: nodeFileSystem, exec: execProgram, journal: memoryJournal(), logger },
    path,
  );
  await c.setDNS(cfg);
  const vpn = '# written by a VPN client\nnameserver 10.8.0.1\n';
  await writeFile(path, vpn);
  await c.close();
  t.is(await readFile(path, 'utf8'), vpn);
});
