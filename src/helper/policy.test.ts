import test from 'ava';
import { checkDnsConfig, checkDnsMode, checkRoute, DEFAULT_POLICY, parsePolicy, type RouteContext } from './policy.ts';

const ctx: RouteContext = {
  policy: DEFAULT_POLICY,
  policyPath: '/etc/devnet/policy.json',
  local: [
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
    { dst: '192.168.1.0/24', dev: 'wlan0', protocol: 'kernel' },
    { dst: '10.96.0.0/12', type: 'unreachable' },
    { dst: '10.244.0.0/16', dev: 'devnet0' },
  ],
  allowConflicts: [],
  tunName: 'devnet0',
};

test('cluster ranges pass and come back normalised', (t) => {
  t.is(checkRoute('10.96.0.0/12', ctx).text, '10.96.0.0/12');
  t.is(checkRoute('10.244.1.7/16', ctx).text, '10.244.0.0/16');
  t.is(checkRoute('fd00:10:96::/108', ctx).text, 'fd00:10:96::/108');
});

test('default routes, too-broad prefixes and reserved ranges are refused with the reason', (t) => {
  const why = (dst: string) => t.throws(() => checkRoute(dst, ctx))?.message ?? '';
  t.regex(why('0.0.0.0/0'), /0\.0\.0\.0\/0: it is a default route/);
  t.regex(why('::/0'), /::\/0: it is a default route/);
  t.regex(why('0.0.0.0/1'), /broader than \/8/);
  t.regex(why('128.0.0.0/1'), /broader than \/8/);
  t.regex(why('10.0.0.0/7'), /broader than \/8/);
  t.regex(why('2000::/3'), /broader than \/32/);
  t.regex(why('127.0.0.1/32'), /reserved loopback range 127\.0\.0\.0\/8/);
  t.regex(why('169.254.169.254/32'), /reserved link-local/);
  t.regex(why('224.0.0.0/8'), /multicast/);
  t.regex(why('::1/128'), /unspecified and loopback/);
  t.regex(why('::ffff:10.0.0.0/104'), /IPv4-mapped/);
  t.regex(why('fe80::/64'), /link-local/);
  t.regex(why('10.96.0.0/12\nnameserver 1.2.3.4'), /not a CIDR/);
  t.regex(why('10.1.2.3/33'), /not a CIDR/);
});

test('a route over one the machine uses is refused unless root was given --allow-conflict for it', (t) => {
  const err = t.throws(() => checkRoute('192.168.0.0/16', ctx));
  t.regex(err?.message ?? '', /overlaps the route "192\.168\.1\.0\/24 dev wlan0"/);
  t.regex((err as { hint?: string }).hint ?? '', /--allow-conflict 192\.168\.0\.0\/16/);
  t.is(checkRoute('192.168.0.0/16', { ...ctx, allowConflicts: ['192.168.0.0/16'] }).text, '192.168.0.0/16');
  const strict = {
    ...ctx,
    allowConflicts: ['192.168.0.0/16'],
    policy: { ...DEFAULT_POLICY, allowConflictOverride: false },
  };
  t.regex((t.throws(() => checkRoute('192.168.0.0/16', strict)) as { hint?: string }).hint ?? '', /does not allow/);
});

test('the policy file: defaults fill gaps; unknown keys and bad values are config errors naming the file', (t) => {
  t.deepEqual(parsePolicy('{"broadestIPv4Prefix": 12}', '/p'), { ...DEFAULT_POLICY, broadestIPv4Prefix: 12 });
  t.regex(
    t.throws(() => parsePolicy('{"broadestIPv4Prefix": 0}', '/p'))?.message ?? '',
    /\/p is invalid: broadestIPv4Prefix/,
  );
  t.regex(
    t.throws(() => parsePolicy('{"allowEverything": true}', '/p'))?.message ?? '',
    /\/p is invalid: .*allowEverything/,
  );
  t.regex(t.throws(() => parsePolicy('not json', '/p'))?.message ?? '', /\/p is not JSON/);
  const narrow = { ...ctx, policy: parsePolicy('{"broadestIPv4Prefix": 16}', '/p'), policyPath: '/p' };
  t.regex(t.throws(() => checkRoute('10.96.0.0/12', narrow))?.message ?? '', /broader than \/16/);
});

test('only devnet’s own DNS server may be installed, in a mode this system has', (t) => {
  const cfg = {
    nameservers: [{ address: '198.18.0.2', port: 53 }],
    searchDomains: ['a.svc.cluster.local'],
    matchDomains: [],
  };
  t.notThrows(() => checkDnsConfig(cfg));
  t.throws(() => checkDnsConfig({ ...cfg, nameservers: [{ address: '8.8.8.8', port: 53 }] }), {
    message: /8\.8\.8\.8 is not devnet's DNS server 198\.18\.0\.2/,
  });
  t.throws(() => checkDnsMode('macos', ['resolved', 'resolvconf', 'none']), { message: /refuses DNS mode macos/ });
});
