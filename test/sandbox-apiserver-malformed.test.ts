// Bad input from clients gets a Status error with the right code, never a
// crash or a hang: malformed JSON, oversized bodies, unknown resources and
// verbs, broken patches, wrong kinds, bad selectors and resourceVersions.
import { request } from 'node:https';
import test from 'ava';
import { startTestCluster, type TestCluster } from './sandbox-apiserver-support.ts';

let cluster: TestCluster;
test.before(async () => {
  cluster = await startTestCluster();
  await call('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: 'demo' } }));
  await call(
    'POST',
    '/api/v1/namespaces/demo/configmaps',
    JSON.stringify({ metadata: { name: 'c' }, data: { a: '1' } }),
  );
});
test.after.always(async () => {
  await cluster?.close();
});

interface Answer {
  status: number;
  body: string;
  json: { kind?: string; code?: number; reason?: string; message?: string } | undefined;
}

function call(
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${cluster.server.url}${path}`,
      {
        method,
        ca: cluster.server.caCertPem,
        headers: {
          Authorization: `Bearer ${cluster.server.tokens.admin}`,
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: Answer['json'];
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: text, json });
        });
      },
    );
    req.on('error', (e) => reject(new Error(`${method} ${path}: ${e.message}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function expectStatus(t: import('ava').ExecutionContext, a: Answer, code: number, reason: string): Promise<void> {
  t.is(a.status, code, a.body);
  t.is(a.json?.kind, 'Status');
  t.is(a.json?.code, code);
  t.is(a.json?.reason, reason);
}

test('malformed JSON bodies are 400 BadRequest', async (t) => {
  await expectStatus(t, await call('POST', '/api/v1/namespaces/demo/configmaps', '{"metadata": {'), 400, 'BadRequest');
  await expectStatus(t, await call('POST', '/api/v1/namespaces/demo/configmaps', '[1,2]'), 400, 'BadRequest');
  await expectStatus(t, await call('POST', '/api/v1/namespaces/demo/configmaps', '"just a string"'), 400, 'BadRequest');
  await expectStatus(t, await call('POST', '/api/v1/namespaces/demo/configmaps', '{"metadata": 5}'), 400, 'BadRequest');
  await expectStatus(t, await call('PUT', '/api/v1/namespaces/demo/configmaps/c', ''), 400, 'BadRequest');
});

test('bodies over 3 MiB are 413 and the server stays up', async (t) => {
  const huge = JSON.stringify({ metadata: { name: 'big' }, data: { x: 'y'.repeat(4 * 1024 * 1024) } });
  const a = await call('POST', '/api/v1/namespaces/demo/configmaps', huge).catch(() => undefined);
  if (a) await expectStatus(t, a, 413, 'RequestEntityTooLarge');
  const ok = await call('GET', '/api/v1/namespaces/demo/configmaps/c');
  t.is(ok.status, 200);
});

test('unknown paths, resources, groups and subresources are 404', async (t) => {
  await expectStatus(t, await call('GET', '/api/v1/widgets'), 404, 'NotFound');
  await expectStatus(t, await call('GET', '/apis/example.com/v1/things'), 404, 'NotFound');
  await expectStatus(t, await call('GET', '/api/v2/pods'), 404, 'NotFound');
  await expectStatus(t, await call('GET', '/api/v1/namespaces/demo/configmaps/c/bogus'), 404, 'NotFound');
  await expectStatus(t, await call('GET', '/api/v1/namespaces/demo/nodes'), 404, 'NotFound');
  await expectStatus(t, await call('GET', '/nonsense'), 404, 'NotFound');
  await expectStatus(t, await call('GET', '/api/v1/namespaces/demo/configmaps/%E0%A4%A'), 400, 'BadRequest');
});

test('wrong kinds, names and namespaces in bodies are 400', async (t) => {
  await expectStatus(
    t,
    await call(
      'POST',
      '/api/v1/namespaces/demo/configmaps',
      JSON.stringify({ kind: 'Secret', apiVersion: 'v1', metadata: { name: 'x' } }),
    ),
    400,
    'BadRequest',
  );
  await expectStatus(
    t,
    await call(
      'POST',
      '/api/v1/namespaces/demo/configmaps',
      JSON.stringify({ apiVersion: 'apps/v1', metadata: { name: 'x' } }),
    ),
    400,
    'BadRequest',
  );
  const wrongNs = await call(
    'POST',
    '/api/v1/namespaces/demo/configmaps',
    JSON.stringify({ metadata: { name: 'x', namespace: 'other' } }),
  );
  await expectStatus(t, wrongNs, 400, 'BadRequest');
  t.is(wrongNs.json?.message, 'the namespace of the provided object does not match the namespace sent on the request');
  const wrongName = await call(
    'PUT',
    '/api/v1/namespaces/demo/configmaps/c',
    JSON.stringify({ metadata: { name: 'd' } }),
  );
  await expectStatus(t, wrongName, 400, 'BadRequest');
  await expectStatus(
    t,
    await call('POST', '/api/v1/namespaces/nowhere/configmaps', JSON.stringify({ metadata: { name: 'x' } })),
    404,
    'NotFound',
  );
});

test('bad patches: undecodable 400, inapplicable 422, unknown type 415', async (t) => {
  const path = '/api/v1/namespaces/demo/configmaps/c';
  const jp = { 'Content-Type': 'application/json-patch+json' };
  await expectStatus(t, await call('PATCH', path, '{"op":"add"}', jp), 400, 'BadRequest');
  await expectStatus(t, await call('PATCH', path, '[{"op":"explode","path":"/x"}]', jp), 400, 'BadRequest');
  await expectStatus(t, await call('PATCH', path, '[{"op":"remove","path":"/data/missing"}]', jp), 422, 'Invalid');
  await expectStatus(t, await call('PATCH', path, '[{"op":"test","path":"/data/a","value":"2"}]', jp), 422, 'Invalid');
  await expectStatus(
    t,
    await call('PATCH', path, 'not json', { 'Content-Type': 'application/merge-patch+json' }),
    400,
    'BadRequest',
  );
  await expectStatus(
    t,
    await call('PATCH', path, '{}', { 'Content-Type': 'application/apply-patch+yaml' }),
    415,
    'UnsupportedMediaType',
  );
  await expectStatus(t, await call('PATCH', path, '{}', { 'Content-Type': 'text/plain' }), 415, 'UnsupportedMediaType');
  const stale = await call('PATCH', path, '{"metadata":{"resourceVersion":"1"},"data":{"a":"9"}}', {
    'Content-Type': 'application/merge-patch+json',
  });
  await expectStatus(t, stale, 409, 'Conflict');
  const after = await call('GET', path);
  t.is((after.json as { data?: { a?: string } }).data?.a, '1', 'failed patches change nothing');
});

test('bad selectors, resourceVersions and verbs are refused cleanly', async (t) => {
  await expectStatus(t, await call('GET', '/api/v1/pods?labelSelector=a%20in%20(b'), 400, 'BadRequest');
  await expectStatus(t, await call('GET', '/api/v1/pods?fieldSelector=spec.bogus%3D1'), 400, 'BadRequest');
  await expectStatus(t, await call('GET', '/api/v1/pods?watch=true&resourceVersion=abc'), 400, 'BadRequest');
  await expectStatus(t, await call('GET', '/api/v1/pods?continue=garbage'), 400, 'BadRequest');
  await expectStatus(t, await call('OPTIONS', '/api/v1/pods'), 405, 'MethodNotAllowed');
  await expectStatus(t, await call('POST', '/api/v1/namespaces/demo/configmaps/c', '{}'), 405, 'MethodNotAllowed');
  await expectStatus(
    t,
    await call('GET', '/api/v1/pods', undefined, { Accept: 'application/vnd.kubernetes.protobuf' }),
    406,
    'NotAcceptable',
  );
  await expectStatus(
    t,
    await call('DELETE', '/api/v1/namespaces/demo/configmaps/c', '{"propagationPolicy":"Sideways"}'),
    400,
    'BadRequest',
  );
});

test('requests without a valid token are 401 except health and version', async (t) => {
  const anon = await call('GET', '/api/v1/pods', undefined, { Authorization: '' });
  await expectStatus(t, anon, 401, 'Unauthorized');
  const bad = await call('GET', '/api/v1/pods', undefined, { Authorization: 'Bearer wrong' });
  await expectStatus(t, bad, 401, 'Unauthorized');
  for (const p of ['/healthz', '/readyz', '/livez']) {
    const h = await call('GET', p, undefined, { Authorization: '' });
    t.is(h.status, 200);
    t.is(h.body, 'ok');
  }
  const v = await call('GET', '/version/', undefined, { Authorization: '' });
  t.is(v.status, 200);
});

test('discovery documents are served', async (t) => {
  const api = await call('GET', '/api');
  t.deepEqual((api.json as { versions?: string[] }).versions, ['v1']);
  const v1 = (await call('GET', '/api/v1')).json as { resources: { name: string }[] };
  t.true(v1.resources.some((r) => r.name === 'pods/portforward'));
  const apps = (await call('GET', '/apis/apps/v1')).json as { resources: { name: string; shortNames?: string[] }[] };
  t.deepEqual(apps.resources.find((r) => r.name === 'deployments')?.shortNames, ['deploy']);
  const groups = (await call('GET', '/apis')).json as { groups: { name: string }[] };
  for (const g of ['apps', 'discovery.k8s.io', 'networking.k8s.io', 'rbac.authorization.k8s.io'])
    t.true(
      groups.groups.some((x) => x.name === g),
      g,
    );
  const agg = await call('GET', '/apis', undefined, {
    Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
  });
  t.is((agg.json as { kind?: string }).kind, 'APIGroupDiscoveryList');
  const group = (await call('GET', '/apis/networking.k8s.io')).json as { preferredVersion?: { version: string } };
  t.is(group.preferredVersion?.version, 'v1');
});
