import test from 'ava';
import { ChannelTable } from './channel-table.ts';

test('the client allocates odd ids and admits increasing even ids from the gateway', (t) => {
  const table = new ChannelTable<{ id: number }, unknown>('client');
  t.is(table.allocate(), 1);
  t.is(table.allocate(), 3);
  t.true(table.knownId(3));
  t.false(table.knownId(5));
  t.true(table.admitPeerId(4));
  t.false(table.admitPeerId(4)); // not increasing
  t.false(table.admitPeerId(2)); // lower than one seen
  t.false(table.admitPeerId(7)); // our parity
  t.true(table.knownId(2)); // below the peer's highest: known (maybe gone)
});

test('remove takes out only that very channel and wakes whenEmpty waiters when the table empties', (t) => {
  const table = new ChannelTable<{ id: number }, unknown>('gateway');
  const a = { id: 2 };
  const b = { id: 4 };
  table.add(a);
  table.add(b);
  let empty = 0;
  table.whenEmpty(() => empty++);
  t.false(table.remove({ id: 2 }));
  t.true(table.remove(a));
  t.is(empty, 0);
  t.true(table.remove(b));
  t.is(empty, 1);
  t.deepEqual(table.view(), { channels: [], opening: [] });
});
