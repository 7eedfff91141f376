import test from 'ava';
import { demoSnapshot } from '../../test/dns-support/fixture.ts';
import { candidates, type ExplainStep, explainName, formatExplanation } from './explain.ts';
import type { Rule } from './names.ts';
import { osConfigFor } from './os/compile.ts';
import type { DnsMode } from './os/types.ts';

const snapshot = demoSnapshot();
const os = osConfigFor(snapshot, [{ address: '127.0.0.153', port: 53 }]);
const ctx = (mode: DnsMode) => ({ snapshot, mode, os, systemSearch: ['corp.example'] });

test('candidates follow glibc: ndots decides whether the name or the search list goes first', (t) => {
  t.deepEqual(candidates('hello', ['a.b', 'c'], 1), ['hello.a.b', 'hello.c', 'hello']);
  t.deepEqual(candidates('hello.demo', ['a.b'], 1), ['hello.demo', 'hello.demo.a.b']);
  t.deepEqual(candidates('hello.demo', ['a.b'], 5), ['hello.demo.a.b', 'hello.demo']);
  t.deepEqual(candidates('hello.demo.', ['a.b'], 1), ['hello.demo']);
});

// name, mode → verdict, first step's resolvedBy, the rule of the deciding step
const table: [string, DnsMode, 'cluster' | 'system', ExplainStep['resolvedBy'], Rule][] = [
  ['hello', 'resolvconf', 'cluster', 'cluster', 'cluster-domain'],
  ['hello', 'resolved', 'cluster', 'cluster', 'cluster-domain'],
  ['hello.demo', 'resolved', 'cluster', 'cluster', 'service-namespace'],
  ['hello.other', 'resolvconf', 'cluster', 'cluster', 'service-namespace'],
  ['db-0.db.demo', 'resolved', 'cluster', 'cluster', 'pod-hostname'],
  ['example.dev', 'resolved', 'system', 'system', 'namespace-without-service'],
  ['example.dev', 'resolvconf', 'system', 'devnet-forwarded', 'namespace-without-service'],
  ['www.example.com', 'resolvconf', 'system', 'devnet-forwarded', 'not-cluster'],
  ['www.example.com', 'macos', 'system', 'system', 'not-cluster'],
  ['hello.demo', 'none', 'system', 'system', 'service-namespace'],
  ['nosuch', 'resolvconf', 'system', 'cluster', 'not-cluster'],
  ['_http._tcp.hello', 'resolved', 'cluster', 'system', 'cluster-domain'],
  ['_http._tcp.hello', 'resolvconf', 'cluster', 'cluster', 'service-port'],
];

for (const [name, mode, verdict, firstBy, rule] of table) {
  test(`dns test ${name} in mode ${mode} → ${verdict}`, (t) => {
    const e = explainName(name, ctx(mode));
    t.is(e.verdict, verdict);
    t.is(e.steps[0]?.resolvedBy, firstBy);
    const deciding =
      e.steps.find((s) => s.resolvedBy === 'cluster' && s.inSnapshot !== 'no') ??
      e.steps.find((s) => s.resolvedBy !== 'cluster');
    t.is(deciding?.route.rule, rule);
    t.true(formatExplanation(e).includes(name));
  });
}

test('explain names the routing domain that carries a name to devnet in resolved mode', (t) => {
  const e = explainName('hello.demo', ctx('resolved'));
  t.is(e.steps[0]?.via, 'routing domain ~hello.demo sends it to devnet');
  t.regex(e.summary, /hello\.demo\.svc\.cluster\.local/);
  t.snapshot(formatExplanation(explainName('example.dev', ctx('resolved'))));
});
