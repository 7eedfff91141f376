// run executes a program (no shell) and resolves with its exit code and
// output; it never rejects, so tests assert on the code themselves.
import { execFile } from 'node:child_process';

/** RunResult is what a finished program left. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** run executes cmd with args in env, killed after timeout ms (default 60 s). */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeout = 60_000,
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
