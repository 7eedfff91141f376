import test from 'ava';
import fc from 'fast-check';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.ts';

test('JSON Patch: RFC 6902 appendix examples (add, remove, replace, move, copy, test)', (t) => {
  t.deepEqual(applyJsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }]), { foo: 'bar', baz: 'qux' });
  t.deepEqual(applyJsonPatch({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }]), {
    foo: ['bar', 'qux', 'baz'],
  });
  t.deepEqual(applyJsonPatch({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: 'x' }]), { foo: ['bar', 'x'] });
  t.deepEqual(applyJsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }]), { foo: 'bar' });
  t.deepEqual(applyJsonPatch({ baz: 'qux' }, [{ op: 'replace', path: '/baz', value: 'boo' }]), { baz: 'boo' });
  t.deepEqual(
    applyJsonPatch({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [
      { op: 'move', from: '/foo/waldo', path: '/qux/thud' },
    ]),
    { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
  );
  t.deepEqual(applyJsonPatch({ a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }]), { a: { b: 1 }, c: { b: 1 } });
  t.deepEqual(
    applyJsonPatch({ 'a/b': 1, 'm~n': 2 }, [
      { op: 'replace', path: '/a~1b', value: 3 },
      { op: 'remove', path: '/m~0n' },
    ]),
    { 'a/b': 3 },
  );
  t.notThrows(() => applyJsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'qux' }]));
  t.throws(() => applyJsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]), {
    instanceOf: PatchError,
  });
});

test('JSON Patch: errors are PatchErrors, decode errors flagged, and the input is never changed', (t) => {
  const doc = { a: [1, 2] };
  const missing = t.throws(() => applyJsonPatch(doc, [{ op: 'remove', path: '/b' }]), { instanceOf: PatchError });
  t.false(missing?.undecodable);
  t.true(t.throws(() => applyJsonPatch(doc, { op: 'add' }), { instanceOf: PatchError })?.undecodable);
  t.true(t.throws(() => applyJsonPatch(doc, [{ op: 'frob', path: '/a' }]), { instanceOf: PatchError })?.undecodable);
  t.throws(() => applyJsonPatch(doc, [{ op: 'add', path: '/a/5', value: 0 }]), { instanceOf: PatchError });
  t.throws(() => applyJsonPatch(doc, [{ op: 'add', path: 'a', value: 0 }]), { instanceOf: PatchError });
  t.deepEqual(doc, { a: [1, 2] });
});

test('JSON Patch never throws anything but PatchError on arbitrary input', (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (doc, patch) => {
      try {
        applyJsonPatch(doc, patch);
      } catch (err) {
        if (!(err instanceof PatchError)) throw err;
      }
    }),
    { numRuns: 300, seed: 42 },
  );
  t.pass();
});

test('merge patch: RFC 7386 section 3 examples', (t) => {
  t.deepEqual(applyMergePatch({ a: 'b' }, { a: 'c' }), { a: 'c' });
  t.deepEqual(applyMergePatch({ a: 'b' }, { b: 'c' }), { a: 'b', b: 'c' });
  t.deepEqual(applyMergePatch({ a: 'b' }, { a: null }), {});
  t.deepEqual(applyMergePatch({ a: 'b', b: 'c' }, { a: null }), { b: 'c' });
  t.deepEqual(applyMergePatch({ a: ['b'] }, { a: 'c' }), { a: 'c' });
  t.deepEqual(applyMergePatch({ a: 'c' }, { a: ['b'] }), { a: ['b'] });
  t.deepEqual(applyMergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } }), { a: { b: 'd' } });
  t.deepEqual(applyMergePatch({ a: [{ b: 'c' }] }, { a: [1] }), { a: [1] });
  t.deepEqual(applyMergePatch(['a', 'b'], ['c', 'd']), ['c', 'd']);
  t.deepEqual(applyMergePatch({ a: 'b' }, ['c']), ['c']);
  t.deepEqual(applyMergePatch({ e: null }, { a: 1 }), { e: null, a: 1 });
  t.deepEqual(applyMergePatch([1, 2], { a: 'b', c: null }), { a: 'b' });
  t.deepEqual(applyMergePatch({}, { a: { bb: { ccc: null } } }), { a: { bb: {} } });
});

const deployment = {
  spec: {
    template: {
      spec: {
        containers: [
          { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }], ports: [{ containerPort: 80 }] },
          { name: 'side', image: 'side:1' },
        ],
      },
    },
  },
};

test('strategic merge: containers merge by name, env by name, container ports by containerPort', (t) => {
  const out = applyStrategicMergePatch(deployment, {
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'app', image: 'app:2', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 81 }] },
          ],
        },
      },
    },
  }) as typeof deployment;
  const app = out.spec.template.spec.containers[0]!;
  t.is(app.image, 'app:2');
  t.deepEqual(app.env, [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
  ]);
  t.deepEqual(app.ports, [{ containerPort: 80 }, { containerPort: 81 }]);
  t.is(out.spec.template.spec.containers[1]?.name, 'side');
});

test('strategic merge: $patch delete and replace, $retainKeys, $deleteFromPrimitiveList, $setElementOrder', (t) => {
  const del = applyStrategicMergePatch(deployment, {
    spec: {
      template: {
        spec: { containers: [{ name: 'side', $patch: 'delete' }], '$setElementOrder/containers': [{ name: 'app' }] },
      },
    },
  }) as typeof deployment;
  t.deepEqual(
    del.spec.template.spec.containers.map((c) => c.name),
    ['app'],
  );
  const rep = applyStrategicMergePatch(
    { spec: { selector: { a: '1', b: '2' } } },
    { spec: { selector: { $patch: 'replace', c: '3' } } },
  );
  t.deepEqual(rep, { spec: { selector: { c: '3' } } });
  const retain = applyStrategicMergePatch(
    { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } },
    { strategy: { $retainKeys: ['type'], type: 'Recreate' } },
  );
  t.deepEqual(retain, { strategy: { type: 'Recreate' } });
  const fin = applyStrategicMergePatch(
    { metadata: { finalizers: ['a', 'b'] } },
    { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['c'] } },
  );
  t.deepEqual(fin, { metadata: { finalizers: ['b', 'c'] } });
  const svc = applyStrategicMergePatch(
    { spec: { ports: [{ port: 80, name: 'http' }] } },
    { spec: { ports: [{ port: 80, targetPort: 8080 }] } },
  );
  t.deepEqual(svc, { spec: { ports: [{ port: 80, name: 'http', targetPort: 8080 }] } });
  t.deepEqual(applyStrategicMergePatch({ spec: { args: ['a', 'b'] } }, { spec: { args: ['c'] } }), {
    spec: { args: ['c'] },
  });
  t.throws(
    () => applyStrategicMergePatch(deployment, { spec: { template: { spec: { containers: [{ image: 'x' }] } } } }),
    {
      instanceOf: PatchError,
    },
  );
});
