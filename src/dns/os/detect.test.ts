import test from 'ava';
import { DevnetError } from '../../errors.ts';
import { type DnsProbes, detectMode, parseDnsMode } from './detect.ts';

const plain: DnsProbes = {
  os: 'linux',
  resolvConf: { exists: true, content: 'nameserver 10.255.255.53\n' },
  resolvectl: false,
  resolvedRunning: false,
};
const stub: DnsProbes = {
  os: 'linux',
  resolvConf: {
    exists: true,
    symlinkTarget: '../run/systemd/resolve/stub-resolv.conf',
    content: 'nameserver 127.0.0.53\noptions edns0 trust-ad\n',
  },
  resolvectl: true,
  resolvedRunning: true,
};

const table: [string, DnsProbes, 'resolved' | 'resolvconf' | 'macos' | 'none'][] = [
  ['plain resolv.conf', plain, 'resolvconf'],
  ['resolved stub symlink, running', stub, 'resolved'],
  [
    'stub content without symlink, running',
    { ...stub, resolvConf: { exists: true, content: 'nameserver 127.0.0.53\n' } },
    'resolved',
  ],
  ['stub symlink but resolved stopped', { ...stub, resolvedRunning: false }, 'resolvconf'],
  ['stub symlink, no resolvectl', { ...stub, resolvectl: false }, 'resolvconf'],
  [
    'resolved running, resolv.conf plain (NetworkManager, VPN)',
    { ...plain, resolvectl: true, resolvedRunning: true },
    'resolvconf',
  ],
  ['no resolv.conf', { ...plain, resolvConf: { exists: false } }, 'resolvconf'],
  ['macOS', { ...plain, os: 'darwin' }, 'macos'],
  ['other OS', { ...plain, os: 'other' }, 'none'],
];

for (const [what, probes, mode] of table) {
  test(`auto: ${what} → ${mode}`, (t) => {
    const d = detectMode('auto', probes);
    t.is(d.mode, mode);
    t.true(d.reason.length > 0);
  });
}

test('explicit modes are honoured when they can work', (t) => {
  t.is(detectMode('resolvconf', stub).mode, 'resolvconf');
  t.is(detectMode('resolved', stub).mode, 'resolved');
  t.is(detectMode('none', stub).mode, 'none');
  t.is(detectMode('macos', { ...plain, os: 'darwin' }).mode, 'macos');
});

test('explicit modes that cannot work are errors that say what to do', (t) => {
  const e = t.throws(() => detectMode('resolved', plain), { instanceOf: DevnetError });
  t.is(e?.category, 'config');
  t.regex(e?.hint ?? '', /resolvconf/);
  t.throws(() => detectMode('macos', plain), { instanceOf: DevnetError });
  t.throws(() => detectMode('resolvconf', { ...plain, os: 'darwin' }), { instanceOf: DevnetError });
});

test('parseDnsMode accepts the documented values only', (t) => {
  t.is(parseDnsMode('auto'), 'auto');
  t.is(parseDnsMode('resolved'), 'resolved');
  t.throws(() => parseDnsMode('systemd'), { instanceOf: DevnetError });
});
