// Progress for long steps: a spinner on a terminal (ora), plain lines on
// stderr otherwise, so logs and CI output stay readable.
import ora, { type Ora } from 'ora';

/** Progress reports steps of a long operation. */
export interface Progress {
  step(message: string): void;
  succeed(message: string): void;
  fail(): void;
}

/** startProgress returns a spinner on a TTY (not with NO_COLOR) or a line printer. */
export function startProgress(first: string): Progress {
  if (process.stderr.isTTY && !process.env.NO_COLOR && !process.env.CI) {
    const spinner: Ora = ora({ text: first, stream: process.stderr }).start();
    return {
      step: (m) => {
        spinner.text = m;
      },
      succeed: (m) => {
        spinner.succeed(m);
      },
      fail: () => {
        spinner.stop();
      },
    };
  }
  process.stderr.write(`${first}\n`);
  return {
    step: (m) => process.stderr.write(`  ${m}\n`),
    succeed: (m) => process.stderr.write(`${m}\n`),
    fail: () => undefined,
  };
}
