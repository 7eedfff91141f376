import test from 'ava';
import { isMountPoint, mountClaims, SSHFS_INSTALL } from './sshfs.ts';

test('without sshfs, claim volumes are reported with the install command (and nothing else is touched)', async (t) => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    const r = await mountClaims(
      '/tmp/x',
      [
        { mountPath: '/data', source: 'persistentVolumeClaim d', how: 'claim', podPath: '/data' },
        { mountPath: '/etc/c', source: 'configMap c', how: 'api' },
      ],
      { host: '10.0.0.1', port: 8303, token: 't' },
      false,
    );
    t.deepEqual(r.mounted, []);
    t.deepEqual(r.failed, [{ path: '/tmp/x/data', why: `sshfs is not installed: ${SSHFS_INSTALL}` }]);
    t.regex(SSHFS_INSTALL, /apt-get install sshfs/);
  } finally {
    process.env.PATH = saved;
  }
});

test('isMountPoint reads mountinfo’s escaped mount points', (t) => {
  const info = () => '22 1 0:21 / /tmp/a\\040b rw - tmpfs x rw\n23 1 0:22 / /tmp/c rw - fuse.sshfs devnet:/ ro\n';
  t.true(isMountPoint('/tmp/a b', info));
  t.true(isMountPoint('/tmp/c', info));
  t.false(isMountPoint('/tmp', info));
});
