import test from 'ava';
import { findType } from './resources.ts';
import { humanDuration, tableFor } from './table.ts';

test('humanDuration matches apimachinery duration.HumanDuration', (t) => {
  const s = 1000;
  const cases: [number, string][] = [
    [-5 * s, '<invalid>'],
    [0, '0s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [120 * s, '2m'],
    [150 * s, '2m30s'],
    [10 * 60 * s, '10m'],
    [179 * 60 * s, '179m'],
    [3 * 3600 * s, '3h'],
    [(3 * 3600 + 5 * 60) * s, '3h5m'],
    [8 * 3600 * s, '8h'],
    [47 * 3600 * s, '47h'],
    [50 * 3600 * s, '2d2h'],
    [10 * 86400 * s, '10d'],
    [800 * 86400 * s, '2y70d'],
    [9 * 365 * 86400 * s, '9y'],
  ];
  for (const [ms, want] of cases) t.is(humanDuration(ms), want, String(ms));
});

test('pod rows: ready count, status from container states, restarts', (t) => {
  const pods = findType('', 'v1', 'pods')!;
  const now = Date.parse('2026-01-01T00:10:00Z');
  const pod = (status: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    metadata: { name: 'p', creationTimestamp: '2026-01-01T00:00:00Z', ...extra },
    spec: { containers: [{ name: 'a' }, { name: 'b' }] },
    status,
  });
  const table = tableFor(
    pods,
    '/pods',
    [
      pod({
        phase: 'Running',
        containerStatuses: [
          { name: 'a', ready: true, restartCount: 2, state: { running: {} } },
          { name: 'b', ready: true, restartCount: 1, state: { running: {} } },
        ],
      }),
      pod({ phase: 'Pending', containerStatuses: [{ name: 'a', state: { waiting: { reason: 'ImagePullBackOff' } } }] }),
      pod({ phase: 'Running' }, { deletionTimestamp: '2026-01-01T00:09:00Z' }),
    ],
    { include: 'None', now, withKind: (o) => o },
  ) as { rows: { cells: unknown[] }[]; columnDefinitions: { name: string; priority: number }[] };
  t.deepEqual(
    table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name),
    ['Name', 'Ready', 'Status', 'Restarts', 'Age'],
  );
  t.deepEqual(table.rows[0]?.cells.slice(0, 5), ['p', '2/2', 'Running', '3', '10m']);
  t.deepEqual(table.rows[1]?.cells.slice(1, 3), ['0/2', 'ImagePullBackOff']);
  t.is(table.rows[2]?.cells[2], 'Terminating');
});
