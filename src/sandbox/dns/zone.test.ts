import test from 'ava';
import dns2 from 'dns2';
import { answerQuery } from './server.ts';
import { reverseName, Zone } from './zone.ts';

const services = [
  {
    metadata: { namespace: 'demo', name: 'hello' },
    spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  },
  {
    metadata: { namespace: 'demo', name: 'db' },
    spec: { clusterIP: 'None', ports: [{ name: 'postgres', port: 5432 }] },
  },
  {
    metadata: { namespace: 'demo', name: 'ext' },
    spec: { type: 'ExternalName', externalName: 'hello.demo.svc.cluster.local' },
  },
];
const slices = [
  {
    metadata: { namespace: 'demo', name: 'db-abcde', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType: 'IPv4',
    ports: [{ name: 'postgres', port: 5432, protocol: 'TCP' }],
    endpoints: [
      { addresses: ['10.244.0.7'], hostname: 'db-0', conditions: { ready: true } },
      { addresses: ['10.244.0.8'], hostname: 'db-1', conditions: { ready: true } },
      { addresses: ['10.244.0.9'], hostname: 'db-2', conditions: { ready: false } },
    ],
  },
];
const pods = [{ metadata: { namespace: 'demo', name: 'hello-x' }, status: { podIP: '10.244.0.5' } }];
const zone = new Zone(services as never, slices as never, pods as never);

test('a ClusterIP service answers its ClusterIP, case-insensitively and with a final dot', (t) => {
  t.deepEqual(zone.lookup('Hello.Demo.svc.cluster.local.', 'A').answers, [
    { name: 'hello.demo.svc.cluster.local', type: 'A', address: '10.96.0.20' },
  ]);
});

test('an existing name without AAAA records is NODATA, a missing one NXDOMAIN', (t) => {
  const nodata = zone.lookup('hello.demo.svc.cluster.local', 'AAAA');
  t.is(nodata.rcode, 'NOERROR');
  t.deepEqual(nodata.answers, []);
  t.is(zone.lookup('demo.svc.cluster.local', 'A').rcode, 'NOERROR');
  t.is(zone.lookup('nope.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
  t.is(zone.lookup('hello.nope.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
});

test('names outside cluster.local are refused, never forwarded', (t) => {
  t.is(zone.lookup('example.com', 'A').rcode, 'REFUSED');
  t.is(zone.lookup('1.1.1.1.in-addr.arpa', 'PTR').rcode, 'REFUSED');
});

test('SRV for a named port points at the service name', (t) => {
  const a = zone.lookup('_http._tcp.hello.demo.svc.cluster.local', 'SRV');
  t.deepEqual(a.answers, [
    {
      name: '_http._tcp.hello.demo.svc.cluster.local',
      type: 'SRV',
      priority: 0,
      weight: 100,
      port: 80,
      target: 'hello.demo.svc.cluster.local',
    },
  ]);
  t.deepEqual(
    a.additionals.map((r) => r.type),
    ['A'],
  );
});

test('a headless service answers its ready endpoints and their hostnames', (t) => {
  const all = zone.lookup('db.demo.svc.cluster.local', 'A').answers.map((r) => (r as { address: string }).address);
  t.deepEqual(all, ['10.244.0.7', '10.244.0.8']);
  t.deepEqual(zone.lookup('db-1.db.demo.svc.cluster.local', 'A').answers, [
    { name: 'db-1.db.demo.svc.cluster.local', type: 'A', address: '10.244.0.8' },
  ]);
  t.is(zone.lookup('db-2.db.demo.svc.cluster.local', 'A').rcode, 'NXDOMAIN');
  const srv = zone.lookup('_postgres._tcp.db.demo.svc.cluster.local', 'SRV').answers;
  t.deepEqual(srv.map((r) => (r as { target: string }).target).sort(), [
    'db-0.db.demo.svc.cluster.local',
    'db-1.db.demo.svc.cluster.local',
  ]);
});

test('ExternalName answers a CNAME and follows it inside the zone', (t) => {
  const a = zone.lookup('ext.demo.svc.cluster.local', 'A');
  t.deepEqual(a.answers, [
    { name: 'ext.demo.svc.cluster.local', type: 'CNAME', target: 'hello.demo.svc.cluster.local' },
    { name: 'hello.demo.svc.cluster.local', type: 'A', address: '10.96.0.20' },
  ]);
});

test('PTR names services, headless endpoints and pods', (t) => {
  const ptr = (ip: string) =>
    (zone.lookup(reverseName(ip), 'PTR').answers[0] as { target: string } | undefined)?.target;
  t.is(ptr('10.96.0.20'), 'hello.demo.svc.cluster.local');
  t.is(ptr('10.244.0.7'), 'db-0.db.demo.svc.cluster.local');
  t.is(ptr('10.244.0.5'), '10-244-0-5.demo.pod.cluster.local');
  t.is(zone.lookup(reverseName('10.244.0.99'), 'PTR').rcode, 'NXDOMAIN');
  t.deepEqual(zone.lookup('10-244-0-5.demo.pod.cluster.local', 'A').answers, [
    { name: '10-244-0-5.demo.pod.cluster.local', type: 'A', address: '10.244.0.5' },
  ]);
});

test('answerQuery encodes answers, NXDOMAIN with an SOA, and survives garbage', (t) => {
  const counters = { queries: 0, malformed: 0 };
  const q = new dns2.Packet();
  q.header.id = 4242;
  q.header.rd = 1;
  q.questions.push({
    name: 'hello.demo.svc.cluster.local',
    type: dns2.Packet.TYPE.A,
    class: dns2.Packet.CLASS.IN,
  } as never);
  const res = dns2.Packet.parse(answerQuery(q.toBuffer(), zone, counters) as Buffer);
  t.is(res.header.id, 4242);
  t.is(res.header.rcode, 0);
  t.is((res.answers[0] as unknown as { address: string }).address, '10.96.0.20');
  q.questions[0] = {
    name: 'missing.demo.svc.cluster.local',
    type: dns2.Packet.TYPE.A,
    class: dns2.Packet.CLASS.IN,
  } as never;
  const nx = dns2.Packet.parse(answerQuery(q.toBuffer(), zone, counters) as Buffer);
  t.is(nx.header.rcode, 3);
  t.is(nx.authorities[0]?.type, dns2.Packet.TYPE.SOA);
  t.is(answerQuery(Buffer.from([1, 2, 3]), zone, counters), undefined);
  const garbage = Buffer.alloc(40, 0xff);
  const out = answerQuery(garbage, zone, counters);
  t.true(out === undefined || out.length >= 12);
  t.true(counters.malformed >= 1);
});
