import test from 'ava';
import {
  judgeLeases,
  type LeaseReport,
  lapseNote,
  leftAtSeat,
  parseLeaseReport,
  planTakeover,
  type Verdict,
  withoutLapsed,
} from './lapse.ts';
import { type Entry, entries, LeaseClock, type ServiceLike, withEntry } from './model.ts';

const svc = (): ServiceLike => ({
  metadata: { name: 'hello', namespace: 'demo', resourceVersion: '7' },
  spec: { selector: { app: 'hello' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
});

const entry = (name: string, over: Partial<Entry> = {}): Entry => ({
  name,
  owner: 'alice',
  key: 'a'.repeat(43),
  host: 'laptop-a',
  seat: 'laptop-a:/run/devnet/user-1000',
  session: `s-${name}`,
  headers: {},
  ports: [{ servicePort: 80, targetPort: 8080, local: 9000 }],
  renewed: '2025-01-01T00:00:00.000Z',
  ...over,
});

const report = (...leases: LeaseReport['leases']): LeaseReport => ({ leases });
const TTL = 15_000;

test('judgeLeases: the pod saw the value we read stand still for the TTL → lapsed, by the pod', (t) => {
  const s = withEntry(svc(), entry('hello'));
  const [v] = judgeLeases(s, report({ name: 'hello', renewed: '2025-01-01T00:00:00.000Z', unchangedMs: 40_000 }), []);
  t.like(v, { name: 'hello', state: 'lapsed', unchangedMs: 40_000, by: 'pod' });
  t.is(v?.entry?.owner, 'alice');
});

test('judgeLeases: the pod saw it for less than the TTL → live; one millisecond short is not enough', (t) => {
  const s = withEntry(svc(), entry('hello'));
  const [v] = judgeLeases(s, report({ name: 'hello', renewed: entry('x').renewed, unchangedMs: TTL - 1 }), []);
  t.is(v?.state, 'live');
  const [w] = judgeLeases(s, report({ name: 'hello', renewed: entry('x').renewed, unchangedMs: TTL }), []);
  t.is(w?.state, 'lapsed');
});

test('judgeLeases: a value the pod saw differ from ours was just renewed → live, however long the pod waited', (t) => {
  const s = withEntry(svc(), entry('hello'));
  const [v] = judgeLeases(s, report({ name: 'hello', renewed: '2025-01-01T00:00:04.000Z', unchangedMs: 99_000 }), []);
  t.is(v?.state, 'live');
});

test('judgeLeases: no word from the pod → this laptop’s own observation on a fake clock decides', (t) => {
  const clock = new LeaseClock();
  let s = withEntry(svc(), entry('hello'));
  t.is(judgeLeases(s, undefined, clock.observe(s, 0))[0]?.state, 'unknown');
  t.is(judgeLeases(s, undefined, clock.observe(s, 14_999))[0]?.state, 'unknown');
  s = withEntry(s, entry('hello', { renewed: '2025-01-01T00:00:04.000Z' }));
  t.is(judgeLeases(s, undefined, clock.observe(s, 16_000))[0]?.state, 'unknown', 'renewed: the watch restarts');
  const [v] = judgeLeases(s, undefined, clock.observe(s, 31_000));
  t.like(v, { state: 'lapsed', by: 'laptop', unchangedMs: 15_000 });
});

test('judgeLeases: a pod that knows less (restarted) does not hide what this laptop watched', (t) => {
  const clock = new LeaseClock();
  const s = withEntry(svc(), entry('hello'));
  clock.observe(s, 0);
  const own = clock.observe(s, 20_000);
  const [v] = judgeLeases(s, report({ name: 'hello', renewed: entry('x').renewed, unchangedMs: 2000 }), own);
  t.like(v, { state: 'lapsed', by: 'laptop', unchangedMs: 20_000 });
});

test('judgeLeases: an entry the pod has not seen yet is not judged by the pod', (t) => {
  const s = withEntry(svc(), entry('new'));
  t.is(judgeLeases(s, report(), [])[0]?.state, 'unknown');
});

test('judgeLeases: a malformed entry is judged by its whole annotation value', (t) => {
  const s = svc();
  (s.metadata as { annotations: Record<string, string> }).annotations = { 'intercept.devnet.dev/x': '{bad' };
  const [v] = judgeLeases(s, report({ name: 'x', renewed: '{bad', unchangedMs: 20_000 }), []);
  t.like(v, { name: 'x', entry: undefined, state: 'lapsed' });
});

const verdict = (name: string, state: Verdict['state'], e = entry(name)): Verdict => ({
  name,
  entry: e,
  renewed: e.renewed,
  state,
  unchangedMs: state === 'lapsed' ? 40_000 : 1000,
  by: 'pod',
});

test('planTakeover: every intercept lapsed → restore them all, then proceed (same name included)', (t) => {
  const s = withEntry(withEntry(svc(), entry('hello')), entry('other', { headers: { 'x-dev': 'a' } }));
  const mine = entry('hello', { owner: 'bob', key: 'b'.repeat(43), session: 'bob' });
  const plan = planTakeover(s, mine, [verdict('hello', 'lapsed'), verdict('other', 'lapsed')]);
  t.is(plan.kind, 'proceed');
  t.deepEqual(plan.kind === 'proceed' ? plan.restore.map((v) => v.name) : [], ['hello', 'other']);
});

test('planTakeover: a live intercept in the way refuses as ever, naming its owner, and restores nothing', (t) => {
  const s = withEntry(withEntry(svc(), entry('hello')), entry('carol', { owner: 'carol', headers: { 'x-dev': 'c' } }));
  const mine = entry('bob', { owner: 'bob', key: 'b'.repeat(43), session: 'bob' });
  const plan = planTakeover(s, mine, [verdict('hello', 'lapsed'), verdict('carol', 'live')]);
  t.is(plan.kind, 'refused');
  t.regex(plan.kind === 'refused' ? plan.refusal.message : '', /already has a personal intercept carol by carol/);
});

test('planTakeover: a lapsed one in the way and a live one beside it → restore the lapsed, keep the live', (t) => {
  const s = withEntry(
    withEntry(svc(), entry('alice', { headers: { 'x-dev': 'bob' } })),
    entry('carol', { owner: 'carol', headers: { 'x-dev': 'c' } }),
  );
  const mine = entry('bob', { owner: 'bob', key: 'b'.repeat(43), session: 'bob', headers: { 'x-dev': 'bob' } });
  const plan = planTakeover(s, mine, [verdict('alice', 'lapsed'), verdict('carol', 'live')]);
  t.deepEqual(plan.kind === 'proceed' ? plan.restore.map((v) => v.name) : plan.kind, ['alice']);
});

test('planTakeover: only unjudged intercepts in the way → watch them; live ones in the way → refused at once', (t) => {
  const s = withEntry(svc(), entry('hello'));
  const mine = entry('bob', { owner: 'bob', key: 'b'.repeat(43), session: 'bob' });
  const plan = planTakeover(s, mine, [verdict('hello', 'unknown')]);
  t.deepEqual(plan.kind === 'undecided' ? plan.watch.map((v) => v.name) : plan.kind, ['hello']);
  const two = withEntry(s, entry('carol', { owner: 'carol', mirror: true }));
  t.is(planTakeover(two, mine, [verdict('hello', 'unknown'), verdict('carol', 'live')]).kind, 'refused');
});

test('planTakeover: nothing in the way → proceed without restoring an intercept not yet lapsed', (t) => {
  const s = withEntry(svc(), entry('alice', { headers: { 'x-dev': 'a' } }));
  const mine = entry('bob', { owner: 'bob', key: 'b'.repeat(43), session: 'bob', headers: { 'x-dev': 'b' } });
  t.deepEqual(planTakeover(s, mine, [verdict('alice', 'unknown')]), { kind: 'proceed', restore: [] });
});

test('leftAtSeat: only this user’s entries from this seat under another key — never another seat’s, even on this machine', (t) => {
  const me = { owner: 'alice', seat: 'laptop-a:/run/devnet/user-1000', key: 'k'.repeat(43) };
  let s = withEntry(svc(), entry('crashed', { headers: { 'x-dev': '1' } }));
  s = withEntry(s, entry('mine-now', { key: me.key, headers: { 'x-dev': '2' } }));
  s = withEntry(s, entry('other-seat', { seat: 'laptop-a:/tmp/other/user-1000', headers: { 'x-dev': '3' } }));
  s = withEntry(s, entry('other-user', { owner: 'bob', headers: { 'x-dev': '4' } }));
  s = withEntry(s, entry('old-version', { seat: undefined, headers: { 'x-dev': '5' } }));
  t.deepEqual(leftAtSeat(s, me), ['crashed']);
});

test('lapseNote names the owner, the intercept and since when, and says whose clock', (t) => {
  t.is(
    lapseNote('demo', 'hello', [verdict('hello', 'lapsed')], true),
    "restored demo/hello: alice's intercept hello had lapsed 25 s ago (not renewed for 40 s, by the intercept pod's clock)",
  );
  const v = { ...verdict('x', 'lapsed'), entry: undefined, by: 'laptop' as const, unchangedMs: 15_400 };
  t.is(
    lapseNote('demo', 'hello', [v], false),
    "removed from demo/hello: an unknown owner's intercept x (malformed) had lapsed 0 s ago (not renewed for 15 s, by this machine's clock)",
  );
});

test('parseLeaseReport accepts the pod’s answer and nothing else', (t) => {
  t.deepEqual(parseLeaseReport({ leases: [{ name: 'a', renewed: 'r', unchangedMs: 5, extra: 1 }] }), {
    leases: [{ name: 'a', renewed: 'r', unchangedMs: 5 }],
  });
  for (const bad of [
    null,
    'x',
    {},
    { leases: {} },
    { leases: [{ name: 'a', renewed: 'r', unchangedMs: -1 }] },
    { leases: [{ name: 'a', renewed: 'r', unchangedMs: 1.5 }] },
    { leases: [{ name: 1, renewed: 'r', unchangedMs: 1 }] },
    { leases: [{ name: 'a', unchangedMs: 1 }] },
  ])
    t.is(parseLeaseReport(bad), undefined, JSON.stringify(bad));
});

test('withoutLapsed removes only entries still holding the judged value: a renewal racing the restore keeps its intercept', (t) => {
  const judged = entry('alice', { headers: { 'x-dev': 'a' } });
  const s = withEntry(withEntry(svc(), judged), entry('carol', { owner: 'carol', headers: { 'x-dev': 'c' } }));
  const renewedSince = withEntry(s, { ...judged, renewed: '2025-01-01T00:00:04.000Z' });
  t.is(withoutLapsed(renewedSince, [{ name: 'alice', renewed: judged.renewed }]), undefined);
  const r = withoutLapsed(s, [
    { name: 'alice', renewed: judged.renewed },
    { name: 'gone', renewed: judged.renewed },
  ]);
  t.deepEqual(r?.removed, ['alice']);
  t.false(r?.last);
  t.deepEqual([...entries(r?.service ?? svc()).keys()], ['carol'], 'the live intercept beside it stays');
  t.not(r?.service.spec?.selector?.app, 'hello', 'still pointed at the intercept pod');
  const all = withoutLapsed(s, [
    { name: 'alice', renewed: judged.renewed },
    { name: 'carol', renewed: judged.renewed },
  ]);
  t.true(all?.last);
  t.deepEqual(all?.service.spec?.selector, { app: 'hello' }, 'the original selector is back');
  t.deepEqual(all?.service.metadata?.annotations, {});
});
