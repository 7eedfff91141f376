import test from 'ava';
import { demoSnapshot } from '../../../test/dns-support/fixture.ts';
import {
  baseConfigFromResolvConf,
  compileMacResolverFiles,
  compileResolvConf,
  compileResolvedCommands,
  MAX_SERVICE_DOMAINS,
  osConfigFor,
  parseResolvConf,
  parseResolvectlDns,
  reverseZones,
} from './compile.ts';

const devnet = [{ address: '127.0.0.153', port: 53 }];

test('reverseZones covers a CIDR exactly at octet and nibble boundaries', (t) => {
  t.deepEqual(reverseZones('10.244.0.0/16'), ['244.10.in-addr.arpa']);
  t.deepEqual(
    reverseZones('10.96.0.0/12'),
    Array.from({ length: 16 }, (_, i) => `${96 + i}.10.in-addr.arpa`),
  );
  t.deepEqual(reverseZones('10.96.0.10/32'), ['10.0.96.10.in-addr.arpa']);
  t.deepEqual(reverseZones('fd00:10:96::/112'), [`${'0.'.repeat(16)}6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa`]);
  t.is(reverseZones('fd00:10:96::/110').length, 4);
  t.deepEqual(reverseZones('fd00::/7'), ['c.f.ip6.arpa', 'd.f.ip6.arpa']);
  t.deepEqual(reverseZones('garbage'), []);
});

test('osConfigFor routes the cluster domain, reverse zones, <ns>.svc and each Service, never a bare namespace', (t) => {
  const cfg = osConfigFor(demoSnapshot(), devnet);
  t.deepEqual(cfg.searchDomains, ['demo.svc.cluster.local']);
  t.true(cfg.matchDomains.includes('cluster.local'));
  t.true(cfg.matchDomains.includes('96.10.in-addr.arpa'));
  t.true(cfg.matchDomains.includes('244.10.in-addr.arpa'));
  t.true(cfg.matchDomains.includes('hello.demo'));
  t.true(cfg.matchDomains.includes('api.dev'));
  t.true(cfg.matchDomains.includes('dev.svc'));
  t.false(cfg.matchDomains.includes('dev'), 'namespace dev must not capture the .dev TLD');
  t.false(cfg.matchDomains.includes('demo'));
});

test('osConfigFor falls back to whole namespaces for very large clusters', (t) => {
  const s = demoSnapshot();
  s.services = Array.from({ length: MAX_SERVICE_DOMAINS + 1 }, (_, i) => ({
    name: `s${i}`,
    namespace: 'demo',
    type: 'ClusterIP' as const,
    clusterIPs: [],
    ports: [],
  }));
  const cfg = osConfigFor(s, devnet);
  t.true(cfg.matchDomains.includes('demo'));
  t.false(cfg.matchDomains.includes('s1.demo'));
});

test('parseResolvConf: last search/domain wins, options and sortlist kept, comments dropped', (t) => {
  const c = parseResolvConf(
    '# comment\nnameserver 10.255.255.53\nnameserver fe80::1%eth0\ndomain a.example\nsearch corp.example lab.example ; x\noptions edns0 trust-ad\nsortlist 10.0.0.0\n',
  );
  t.deepEqual(c.nameservers, ['10.255.255.53', 'fe80::1%eth0']);
  t.deepEqual(c.search, ['corp.example', 'lab.example']);
  t.deepEqual(c.other, ['options edns0 trust-ad', 'sortlist 10.0.0.0']);
  t.false(c.writtenByDevnet);
  t.deepEqual(baseConfigFromResolvConf(c, devnet).nameservers, [
    { address: '10.255.255.53', port: 53 },
    { address: 'fe80::1', port: 53 },
  ]);
});

test('baseConfigFromResolvConf never forwards to devnet itself', (t) => {
  const c = parseResolvConf('nameserver 127.0.0.153\nnameserver 192.0.2.53\n');
  t.deepEqual(baseConfigFromResolvConf(c, devnet).nameservers, [{ address: '192.0.2.53', port: 53 }]);
});

test('compileResolvConf: devnet first and only, its search domain first, original options kept; it reads back', (t) => {
  const original = parseResolvConf('nameserver 10.255.255.53\nsearch corp.example\noptions edns0\n');
  const text = compileResolvConf(original, osConfigFor(demoSnapshot(), devnet));
  t.snapshot(text);
  const back = parseResolvConf(text);
  t.true(back.writtenByDevnet);
  t.deepEqual(back.nameservers, ['127.0.0.153']);
  t.deepEqual(back.search, ['demo.svc.cluster.local', 'corp.example']);
  t.deepEqual(back.other, ['options edns0']);
  t.throws(() =>
    compileResolvConf(original, {
      ...osConfigFor(demoSnapshot(), devnet),
      nameservers: [{ address: '127.0.0.1', port: 5353 }],
    }),
  );
});

test('compileResolvedCommands: per-link servers (with port), search + ~routing domains, no default route', (t) => {
  const cfg = {
    nameservers: [
      { address: '127.0.0.1', port: 5353 },
      { address: 'fd00::1', port: 53 },
    ],
    searchDomains: ['demo.svc.cluster.local'],
    matchDomains: ['cluster.local', 'hello.demo'],
  };
  t.deepEqual(compileResolvedCommands('devnet0', cfg), [
    ['resolvectl', 'dns', 'devnet0', '127.0.0.1:5353', 'fd00::1'],
    ['resolvectl', 'domain', 'devnet0', 'demo.svc.cluster.local', '~cluster.local', '~hello.demo'],
    ['resolvectl', 'default-route', 'devnet0', 'false'],
  ]);
});

test('parseResolvectlDns reads global and per-link servers, skipping devnet’s link', (t) => {
  const out =
    'Global: 1.1.1.1#cloudflare-dns.com 9.9.9.9:5353\nLink 2 (eth0): 10.255.255.53 [fd00::53]:53 fe80::1%2\nLink 5 (devnet0): 127.0.0.153\nLink 3 (lo):\n';
  t.deepEqual(parseResolvectlDns(out, 'devnet0'), [
    { address: '1.1.1.1', port: 53 },
    { address: '9.9.9.9', port: 5353 },
    { address: '10.255.255.53', port: 53 },
    { address: 'fd00::53', port: 53 },
    { address: 'fe80::1', port: 53 },
  ]);
});

test('compileMacResolverFiles writes one resolver(5) file per routing domain with devnet’s port', (t) => {
  const files = compileMacResolverFiles('/etc/resolver', {
    nameservers: [{ address: '127.0.0.1', port: 5353 }],
    searchDomains: [],
    matchDomains: ['cluster.local', 'hello.demo'],
  });
  t.deepEqual([...files.keys()], ['/etc/resolver/cluster.local', '/etc/resolver/hello.demo']);
  t.snapshot(files.get('/etc/resolver/cluster.local'));
  t.is(compileMacResolverFiles('/x', { nameservers: [], searchDomains: [], matchDomains: ['a'] }).size, 0);
});
