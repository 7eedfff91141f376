import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileJournal, type JournalOwner, parseJournal, recover, type UndoEnv, type UndoStep } from './journal.ts';

// A recording environment: commands succeed unless told otherwise; files live in a map.
function fakeMachine(fail: (argv: string[]) => { code: number; stderr: string } | undefined = () => undefined) {
  const ran: string[][] = [];
  const files = new Map<string, string | null>();
  const env: UndoEnv = {
    exec: async (argv) => {
      ran.push(argv);
      const f = fail(argv);
      return f ? { code: f.code, stdout: '', stderr: f.stderr } : { code: 0, stdout: '', stderr: '' };
    },
    writeFile: async (path, data) => void files.set(path, Buffer.from(data).toString()),
    removeFile: async (path) => void files.set(path, null),
    removeTree: async (path) => void ran.push(['rm', '-rf', path]),
    removeEmptyDir: async (path) => void ran.push(['rmdir', path]),
    stopProcess: async (pid, start) => void ran.push(['stop', String(pid), start]),
  };
  return { env, ran, files };
}

const owner: JournalOwner = { pid: 1, startTime: 2, description: 'test' };

async function tempPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'devnet-journal-')), 'journal');
}

test('steps are on disk before record() resolves, and undo runs newest first', async (t) => {
  const path = await tempPath();
  const j = await FileJournal.create(path, owner);
  await j.record({ kind: 'link-delete', name: 'devnet0' });
  await j.record({ kind: 'route-delete', dst: '10.96.0.0/12', dev: 'devnet0', metric: 0 });
  const onDisk = parseJournal(await readFile(path, 'utf8'));
  t.deepEqual(onDisk.owner, owner);
  t.is(onDisk.steps.length, 2);
  const m = fakeMachine();
  t.deepEqual(await j.undoAll(m.env), []);
  t.deepEqual(m.ran, [
    ['ip', 'route', 'del', '10.96.0.0/12', 'dev', 'devnet0', 'metric', '0'],
    ['ip', 'link', 'del', 'dev', 'devnet0'],
  ]);
  await t.throwsAsync(readFile(path), { code: 'ENOENT' });
});

test('undoing something already gone counts as success', async (t) => {
  const path = await tempPath();
  const j = await FileJournal.create(path, owner);
  await j.record({ kind: 'link-delete', name: 'devnet0' });
  const m = fakeMachine(() => ({ code: 1, stderr: 'Cannot find device "devnet0"' }));
  t.deepEqual(await j.undoAll(m.env), []);
});

test('a real failure is reported and the journal is kept for the next run', async (t) => {
  const path = await tempPath();
  const j = await FileJournal.create(path, owner);
  await j.record({ kind: 'run', argv: ['resolvectl', 'revert', 'devnet0'], description: 'revert DNS' });
  const m = fakeMachine(() => ({ code: 1, stderr: 'Failed to connect to bus' }));
  const failures = await j.undoAll(m.env);
  t.is(failures.length, 1);
  t.regex(failures[0]?.error ?? '', /Failed to connect to bus/);
  t.is(parseJournal(await readFile(path, 'utf8')).steps.length, 1);
});

test('restore-file puts back the exact bytes, or removes a file that did not exist', async (t) => {
  const path = await tempPath();
  const j = await FileJournal.create(path, owner);
  const original = 'nameserver 192.0.2.53\n# kept byte for byte\n';
  await j.record({
    kind: 'restore-file',
    path: '/etc/resolv.conf',
    contentBase64: Buffer.from(original).toString('base64'),
  });
  await j.record({ kind: 'restore-file', path: '/etc/resolver/cluster.local', contentBase64: null });
  const m = fakeMachine();
  await j.undoAll(m.env);
  t.is(m.files.get('/etc/resolv.conf'), original);
  t.is(m.files.get('/etc/resolver/cluster.local'), null);
});

