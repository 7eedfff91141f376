// execArgv runs a program without a shell and reports its exit status and
// output; it never throws for a non-zero exit (callers decide what is fatal).
import { execFile } from 'node:child_process';
import type { ExecResult } from '../journal/journal.ts';

/** execArgv runs argv[0] with the remaining arguments. */
export function execArgv(argv: readonly string[]): Promise<ExecResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    execFile(cmd as string, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}
