import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ObjectStore, type StoreEvent } from './store.ts';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('every write bumps one global revision and is replayed after reopening', async (t) => {
  const dir = tempDir(t);
  const s = ObjectStore.open(dir);
  const a = s.put('/configmaps', { metadata: { name: 'a', namespace: 'x' } });
  const b = s.put('/secrets', { metadata: { name: 'b', namespace: 'x' } });
  s.put('/configmaps', { metadata: { name: 'a', namespace: 'x' }, data: { k: 'v' } });
  const gone = s.remove('/secrets', 'x', 'b');
  t.deepEqual(
    [a.metadata.resourceVersion, b.metadata.resourceVersion, gone?.metadata.resourceVersion],
    ['1', '2', '4'],
  );
  t.is(s.rv, 4);
  await s.flushed();
  s.close();
  const r = ObjectStore.open(dir);
  t.is(r.rv, 4);
  t.deepEqual(r.get('/configmaps', 'x', 'a')?.data, { k: 'v' });
  t.is(r.get('/secrets', 'x', 'b'), undefined);
  t.deepEqual(
    r.since(1)?.map((e) => `${e.type} ${e.object.metadata.name} ${e.rv}`),
    ['ADDED b 2', 'MODIFIED a 3', 'DELETED b 4'],
  );
  r.close();
});

test('history is bounded: older revisions are reported as gone', async (t) => {
  const s = ObjectStore.open(tempDir(t), { historyLimit: 3 });
  for (let i = 0; i < 6; i++) s.put('/configmaps', { metadata: { name: `c${i}`, namespace: 'x' } });
  await s.flushed();
  t.is(s.oldestRV, 3);
  t.is(s.since(2), undefined);
  t.deepEqual(
    s.since(3)?.map((e) => e.rv),
    [4, 5, 6],
  );
  t.deepEqual(s.since(6), []);
  s.close();
});

test('compaction writes a snapshot; a reopened store keeps objects and revision but not the old history', async (t) => {
  const dir = tempDir(t);
  const s = ObjectStore.open(dir, { compactBytes: 200 });
  const seen: StoreEvent[] = [];
  s.subscribe((e) => seen.push(e));
  for (let i = 0; i < 5; i++)
    s.put('/configmaps', { metadata: { name: `c${i}`, namespace: 'x' }, data: { pad: 'x'.repeat(60) } });
  await s.flushed();
  t.is(seen.length, 5);
  s.close();
  const r = ObjectStore.open(dir);
  t.is(r.rv, 5);
  t.is(r.list('/configmaps', 'x').length, 5);
  t.true(r.oldestRV >= 3, 'the snapshot is recent');
  t.is(r.since(0), undefined);
  r.close();
});

test('group commit: changes reach watchers and flushed() only after they are on disk, in order', async (t) => {
  const dir = tempDir(t);
  const s = ObjectStore.open(dir);
  const seen: number[] = [];
  s.subscribe((e) => seen.push(e.rv));
  for (let i = 0; i < 20; i++) s.put('/configmaps', { metadata: { name: `c${i}`, namespace: 'x' } });
  t.deepEqual(seen, [], 'nothing is published before the fdatasync');
  t.is(s.get('/configmaps', 'x', 'c19')?.metadata.resourceVersion, '20', 'reads see the change at once');
  const first = s.flushed();
  s.put('/configmaps', { metadata: { name: 'late', namespace: 'x' } });
  await first;
  t.true(seen.length >= 20);
  await s.flushed();
  t.deepEqual(
    seen,
    Array.from({ length: 21 }, (_, i) => i + 1),
  );
  s.close();
  const reopened = ObjectStore.open(dir);
  t.is(reopened.rv, 21);
  reopened.close();
});
