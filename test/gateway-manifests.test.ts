// The gateway manifests: generated from one pure function, checked against
// the `restricted` Pod Security Standard, and the rendered YAML in
// cluster-images/gateway/ must be exactly what the function produces.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import {
  GATEWAY_APP_LABEL,
  GATEWAY_HEALTH_PORT,
  GATEWAY_IMAGE_REPO,
  GATEWAY_SECRET,
  GATEWAY_TLS_SECRET,
  gatewayImage,
  gatewayManifests,
  type KubeObject,
  renderGatewayYaml,
} from '../src/cluster/gateway-manifests.ts';
import { parseGatewayConfig } from '../src/gateway/config.ts';
import { VERSION } from '../src/version.ts';

// biome-ignore lint/suspicious/noExplicitAny: walking untyped Kubernetes objects in assertions
type Any = Record<string, any>;

function podSpec(objs: KubeObject[]): Any {
  const d = objs.find((o) => o.kind === 'Deployment') as Any;
  return d.spec.template.spec;
}

test('cluster-images/gateway/gateway.yaml is rendered from gatewayManifests (run `npm run manifests:gateway`)', (t) => {
  const file = readFileSync(new URL('../cluster-images/gateway/gateway.yaml', import.meta.url), 'utf8');
  t.is(file, renderGatewayYaml());
  const docs = parseAllDocuments(file).map((d) => d.toJSON());
  t.deepEqual(docs, gatewayManifests());
  t.deepEqual(
    docs.map((d) => d.kind),
    ['Namespace', 'ServiceAccount', 'Secret', 'Secret', 'Service', 'Deployment'],
  );
});

