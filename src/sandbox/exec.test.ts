import test from 'ava';
import { execTool } from './exec.ts';

test('a missing program rejects with one message naming it, even when input is written to it', async (t) => {
  const err = await t.throwsAsync(execTool('/nonexistent/nft', ['-f', '-'], 'table ip x {}\n'));
  t.regex(err?.message ?? '', /\/nonexistent\/nft/);
  t.regex(err?.message ?? '', /not found/);
});

test('a program that exits without reading its input does not crash the caller (EPIPE)', async (t) => {
  // `true` never reads stdin: writing 4 MiB to it fails with EPIPE.
  const out = await execTool('true', [], 'x'.repeat(4 << 20));
  t.is(out, '');
});
