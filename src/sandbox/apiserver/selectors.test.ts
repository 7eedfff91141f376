import test from 'ava';
import fc from 'fast-check';
import type { KubeObject } from './object.ts';
import { findType } from './resources.ts';
import { matchLabelSelectorObject, parseFieldSelector, parseLabelSelector } from './selectors.ts';

const obj = (labels: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'p', namespace: 'ns', labels },
  ...extra,
});

function sel(s: string) {
  const m = parseLabelSelector(s);
  if (typeof m === 'string') throw new Error(m);
  return m;
}

test('label selectors: equality, sets, existence and numeric comparisons', (t) => {
  const o = obj({ app: 'web', tier: 'front', n: '5' });
  t.true(sel('app=web')(o));
  t.true(sel('app==web,tier!=back')(o));
  t.false(sel('app=db')(o));
  t.true(sel('tier in (front, back)')(o));
  t.false(sel('tier notin (front)')(o));
  t.true(sel('app')(o));
  t.true(sel('!legacy')(o));
  t.false(sel('!app')(o));
  t.true(sel('n>3,n<6')(o));
  t.false(sel('n>5')(o));
  t.true(sel('missing!=x')(o), '!= matches objects without the label');
  t.true(sel('')(o));
});

test('label selector syntax errors are messages, never exceptions', (t) => {
  for (const bad of ['a in (b', 'a in b)', '=x', 'a=b c', 'a>x', 'Ä=1'])
    t.is(typeof parseLabelSelector(bad), 'string', bad);
  fc.assert(
    fc.property(fc.string(), (s) => {
      const m = parseLabelSelector(s);
      if (typeof m !== 'string') m(obj({ a: 'b' }));
    }),
    { numRuns: 500, seed: 7 },
  );
  t.pass();
});

test('LabelSelector objects: matchLabels and matchExpressions', (t) => {
  t.true(matchLabelSelectorObject({ matchLabels: { a: '1' } }, { a: '1', b: '2' }));
  t.false(matchLabelSelectorObject({ matchLabels: { a: '1' } }, { a: '2' }));
  t.true(
    matchLabelSelectorObject({ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '2' }),
  );
  t.false(matchLabelSelectorObject({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '2' }));
  t.false(matchLabelSelectorObject(null, {}));
});

test('field selectors per type; unknown fields are refused', (t) => {
  const pods = findType('', 'v1', 'pods')!;
  const m = parseFieldSelector('spec.nodeName=n1,status.phase!=Failed', pods);
  if (typeof m === 'string') throw new Error(m);
  t.true(m(obj({}, { spec: { nodeName: 'n1' }, status: { phase: 'Running' } })));
  t.false(m(obj({}, { spec: { nodeName: 'n2' }, status: { phase: 'Running' } })));
  const empty = parseFieldSelector('spec.nodeName=', pods);
  if (typeof empty === 'string') throw new Error(empty);
  t.true(empty(obj({}, { spec: {} })));
  t.is(parseFieldSelector('spec.bogus=1', pods), 'field label not supported: spec.bogus');
  t.is(
    parseFieldSelector('spec.nodeName=n', findType('', 'v1', 'services')!),
    'field label not supported: spec.nodeName',
  );
  const escaped = parseFieldSelector('metadata.name=a\\,b', pods);
  if (typeof escaped === 'string') throw new Error(escaped);
  t.true(escaped({ metadata: { name: 'a,b' } }));
});
