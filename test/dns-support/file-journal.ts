// A minimal durable undo journal for the DNS crash tests: one JSON line per
// step, fsynced before record() returns, replayed newest first. It stands in
// for the helper's journal (src/helper/journal.ts), which implements the same
// UndoJournal interface.
import { appendFile, open, readFile, rm } from 'node:fs/promises';
import type { UndoJournal, UndoStep } from '../../src/dns/os/journal-types.ts';
import type { Exec, FileSystem } from '../../src/dns/os/types.ts';
import { applyUndoStep } from '../../src/dns/os/undo.ts';

/** fileJournal appends steps to path, durably. */
export function fileJournal(path: string): UndoJournal {
  return {
    async record(step: UndoStep) {
      await appendFile(path, `${JSON.stringify(step)}\n`);
      const fh = await open(path, 'r');
      await fh.sync();
      await fh.close();
    },
  };
}

/** replayJournal undoes every recorded step in reverse order, then removes the journal. */
export async function replayJournal(path: string, deps: { fs: FileSystem; exec: Exec }): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const steps = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as UndoStep);
  for (const s of steps.reverse()) await applyUndoStep(s, deps);
  await rm(path, { force: true });
  return steps.length;
}