// https://kubernetes.io/docs/concepts/security/pod-security-standards/ (baseline + restricted, "latest")
test('the gateway pod passes the restricted Pod Security Standard', (t) => {
  const spec = podSpec(gatewayManifests());
  t.falsy(spec.hostNetwork);
  t.falsy(spec.hostPID);
  t.falsy(spec.hostIPC);
  for (const v of spec.volumes ?? []) t.true(['configMap', 'secret', 'emptyDir', 'projected'].some((k) => k in v));
  const safeSysctls = [
    'kernel.shm_rmid_forced',
    'net.ipv4.ip_local_port_range',
    'net.ipv4.ip_unprivileged_port_start',
    'net.ipv4.tcp_syncookies',
    'net.ipv4.ping_group_range',
    'net.ipv4.ip_local_reserved_ports',
    'net.ipv4.tcp_keepalive_time',
    'net.ipv4.tcp_fin_timeout',
    'net.ipv4.tcp_keepalive_intvl',
    'net.ipv4.tcp_keepalive_probes',
  ];
  for (const s of spec.securityContext.sysctls ?? []) t.true(safeSysctls.includes(s.name), s.name);
  t.is(spec.securityContext.runAsNonRoot, true);
  t.true(spec.securityContext.runAsUser > 0);
  t.is(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  t.is(spec.automountServiceAccountToken, false);
  for (const c of spec.containers as Any[]) {
    const sc = c.securityContext;
    t.is(sc.allowPrivilegeEscalation, false);
    t.falsy(sc.privileged);
    t.deepEqual(sc.capabilities, { drop: ['ALL'] });
    t.is(sc.runAsNonRoot, true);
    t.is(sc.readOnlyRootFilesystem, true);
    t.is(sc.seccompProfile.type, 'RuntimeDefault');
    t.falsy(c.ports?.some((p: Any) => p.hostPort));
    t.truthy(c.resources.requests.cpu && c.resources.requests.memory);
    t.truthy(c.resources.limits.cpu && c.resources.limits.memory);
    t.is(c.readinessProbe.httpGet.port, GATEWAY_HEALTH_PORT);
    t.is(c.readinessProbe.httpGet.path, '/readyz');
    t.is(c.livenessProbe.httpGet.path, '/healthz');
  }
});

test('image, labels and the token Secret follow the agreed interface', (t) => {
  const tls = { certPem: 'CERT', keyPem: 'KEY', fingerprint: 'AB:CD' };
  const objs = gatewayManifests({ namespace: 'dn', version: '9.9.9', token: 's3cret', tls });
  for (const o of objs) if (o.kind !== 'Namespace') t.is(o.metadata.namespace, 'dn');
  const [secret, tlsSecret] = objs.filter((o) => o.kind === 'Secret') as Any[];
  t.is(secret?.metadata.name, GATEWAY_SECRET);
  // What laptops read: the token and the pin — never the private key, which only the gateway's Secret holds.
  t.deepEqual(secret?.stringData, { token: 's3cret', 'tls-fingerprint': 'AB:CD' });
  t.is(tlsSecret?.metadata.name, GATEWAY_TLS_SECRET);
  t.is(tlsSecret?.type, 'kubernetes.io/tls');
  t.deepEqual(tlsSecret?.stringData, { 'tls.crt': 'CERT', 'tls.key': 'KEY' });
  const d = objs.find((o) => o.kind === 'Deployment') as Any;
  const tpl = d.spec.template;
  t.is(tpl.metadata.labels['app.kubernetes.io/name'], GATEWAY_APP_LABEL);
  t.is(tpl.metadata.labels['app.kubernetes.io/version'], '9.9.9');
  t.is(tpl.metadata.annotations['devnet.dev/version'], '9.9.9');
  t.deepEqual(d.spec.selector.matchLabels, { 'app.kubernetes.io/name': GATEWAY_APP_LABEL });
  const c = tpl.spec.containers[0];
  t.is(c.image, 'ghcr.io/devnet-dev/gateway:9.9.9');
  t.deepEqual(c.env, [
    { name: 'DEVNET_GATEWAY_TOKEN', valueFrom: { secretKeyRef: { name: GATEWAY_SECRET, key: 'token' } } },
    {
      name: 'DEVNET_GATEWAY_TLS_CERT',
      valueFrom: { secretKeyRef: { name: GATEWAY_TLS_SECRET, key: 'tls.crt', optional: true } },
    },
    {
      name: 'DEVNET_GATEWAY_TLS_KEY',
      valueFrom: { secretKeyRef: { name: GATEWAY_TLS_SECRET, key: 'tls.key', optional: true } },
    },
  ]);
  const own = gatewayManifests().find((o) => o.kind === 'Deployment') as Any;
  t.is(own.spec.template.metadata.labels['app.kubernetes.io/version'], VERSION);
});

test('the container args are valid gateway flags: tunnel on loopback, health on all addresses', (t) => {
  const c = podSpec(gatewayManifests()).containers[0];
  const cfg = parseGatewayConfig(c.args, { DEVNET_GATEWAY_TOKEN: 'x' }, () => '');
  t.deepEqual(cfg.listen, { host: '127.0.0.1', port: 8300 });
  t.deepEqual(cfg.healthListen, { host: '0.0.0.0', port: GATEWAY_HEALTH_PORT });
});

test('the gateway pod widens its ephemeral port range, since it closes first towards destinations (TIME-WAIT)', (t) => {
  // The laptop's FIN becomes the gateway's FIN, so every closed flow leaves a 60 s TIME-WAIT on a gateway
  // port: with Linux's default 32768-60999 that caps one destination at ~470 new connections per second.
  const sysctls = podSpec(gatewayManifests()).securityContext.sysctls as Array<{ name: string; value: string }>;
  const range = sysctls.find((s) => s.name === 'net.ipv4.ip_local_port_range')?.value ?? '';
  const [low, high] = range.split(/\s+/).map(Number) as [number, number];
  t.true(low >= 1024, 'not below ip_unprivileged_port_start: the kernel refuses such a range');
  t.is(high, 65535);
  t.true(high - low + 1 >= 2 * (60999 - 32768 + 1), `${high - low + 1} ports`);
});

test('DEVNET_GATEWAY_IMAGE names the image of the gateway and of intercept pods (a mirror registry or a local build)', (t) => {
  t.is(gatewayImage('1.2.3', {}), `${GATEWAY_IMAGE_REPO}:1.2.3`);
  t.is(
    gatewayImage('1.2.3', { DEVNET_GATEWAY_IMAGE: 'mirror.corp/devnet/gateway:1.2.3' }),
    'mirror.corp/devnet/gateway:1.2.3',
  );
  const saved = process.env.DEVNET_GATEWAY_IMAGE;
  process.env.DEVNET_GATEWAY_IMAGE = 'mirror.corp/devnet/gateway:x';
  try {
    const dep = gatewayManifests().find((o) => o.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    t.is(dep.spec.template.spec.containers[0]?.image, 'mirror.corp/devnet/gateway:x');
  } finally {
    if (saved === undefined) delete process.env.DEVNET_GATEWAY_IMAGE;
    else process.env.DEVNET_GATEWAY_IMAGE = saved;
  }
});
