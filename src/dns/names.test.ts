import test from 'ava';
import { demoSnapshot } from '../../test/dns-support/fixture.ts';
import { type Rule, reverseNameToIp, routeName } from './names.ts';
import { clusterDomainFromResolvConf, indexSnapshot, normaliseName } from './snapshot.ts';

const index = indexSnapshot(demoSnapshot());

// name → [route, rule, cluster name asked]
const table: [string, 'cluster' | 'system', Rule, string?][] = [
  ['hello', 'cluster', 'service-short', 'hello.demo.svc.cluster.local'],
  ['db', 'cluster', 'service-short', 'db.demo.svc.cluster.local'],
  ['nosuch', 'system', 'not-cluster'],
  ['hello.demo', 'cluster', 'service-namespace', 'hello.demo.svc.cluster.local'],
  ['hello.other', 'cluster', 'service-namespace', 'hello.other.svc.cluster.local'],
  ['hello.demo.svc', 'cluster', 'service-namespace', 'hello.demo.svc.cluster.local'],
  ['hello.demo.svc.cluster.local', 'cluster', 'cluster-domain', 'hello.demo.svc.cluster.local'],
  ['anything.cluster.local', 'cluster', 'cluster-domain', 'anything.cluster.local'],
  ['cluster.local', 'cluster', 'cluster-domain', 'cluster.local'],
  ['db-0.db.demo', 'cluster', 'pod-hostname', 'db-0.db.demo.svc.cluster.local'],
  ['db-0.db.demo.svc', 'cluster', 'pod-hostname', 'db-0.db.demo.svc.cluster.local'],
  ['_http._tcp.hello.demo', 'cluster', 'service-port', '_http._tcp.hello.demo.svc.cluster.local'],
  ['_http._tcp.hello.demo.svc', 'cluster', 'service-port', '_http._tcp.hello.demo.svc.cluster.local'],
  ['_http._tcp.hello', 'cluster', 'service-port', '_http._tcp.hello.demo.svc.cluster.local'],
  ['_http._tcp.nosuch.demo', 'system', 'not-cluster'],
  ['ext.demo', 'cluster', 'service-namespace', 'ext.demo.svc.cluster.local'],
  // The TLD rule: namespace dev exists, but only its Services answer.
  ['api.dev', 'cluster', 'service-namespace', 'api.dev.svc.cluster.local'],
  ['example.dev', 'system', 'namespace-without-service'],
  ['www.example.dev', 'system', 'namespace-without-service'],
  ['dev', 'system', 'not-cluster'],
  ['nosuch.demo', 'system', 'namespace-without-service'],
  ['hello.nosuchns', 'system', 'not-cluster'],
  ['www.example.com', 'system', 'not-cluster'],
  ['a.b.c.d.e', 'system', 'not-cluster'],
  ['', 'system', 'not-cluster'],
  // Reverse names: ClusterIPs, and anything inside the cluster CIDRs.
  ['20.0.96.10.in-addr.arpa', 'cluster', 'cluster-reverse', '20.0.96.10.in-addr.arpa'],
  ['99.1.244.10.in-addr.arpa', 'cluster', 'cluster-reverse', '99.1.244.10.in-addr.arpa'],
  ['1.1.168.192.in-addr.arpa', 'system', 'reverse-not-cluster'],
  ['96.10.in-addr.arpa', 'system', 'reverse-not-cluster'],
  ['300.0.96.10.in-addr.arpa', 'system', 'reverse-not-cluster'],
];

for (const [name, to, rule, query] of table) {
  test(`route ${JSON.stringify(name)} → ${to} (${rule})`, (t) => {
    const r = routeName(name, index);
    t.is(r.to, to);
    t.is(r.rule, rule);
    if (r.to === 'cluster') t.is(r.query, query as string);
  });
}

test('the cluster domain comes from the snapshot, never assumed', (t) => {
  const other = indexSnapshot({ ...demoSnapshot(), clusterDomain: 'corp.internal.' });
  t.deepEqual(routeName('hello.demo', other), {
    to: 'cluster',
    rule: 'service-namespace',
    query: 'hello.demo.svc.corp.internal',
    detail: 'Service demo/hello',
  });
  t.is(routeName('hello.demo.svc.cluster.local', other).to, 'system');
});

test('clusterDomainFromResolvConf reads the domain from a pod resolv.conf', (t) => {
  const conf =
    'search demo.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n';
  t.is(clusterDomainFromResolvConf(conf, 'demo'), 'cluster.local');
  t.is(clusterDomainFromResolvConf('search demo.svc.k8s.corp.\n', 'demo'), 'k8s.corp');
  t.is(clusterDomainFromResolvConf('nameserver 1.1.1.1\n', 'demo'), undefined);
  t.is(clusterDomainFromResolvConf('search other.svc.cluster.local\n', 'demo'), undefined);
});

test('reverseNameToIp reads IPv4 and IPv6 reverse names', (t) => {
  t.is(reverseNameToIp('20.0.96.10.in-addr.arpa'), '10.96.0.20');
  t.is(
    reverseNameToIp(
      `${'1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.f'.split('.').join('.')}.ip6.arpa`,
    ),
    'ffd0:0:0:0:0:0:0:1',
  );
  t.is(reverseNameToIp('1.2.3.in-addr.arpa'), undefined);
  t.is(reverseNameToIp('01.2.3.4.in-addr.arpa'), undefined);
});

test('normaliseName lower-cases and drops the trailing dot', (t) => {
  t.is(normaliseName('Hello.Demo.'), 'hello.demo');
});
