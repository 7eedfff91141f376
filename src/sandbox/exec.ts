// Running system tools (ip, nft) without a shell, with errors that name the command.
import { execFile } from 'node:child_process';

/** Exec runs a program and resolves with its stdout; it rejects with the program's stderr. */
export type Exec = (cmd: string, args: string[], input?: string) => Promise<string>;

/** execTool is the real Exec. A missing program is named in the error; input a program never reads (EPIPE) is dropped, never thrown. */
export const execTool: Exec = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(String(stdout));
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new Error(`${cmd}: not found (is its package installed? see \`devnet preflight\`)`));
      }
      reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
    });
    if (input !== undefined) {
      // The exit (or spawn failure) is reported by the callback above; a write error here is only its echo.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input);
    }
  });
