import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { writeAtomicDir } from './volume-files.ts';

const file = (path: string, data: string) => ({ path, data: Buffer.from(data), mode: 0o644 });

test('writeAtomicDir swaps a generation directory through ..data; old names and generations go', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'devnet-volfiles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeAtomicDir(dir, [file('greeting', 'one'), file('sub/x', 'x')], 1);
  t.is(readFileSync(join(dir, 'greeting'), 'utf8'), 'one');
  t.is(readFileSync(join(dir, 'sub/x'), 'utf8'), 'x');
  t.is(readlinkSync(join(dir, 'greeting')), '..data/greeting');
  t.is(lstatSync(join(dir, '..data', 'greeting')).mode & 0o777, 0o444, 'written read-only');
  await writeAtomicDir(dir, [file('greeting', 'two')], 2);
  t.is(readFileSync(join(dir, 'greeting'), 'utf8'), 'two');
  t.deepEqual(readdirSync(dir).sort(), [`..${process.pid}_2`, '..data', 'greeting']);
});
