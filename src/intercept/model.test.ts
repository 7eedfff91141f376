import test from 'ava';
import {
  checkAdd,
  type Entry,
  entries,
  interceptPodName,
  LeaseClock,
  matches,
  ORIGINAL_SELECTOR_ANNOTATION,
  originalServiceName,
  parseEntry,
  type ServiceLike,
  withEntry,
  withoutEntries,
} from './model.ts';

const svc = (): ServiceLike => ({
  metadata: { name: 'hello', namespace: 'demo', resourceVersion: '7', annotations: { keep: 'me' } },
  spec: { selector: { app: 'hello' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
});

const entry = (name: string, headers: Record<string, string> = {}, session = 's1', owner = 'alice@a'): Entry => ({
  name,
  owner,
  key: 'k'.repeat(43),
  host: 'a',
  session,
  headers,
  ports: [{ servicePort: 80, targetPort: 8080, local: 9000 }],
  renewed: '1',
});

test('withEntry saves the selector once and points the Service at the intercept pod', (t) => {
  const a = withEntry(svc(), entry('alice', { 'x-dev': 'alice' }));
  t.deepEqual(a.spec?.selector, { 'app.kubernetes.io/name': 'devnet-intercept', 'devnet.dev/intercept-for': 'hello' });
  t.is(a.metadata?.annotations?.[ORIGINAL_SELECTOR_ANNOTATION], '{"app":"hello"}');
  t.is(a.metadata?.labels?.['devnet.dev/intercepted'], 'true');
  const b = withEntry(a, entry('bob', { 'x-dev': 'bob' }, 's2', 'bob@b'));
  t.is(
    b.metadata?.annotations?.[ORIGINAL_SELECTOR_ANNOTATION],
    '{"app":"hello"}',
    'not overwritten by the patched one',
  );
  t.deepEqual([...entries(b).keys()].sort(), ['alice', 'bob']);
  t.is(b.metadata?.resourceVersion, '7', 'the replace carries the read resourceVersion');
});

test('withoutEntries restores the original selector and removes every mark only with the last intercept', (t) => {
  const both = withEntry(
    withEntry(svc(), entry('alice', { 'x-dev': 'alice' })),
    entry('bob', { 'x-dev': 'bob' }, 's2'),
  );
  const one = withoutEntries(both, ['alice']);
  t.false(one.last);
  t.not(one.service.spec?.selector?.app, 'hello');
  const none = withoutEntries(one.service, ['bob']);
  t.true(none.last);
  t.deepEqual(none.service, { ...svc(), metadata: { ...svc().metadata, labels: {} } });
});

test('checkAdd: global excludes everything else, naming the owner; personal ones coexist with different headers', (t) => {
  const personal = withEntry(svc(), entry('alice', { 'x-dev': 'alice' }));
  t.regex(
    checkAdd(personal, entry('all', {}, 's2', 'bob@b'))?.message ?? '',
    /already has a personal intercept alice by alice@a/,
  );
  t.is(checkAdd(personal, entry('bob', { 'x-dev': 'bob' }, 's2', 'bob@b')), undefined);
  t.regex(checkAdd(personal, entry('bob', { 'x-dev': 'alice' }, 's2', 'bob@b'))?.message ?? '', /same headers/);
  const global = withEntry(svc(), entry('all', {}, 's2', 'bob@b'));
  t.regex(
    checkAdd(global, entry('alice', { 'x-dev': 'alice' }))?.message ?? '',
    /already has a global intercept all by bob@b/,
  );
  t.regex(checkAdd(global, entry('all', {}, 's3'))?.message ?? '', /named all already exists/);
});

test('checkAdd refuses Services that cannot be intercepted', (t) => {
  t.regex(checkAdd({ ...svc(), spec: { ports: [] } }, entry('a'))?.message ?? '', /no selector/);
  const udp = svc();
  udp.spec?.ports?.push({ port: 7, protocol: 'UDP' });
  t.regex(checkAdd(udp, entry('a'))?.message ?? '', /UDP port \(7\); intercepts carry TCP only/);
  t.regex(checkAdd({ ...svc(), spec: { ...svc().spec, clusterIP: 'None' } }, entry('a'))?.message ?? '', /headless/);
});

test('LeaseClock: a lease expires only after its value stood still for the TTL, by the observer’s clock', (t) => {
  const c = new LeaseClock();
  let s = withEntry(svc(), entry('alice', { 'x-dev': 'a' }));
  t.deepEqual(c.expired(s, 0, 15_000), []);
  t.deepEqual(c.expired(s, 14_999, 15_000), []);
  s = withEntry(s, { ...entry('alice', { 'x-dev': 'a' }), renewed: '2' });
  t.deepEqual(c.expired(s, 20_000, 15_000), [], 'renewed: the clock restarts');
  t.deepEqual(c.expired(s, 34_999, 15_000), []);
  t.deepEqual(c.expired(s, 35_000, 15_000), ['alice']);
});

test('LeaseClock: a malformed entry expires like one never renewed', (t) => {
  const c = new LeaseClock();
  const s = svc();
  (s.metadata as { annotations: Record<string, string> }).annotations['intercept.devnet.dev/x'] = '{not json';
  t.deepEqual(c.expired(s, 0, 10), []);
  t.deepEqual(c.expired(s, 10, 10), ['x']);
});

test('LeaseClock.observe: how long each value stood still; a malformed entry that keeps changing never lapses', (t) => {
  const c = new LeaseClock();
  const s = svc();
  const ann = (s.metadata as { annotations: Record<string, string> }).annotations;
  ann['intercept.devnet.dev/x'] = '{v1';
  t.deepEqual(c.observe(s, 0, 10), [{ name: 'x', renewed: '{v1', unchangedMs: 0, lapsed: false }]);
  ann['intercept.devnet.dev/x'] = '{v2';
  t.deepEqual(c.observe(s, 10, 10), [{ name: 'x', renewed: '{v2', unchangedMs: 0, lapsed: false }]);
  t.deepEqual(c.observe(s, 20, 10), [{ name: 'x', renewed: '{v2', unchangedMs: 10, lapsed: true }]);
  delete ann['intercept.devnet.dev/x'];
  t.deepEqual(c.observe(s, 30, 10), []);
  ann['intercept.devnet.dev/x'] = '{v2';
  t.deepEqual(
    c.observe(s, 40, 10),
    [{ name: 'x', renewed: '{v2', unchangedMs: 0, lapsed: false }],
    'gone and back: watched anew',
  );
});

test('parseEntry rejects shapes and ports that are not an intercept', (t) => {
  t.truthy(parseEntry(JSON.stringify(entry('a'))));
  t.is(parseEntry(JSON.stringify({ ...entry('a'), ports: [{ servicePort: 0, targetPort: 1, local: 1 }] })), undefined);
  t.is(parseEntry(JSON.stringify({ ...entry('a'), headers: { a: 1 } })), undefined);
  t.is(parseEntry('null'), undefined);
  t.is(parseEntry(JSON.stringify({ ...entry('a'), seat: 7 })), undefined);
  t.is(parseEntry(JSON.stringify({ ...entry('a'), seat: 'h:/run/devnet/user-0' }))?.seat, 'h:/run/devnet/user-0');
});

test('matches: every wanted header must be present with its value', (t) => {
  const have = (h: Record<string, string[]>) => (n: string) => h[n];
  t.true(matches({ 'x-dev': 'a' }, have({ 'x-dev': ['b', 'a'] })));
  t.false(matches({ 'x-dev': 'a', 'x-team': 't' }, have({ 'x-dev': ['a'] })));
  t.false(matches({ 'x-dev': 'a' }, have({})));
});

test('names stay valid DNS labels for long Service names', (t) => {
  const long = 'a'.repeat(63);
  t.true(interceptPodName(long, 'abcd1234').length <= 63);
  t.true(originalServiceName(long).length <= 63);
  t.not(originalServiceName(long), originalServiceName(`${'a'.repeat(62)}b`));
});

test('checkAdd: mirrors go with personal intercepts and other mirrors, never with a global one', (t) => {
  const mirror = (name: string, session: string): Entry => ({ ...entry(name, {}, session), mirror: true });
  const withPersonal = withEntry(svc(), entry('alice', { 'x-dev': 'alice' }));
  t.is(checkAdd(withPersonal, mirror('m1', 's2')), undefined);
  const withMirror = withEntry(withPersonal, mirror('m1', 's2'));
  t.is(checkAdd(withMirror, mirror('m2', 's3')), undefined);
  t.is(checkAdd(withMirror, entry('bob', { 'x-dev': 'bob' }, 's3')), undefined);
  t.regex(checkAdd(withMirror, entry('all', {}, 's4'))?.message ?? '', /already has a personal intercept alice/);
  t.regex(
    checkAdd(withEntry(svc(), mirror('m1', 's2')), entry('all', {}, 's4'))?.message ?? '',
    /already has a mirror intercept m1 by alice@a/,
  );
  t.regex(
    checkAdd(withEntry(svc(), entry('all', {}, 's4')), mirror('m1', 's2'))?.message ?? '',
    /already has a global intercept all/,
  );
  t.is(parseEntry(JSON.stringify({ ...mirror('m', 's'), mirror: 'yes' })), undefined);
});
