import test from 'ava';
import { existingAncestor, mountPoints } from './pod-mounts.ts';

test('mountPoints unescapes mountinfo’s octal escapes', (t) => {
  t.deepEqual(
    mountPoints(
      '1 0 0:1 / / rw - ext4 /dev/vda rw\n2 1 0:2 / /etc/resolv.conf rw - ext4 x rw\n3 1 0:3 / /a\\040b rw - tmpfs t rw\n',
    ),
    ['/', '/etc/resolv.conf', '/a b'],
  );
});

test('existingAncestor finds where a missing mount point must be made', (t) => {
  const have = new Set(['/etc', '/var', '/var/lib']);
  t.deepEqual(
    existingAncestor('/etc/hello', (p) => have.has(p)),
    { ancestor: '/etc', rest: ['hello'] },
  );
  t.deepEqual(
    existingAncestor('/var/lib/devnet/volumes/data', (p) => have.has(p)),
    {
      ancestor: '/var/lib',
      rest: ['devnet', 'volumes', 'data'],
    },
  );
  t.deepEqual(
    existingAncestor('/data', () => false),
    { ancestor: '/', rest: ['data'] },
  );
});
