import test from 'ava';
import { isOwnerAlive, parseProcStat } from './process.linux.ts';

test('parseProcStat survives command names with spaces and parentheses', (t) => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'Z';
  fields[19] = '123456';
  t.deepEqual(parseProcStat(`42 (node (x) y) ${fields.join(' ')}`), { state: 'Z', startTime: 123456 });
  t.is(parseProcStat('garbage'), undefined);
});

test('isOwnerAlive: this process is alive; a recorded start time that differs (a recycled pid) is not', async (t) => {
  t.true(await isOwnerAlive({ pid: process.pid, startTime: 0, description: '' }));
  t.false(await isOwnerAlive({ pid: process.pid, startTime: 1, description: '' }));
  t.false(await isOwnerAlive({ pid: 2 ** 22 + 7, startTime: 0, description: '' }));
});
