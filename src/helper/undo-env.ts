// undoEnv replays undo steps on the real machine: commands and files.
import { rm, writeFile } from 'node:fs/promises';
import { execArgv } from './exec.ts';
import type { UndoEnv } from './journal.ts';

/** undoEnv is the real machine for journal replay. */
export const undoEnv: UndoEnv = {
  exec: execArgv,
  writeFile: (path, data, mode) => writeFile(path, data, mode === undefined ? undefined : { mode }),
  removeFile: (path) => rm(path, { force: true }),
};
