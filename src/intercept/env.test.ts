import { execFileSync } from 'node:child_process';
import type { V1Pod, V1Service, V1ServicePort } from '@kubernetes/client-node';
import test from 'ava';
import { containerEnvironment, formatEnv, parseQuantity, serviceLinkVars } from './env.ts';

const svc = (name: string, ns: string, ip: string, ports: V1ServicePort[]): V1Service => ({
  metadata: { name, namespace: ns },
  spec: { clusterIP: ip, ports },
});

const services = [
  svc('hello-web', 'demo', '10.96.0.20', [
    { name: 'http', port: 80, protocol: 'TCP' },
    { name: 'admin', port: 9090 },
  ]),
  svc('db', 'demo', 'None', [{ port: 5432 }]),
  svc('kubernetes', 'default', '10.96.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]),
  svc('elsewhere', 'other', '10.96.0.30', [{ port: 80 }]),
];

const pod: V1Pod = {
  metadata: { name: 'web-1', namespace: 'demo', uid: 'u-1', labels: { app: 'web' } },
  spec: {
    nodeName: 'node-a',
    containers: [
      {
        name: 'web',
        resources: { limits: { cpu: '1500m', memory: '128Mi' }, requests: { cpu: '250m' } },
        envFrom: [{ configMapRef: { name: 'cfg' } }, { prefix: 'S_', secretRef: { name: 'sec' } }],
        env: [
          { name: 'PLAIN', value: 'x-$(FROM_CM)-$$(NOPE)-$(UNKNOWN)' },
          { name: 'FROM_CM', value: 'overridden' },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
          { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
          { name: 'KEY', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
          { name: 'MISSING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nope', optional: true } } },
        ],
      },
    ],
  },
  status: { podIP: '10.244.0.9' },
};

const lookup = {
  configMap: (n: string) => (n === 'cfg' ? { data: { FROM_CM: 'cm-value', LOG: 'debug' } } : undefined),
  secret: (n: string) => (n === 'sec' ? { data: { password: Buffer.from("p'w\nd").toString('base64') } } : undefined),
};

test('the environment is built like the kubelet builds it', (t) => {
  const { vars, warnings } = containerEnvironment(pod, pod.spec!.containers[0]!, services, lookup);
  t.deepEqual(warnings, []);
  t.is(vars.HELLO_WEB_SERVICE_HOST, '10.96.0.20');
  t.is(vars.HELLO_WEB_SERVICE_PORT, '80');
  t.is(vars.HELLO_WEB_SERVICE_PORT_ADMIN, '9090');
  t.is(vars.HELLO_WEB_PORT, 'tcp://10.96.0.20:80');
  t.is(vars.HELLO_WEB_PORT_9090_TCP_ADDR, '10.96.0.20');
  t.is(vars.KUBERNETES_SERVICE_HOST, '10.96.0.1');
  t.false('DB_SERVICE_HOST' in vars, 'headless Services have no link variables');
  t.false('ELSEWHERE_SERVICE_HOST' in vars, 'other namespaces are not visible');
  t.is(vars.PLAIN, 'x-cm-value-$(NOPE)-$(UNKNOWN)');
  t.is(vars.FROM_CM, 'overridden');
  t.is(vars.LOG, 'debug');
  t.is(vars.S_password, "p'w\nd");
  t.is(vars.POD, 'web-1');
  t.is(vars.APP, 'web');
  t.is(vars.IP, '10.244.0.9');
  t.is(vars.CPU, '2');
  t.is(vars.MEM_MI, '128');
  t.is(vars.KEY, "p'w\nd");
  t.false('MISSING' in vars);
});

test('enableServiceLinks: false keeps only the kubernetes Service’s variables', (t) => {
  const p = { ...pod, spec: { ...pod.spec!, enableServiceLinks: false } };
  const { vars } = containerEnvironment(p, p.spec.containers[0]!, services, lookup);
  t.false('HELLO_WEB_SERVICE_HOST' in vars);
  t.is(vars.KUBERNETES_PORT_443_TCP, 'tcp://10.96.0.1:443');
});

test('a missing non-optional reference is reported, not invented', (t) => {
  const { vars, warnings } = containerEnvironment(pod, pod.spec!.containers[0]!, services, {
    configMap: () => undefined,
    secret: () => undefined,
  });
  t.false('KEY' in vars);
  t.true(warnings.some((w) => /configmap "cfg" not found/.test(w)));
  t.true(warnings.some((w) => /KEY: key password of secret "sec" not found/.test(w)));
});

test('formats: sh quotes everything, docker skips what it cannot carry, json is exact', (t) => {
  const vars = { A: "it's", B: 'two\nlines', 'bad-name': 'v' };
  t.deepEqual(formatEnv(vars, 'sh'), { text: "export A='it'\\''s'\nexport B='two\nlines'\n", skipped: ['bad-name'] });
  t.deepEqual(formatEnv(vars, 'docker'), { text: "A=it's\nbad-name=v\n", skipped: ['B'] });
  t.deepEqual(JSON.parse(formatEnv(vars, 'json').text), vars);
});

test('the sh syntax, sourced by a real shell, gives the exact values', (t) => {
  const vars = { A: 'it\'s $HOME `x` \\ "q"', B: 'two\nlines' };
  const out = execFileSync('sh', ['-c', `${formatEnv(vars, 'sh').text}printf '%s|%s' "$A" "$B"`], { encoding: 'utf8' });
  t.is(out, `${vars.A}|${vars.B}`);
});

test('quantities', (t) => {
  t.is(parseQuantity('500m'), 0.5);
  t.is(parseQuantity('64Mi'), 64 * 2 ** 20);
  t.is(parseQuantity('1e3'), 1000);
  t.is(parseQuantity('2'), 2);
  t.is(parseQuantity('abc'), undefined);
  t.deepEqual(Object.keys(serviceLinkVars([])), []);
});
