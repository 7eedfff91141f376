import test from 'ava';
import { DevnetError } from '../errors.ts';
import { choosePorts, parsePortSpec } from './ports.ts';

const ports = [
  { name: 'http', port: 80, targetPort: 8080 },
  { name: 'grpc', port: 81, targetPort: 9090 },
  { port: 82, targetPort: 8082 },
];

test('parsePortSpec reads LOCAL, LOCAL:NUMBER and LOCAL:NAME', (t) => {
  t.deepEqual(parsePortSpec('9000'), { local: 9000, service: undefined });
  t.deepEqual(parsePortSpec('9000:80'), { local: 9000, service: 80 });
  t.deepEqual(parsePortSpec('9000:http'), { local: 9000, service: 'http' });
  for (const bad of ['', 'x', '0', '70000', '9000:', '9000:0', '9000:HTTP', '9000:-a', '9000:80:1'])
    t.throws(() => parsePortSpec(bad), { instanceOf: DevnetError, message: /is not LOCAL\[:SVCPORT\]/ }, bad);
});

test('choosePorts maps several specs by number and name; the others stay with the pods', (t) => {
  t.deepEqual(choosePorts('demo/x', [parsePortSpec('9001:80'), parsePortSpec('9002:grpc')], ports), [
    { servicePort: 80, targetPort: 8080, local: 9001 },
    { servicePort: 81, targetPort: 9090, local: 9002 },
  ]);
});

test('choosePorts refuses a missing SVCPORT on a Service with several ports, unknown ports and doubles', (t) => {
  t.throws(() => choosePorts('demo/x', [parsePortSpec('9000')], ports), {
    message: 'Service demo/x has several ports (80 (http), 81 (grpc), 82)',
  });
  t.throws(() => choosePorts('demo/x', [parsePortSpec('9000:83')], ports), {
    message: 'Service demo/x has no port 83',
  });
  t.throws(() => choosePorts('demo/x', [parsePortSpec('9000:http'), parsePortSpec('9001:80')], ports), {
    message: '--port names Service port 80 (http) twice',
  });
  t.deepEqual(choosePorts('demo/y', [parsePortSpec('9000')], [{ port: 80, targetPort: 8080 }]), [
    { servicePort: 80, targetPort: 8080, local: 9000 },
  ]);
});
