import test from 'ava';
import fc from 'fast-check';
import { parseResourcePath } from './server.ts';
import { ApiError } from './status.ts';

test('resource URLs resolve to type, namespace, name and subresource', (t) => {
  const r = parseResourcePath('/api/v1/namespaces/demo/pods/gw/portforward');
  t.false(r instanceof ApiError);
  const ok = r as Exclude<typeof r, ApiError | undefined>;
  t.deepEqual([ok.type.resource, ok.namespace, ok.name, ok.subresource], ['pods', 'demo', 'gw', 'portforward']);
  const ns = parseResourcePath('/api/v1/namespaces/demo') as typeof ok;
  t.deepEqual([ns.type.resource, ns.namespace, ns.name], ['namespaces', undefined, 'demo']);
  const status = parseResourcePath('/api/v1/namespaces/demo/status') as typeof ok;
  t.deepEqual([status.type.resource, status.name, status.subresource], ['namespaces', 'demo', 'status']);
  const watch = parseResourcePath('/apis/apps/v1/watch/namespaces/x/deployments') as typeof ok;
  t.deepEqual([watch.type.kind, watch.namespace, watch.name], ['Deployment', 'x', undefined]);
  t.is(parseResourcePath('/version'), undefined);
  t.is(parseResourcePath('/api/v1'), undefined);
  t.is((parseResourcePath('/api/v1/namespaces/x/nodes') as ApiError).code, 404);
  t.is((parseResourcePath('/api/v1/pods/a/b/c') as ApiError).code, 404);
  t.is((parseResourcePath('/api/v1/pods/%E0%A4%A') as ApiError).code, 400);
});

test('path parsing never throws on arbitrary input', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(fc.constantFrom('api', 'apis', 'v1', 'namespaces', 'pods', 'watch', 'apps', '%', '%zz'), fc.string()),
        { maxLength: 8 },
      ),
      (segs) => {
        parseResourcePath(`/${segs.join('/')}`);
      },
    ),
    { numRuns: 1000, seed: 11 },
  );
  t.pass();
});