test('recover leaves a live owner alone and replays a dead one', async (t) => {
  const path = await tempPath();
  const j = await FileJournal.create(path, owner);
  await j.record({ kind: 'link-delete', name: 'devnet0' });
  const m = fakeMachine();
  t.is((await recover(path, m.env, async () => true)).state, 'owner-alive');
  t.deepEqual(m.ran, []);
  const r = await recover(path, m.env, async () => false);
  t.is(r.state, 'undone');
  t.deepEqual(m.ran, [['ip', 'link', 'del', 'dev', 'devnet0']]);
  t.is((await recover(path, m.env, async () => false)).state, 'none');
});

test('a torn last line (crash mid-write) does not hide the earlier steps', async (t) => {
  const path = await tempPath();
  const steps: UndoStep[] = [{ kind: 'link-delete', name: 'devnet0' }];
  await writeFile(path, `${JSON.stringify({ owner })}\n${JSON.stringify({ step: steps[0] })}\n{"step":{"kind":"rou`);
  t.deepEqual(parseJournal(await readFile(path, 'utf8')).steps, steps);
  await t.throwsAsync(FileJournal.create(path, owner), { message: /still holds changes/ });
});

test('one module for the helper and the sandbox: a shared journal, processes stopped first, then newest first', async (t) => {
  const path = await tempPath();
  const a = FileJournal.shared(path);
  const b = FileJournal.shared(path); // another process appending to the same file
  a.recordSync({ kind: 'path', path: '/state' });
  b.recordSync({ kind: 'route-delete', type: 'unreachable', dst: '10.96.0.0/12', metric: 7 });
  a.recordSync({ kind: 'netns', name: 'dnt-node' });
  b.recordSync({ kind: 'emptydir', path: '/etc/netns' });
  a.recordSync({ kind: 'process', pid: 42, start: '1234' });
  const m = fakeMachine((argv) => (argv[1] === 'netns' && argv[2] === 'list' ? undefined : undefined));
  m.env.exec = async (argv) => {
    m.ran.push(argv);
    return { code: 0, stdout: argv[2] === 'list' ? 'dnt-node (id: 3)\n' : '', stderr: '' };
  };
  t.deepEqual(await a.undoAll(m.env), []);
  t.deepEqual(m.ran, [
    ['stop', '42', '1234'],
    ['rmdir', '/etc/netns'],
    ['ip', 'netns', 'list'],
    ['ip', 'netns', 'del', 'dnt-node'],
    ['ip', 'route', 'del', 'unreachable', '10.96.0.0/12', 'metric', '7'],
    ['rm', '-rf', '/state'],
  ]);
  await t.throwsAsync(readFile(path), { code: 'ENOENT' });
});

test('a namespace already gone is skipped; a journal in the old sandbox format (bare steps) is read', async (t) => {
  const path = await tempPath();
  await writeFile(path, '{"kind":"netns","name":"dnt-gone"}\n{"kind":"path","path":"/x"}\n');
  t.deepEqual(
    (await FileJournal.shared(path).read()).map((s) => s.kind),
    ['netns', 'path'],
  );
  const m = fakeMachine();
  t.deepEqual(await FileJournal.shared(path).undoAll(m.env), []);
  t.deepEqual(m.ran, [
    ['rm', '-rf', '/x'],
    ['ip', 'netns', 'list'],
  ]);
});

test('the journal file is never followed through a symlink', async (t) => {
  const path = await tempPath();
  const target = `${path}.target`;
  await writeFile(target, 'precious\n');
  const { symlink } = await import('node:fs/promises');
  await symlink(target, path);
  t.throws(() => FileJournal.shared(path).recordSync({ kind: 'path', path: '/x' }), { code: 'ELOOP' });
  await t.throwsAsync(FileJournal.create(path, owner), { code: 'ELOOP' });
  t.is(await readFile(target, 'utf8'), 'precious\n');
});
