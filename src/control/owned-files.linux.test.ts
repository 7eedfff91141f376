import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { checkRootControlled, ensureUserDir, openUserLog, userSocket } from './owned-files.linux.ts';

const me = process.getuid?.() ?? 0;
const dir = () => mkdtempSync(join(tmpdir(), 'devnet-owned-'));

test('openUserLog creates a new file for the user, or opens the user’s own', (t) => {
  const d = dir();
  const fd = openUserLog(join(d, 'daemon.log'), me, me);
  writeFileSync(fd, 'one\n');
  const again = openUserLog(join(d, 'daemon.log'), me, me);
  writeFileSync(again, 'two\n');
  t.is(readFileSync(join(d, 'daemon.log'), 'utf8'), 'one\ntwo\n');
});

test('openUserLog refuses a symlink, a FIFO and a hard link, leaving their targets alone', (t) => {
  const d = dir();
  writeFileSync(join(d, 'target'), 'precious\n');
  symlinkSync(join(d, 'target'), join(d, 'link.log'));
  t.throws(() => openUserLog(join(d, 'link.log'), me, me), { message: /link\.log is a symbolic link/ });
  symlinkSync(join(d, 'missing'), join(d, 'dangling.log'));
  t.throws(() => openUserLog(join(d, 'dangling.log'), me, me), { message: /is a symbolic link/ });
  execFileSync('mkfifo', [join(d, 'fifo.log')]);
  t.throws(() => openUserLog(join(d, 'fifo.log'), me, me), { message: /fifo\.log is a FIFO/ });
  linkSync(join(d, 'target'), join(d, 'hard.log'));
  t.throws(() => openUserLog(join(d, 'hard.log'), me, me), { message: /has 2 hard links/ });
  t.is(readFileSync(join(d, 'target'), 'utf8'), 'precious\n');
  t.throws(() => readFileSync(join(d, 'missing')), { code: 'ENOENT' });
});

test('openUserLog refuses a file another user owns', (t) => {
  const d = dir();
  writeFileSync(join(d, 'daemon.log'), '');
  t.throws(() => openUserLog(join(d, 'daemon.log'), me + 1, me + 1), { message: /belongs to uid/ });
});

test('userSocket accepts the user’s socket and refuses a symlink to it, a file, or someone else’s', async (t) => {
  const d = dir();
  const sock = join(d, 's.sock');
  const srv = createServer().listen(sock);
  await new Promise((r) => srv.once('listening', r));
  const target = userSocket(sock, me);
  t.regex(target.via ?? '', /^\/proc\/self\/fd\/\d+$/);
  target.release?.();
  symlinkSync(sock, join(d, 'link.sock'));
  t.throws(() => userSocket(join(d, 'link.sock'), me), { message: /link\.sock is a symbolic link/ });
  writeFileSync(join(d, 'file.sock'), '');
  t.throws(() => userSocket(join(d, 'file.sock'), me), { message: /is a regular file/ });
  t.throws(() => userSocket(sock, me + 1), { message: /belongs to uid/ });
  t.throws(() => userSocket(join(d, 'missing.sock'), me), { code: 'ENOENT' });
  srv.close();
});

test('ensureUserDir refuses a symlink in place of the folder', (t) => {
  const d = dir();
  mkdirSync(join(d, 'elsewhere'));
  symlinkSync(join(d, 'elsewhere'), join(d, 'user-1'));
  t.throws(() => ensureUserDir(join(d, 'user-1'), me, me), { message: /user-1 is a symbolic link/ });
  ensureUserDir(join(d, 'user-2'), me, me);
  t.pass();
});

const asRoot = me === 0 ? test : test.skip;
asRoot('checkRootControlled: root-owned paths pass (a sticky /tmp on the way too); writable ones do not', (t) => {
  const d = dir();
  mkdirSync(join(d, 'run'), { mode: 0o755 });
  t.notThrows(() => checkRootControlled(join(d, 'run'), 'run folder'));
  t.notThrows(() => checkRootControlled(join(d, 'run', 'not-yet'), 'run folder'));
  chmodSync(join(d, 'run'), 0o777);
  t.throws(() => checkRootControlled(join(d, 'run'), 'run folder'), { message: /run is writable by other users/ });
  mkdirSync(join(d, 'theirs'));
  execFileSync('chown', ['12345', join(d, 'theirs')]);
  t.throws(() => checkRootControlled(join(d, 'theirs', 'x'), 'policy'), { message: /belongs to uid 12345/ });
});
