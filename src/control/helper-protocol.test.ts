import test from 'ava';
import { HELPER_PROTOCOL } from './helper-protocol.ts';
import { describeIssues } from './transport.ts';

const refusal = (method: keyof typeof HELPER_PROTOCOL, params: unknown): string => {
  const r = HELPER_PROTOCOL[method].params.safeParse(params);
  return r.success ? 'accepted' : describeIssues(r.error);
};

const dnsSet = (config: object) => ({
  config: { nameservers: [{ address: '198.18.0.2', port: 53 }], searchDomains: [], matchDomains: [], ...config },
});

test('dnsSet: names that would inject lines, options or paths are refused', (t) => {
  t.is(
    refusal('dnsSet', dnsSet({ searchDomains: ['default.svc.cluster.local'], matchDomains: ['0.96.10.in-addr.arpa'] })),
    'accepted',
  );
  t.regex(
    refusal('dnsSet', dnsSet({ nameservers: [{ address: '198.18.0.2\nnameserver 1.1.1.1', port: 53 }] })),
    /is not an IP address/,
  );
  t.regex(refusal('dnsSet', dnsSet({ nameservers: [{ address: 'fe80::1%eth0', port: 53 }] })), /is not an IP address/);
  t.regex(
    refusal('dnsSet', dnsSet({ searchDomains: ['a\noptions ndots:15'] })),
    /searchDomains\.0: .* is not a DNS name/,
  );
  t.regex(refusal('dnsSet', dnsSet({ matchDomains: ['../../etc/cron.d/x'] })), /matchDomains\.0: .* is not a DNS name/);
  t.regex(refusal('dnsSet', dnsSet({ matchDomains: ['--help'] })), /is not a DNS name/);
  t.regex(refusal('dnsSet', dnsSet({ matchDomains: [`${'a'.repeat(64)}.com`] })), /is not a DNS name/);
  t.regex(refusal('dnsSet', dnsSet({ nameservers: [] })), /nameservers/);
  t.regex(refusal('dnsSet', { config: dnsSet({}).config, extra: 1 }), /extra/);
});

test('openTun: device names, MTU and sizes are bounded; unknown keys are refused', (t) => {
  const ok = {
    name: 'devnet0',
    mtu: 65520,
    routes: [{ dst: '10.96.0.0/12' }],
    fdSocket: '/run/devnet/user-1/tun-fd.sock',
  };
  t.is(refusal('openTun', ok), 'accepted');
  t.regex(refusal('openTun', { ...ok, name: 'eth0' }), /not a devnet device name/);
  t.regex(refusal('openTun', { ...ok, name: 'devnet0 type bridge' }), /not a devnet device name/);
  t.regex(refusal('openTun', { ...ok, mtu: 70000 }), /mtu/);
  t.regex(refusal('openTun', { ...ok, addresses: ['0.0.0.0/0'] }), /addresses/);
  t.regex(refusal('openTun', { ...ok, routes: Array(2000).fill({ dst: '10.0.0.0/8' }) }), /routes/);
  t.regex(refusal('dnsBaseConfig', { mode: 'everything' }), /mode/);
});
