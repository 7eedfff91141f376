// Claim volumes end to end on this machine: the intercept pod's SFTP
// listener (sftp-auth.ts + sftp-server.ts) on loopback, and the laptop's
// real `sshfs -o slave` mounting it (sshfs.ts). Root: FUSE mounts need
// /dev/fuse. Every mount is undone in teardown, even on failure. The SFTP
// server runs in this process, so reads through the mount are asynchronous
// (a synchronous read would block the loop that answers it).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { acceptSftp, dialSftp } from '../src/intercept/sftp-auth.ts';
import { findProgram, isMountPoint, mountClaims, unmountClaims, unmountFuse } from '../src/intercept/sshfs.ts';
import { rootTest } from './support/root.ts';

rootTest(
  'sshfs mounts a claim read-only through the token-checked SFTP listener; nothing leaves the root',
  async (t) => {
    if (!findProgram('sshfs')) return t.fail('sshfs is missing: apt-get install sshfs (listed in .ci/apt-packages)');
    const dir = mkdtempSync(join(tmpdir(), 'devnet-sftp-'));
    const root = join(dir, 'volumes');
    mkdirSync(join(root, 'data', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'secret'), 'outside');
    writeFileSync(join(root, 'data', 'owner'), 'db-0\n');
    writeFileSync(join(root, 'data', 'sub', 'deep'), 'deep');
    symlinkSync('owner', join(root, 'data', 'link'));
    symlinkSync(join(dir, 'secret'), join(root, 'data', 'escape'));
    const server = createServer((s) => acceptSftp(s, { token: 'right', root, log: pino({ level: 'silent' }) }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const laptop = join(dir, 'laptop');
    const target = join(laptop, 'var/lib/db');
    t.teardown(async () => {
      await unmountFuse(target);
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    await t.throwsAsync(dialSftp('127.0.0.1', port, 'wrong', 3000), { message: /refused the volume token|closed/ });

    const r = await mountClaims(
      laptop,
      [{ mountPath: '/var/lib/db', source: 'persistentVolumeClaim data-db-0', how: 'claim', podPath: '/data' }],
      { host: '127.0.0.1', port, token: 'right' },
      false,
    );
    t.deepEqual(r.failed, []);
    t.true(isMountPoint(target));
    t.is(await readFile(join(target, 'owner'), 'utf8'), 'db-0\n');
    t.is(await readFile(join(target, 'sub/deep'), 'utf8'), 'deep');
    t.is(await readFile(join(target, 'link'), 'utf8'), 'db-0\n');
    t.deepEqual((await readdir(target)).sort(), ['escape', 'link', 'owner', 'sub']);
    await t.throwsAsync(
      readFile(join(target, 'escape'), 'utf8'),
      undefined,
      'a symlink out of the volume is not followed',
    );
    await t.throwsAsync(writeFile(join(target, 'new'), 'x'), { code: 'EROFS' });
    // The claim's files change under the mount: the next read sees it.
    writeFileSync(join(root, 'data', 'owner'), 'db-0 again\n');
    await new Promise((res) => setTimeout(res, 1200));
    t.is(await readFile(join(target, 'owner'), 'utf8'), 'db-0 again\n');
    await unmountClaims(r.mounted);
    t.false(isMountPoint(target));
  },
);
