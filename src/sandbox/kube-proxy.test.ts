import test from 'ava';
import { compileRuleset, serviceRules } from './kube-proxy.ts';

const services = [
  {
    metadata: { namespace: 'demo', name: 'hello' },
    spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  },
  { metadata: { namespace: 'demo', name: 'db' }, spec: { clusterIP: 'None', ports: [{ port: 5432 }] } },
  { metadata: { namespace: 'demo', name: 'empty' }, spec: { clusterIP: '10.96.0.30', ports: [{ port: 81 }] } },
];
const slices = [
  {
    metadata: { namespace: 'demo', name: 'hello-x', labels: { 'kubernetes.io/service-name': 'hello' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [
      { addresses: ['10.244.0.3'], conditions: { ready: true } },
      { addresses: ['10.244.0.2'], conditions: { ready: true } },
      { addresses: ['10.244.0.4'], conditions: { ready: false } },
    ],
  },
];

test('rules carry only ready endpoints, resolved through the slice port, and skip headless services', (t) => {
  const rules = serviceRules(services as never, slices as never);
  t.deepEqual(rules, [
    { id: 'demo/empty:81', clusterIP: '10.96.0.30', port: 81, protocol: 'tcp', endpoints: [] },
    {
      id: 'demo/hello:http',
      clusterIP: '10.96.0.20',
      port: 80,
      protocol: 'tcp',
      endpoints: [
        { ip: '10.244.0.2', port: 8080 },
        { ip: '10.244.0.3', port: 8080 },
      ],
    },
  ]);
});

test('the ruleset DNATs with a random pick, marks hairpin traffic, and replaces the table atomically', (t) => {
  const nft = compileRuleset(serviceRules(services as never, slices as never));
  t.true(nft.startsWith('table ip devnet-kube-proxy\ndelete table ip devnet-kube-proxy\n'));
  t.regex(nft, /ip daddr 10\.96\.0\.20 tcp dport 80 jump svc-1/);
  t.regex(nft, /numgen random mod 2 vmap \{ 0 : jump svc-1-ep-0, 1 : jump svc-1-ep-1 \}/);
  t.regex(nft, /ip saddr 10\.244\.0\.2 meta mark set meta mark \| 0x4000/);
  t.regex(nft, /meta l4proto tcp dnat to 10\.244\.0\.2:8080/);
  t.notRegex(nft, /10\.96\.0\.30/, 'no rule without endpoints: the node refuses such connections itself');
});
