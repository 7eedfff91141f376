// Running system tools (ip, nft) without a shell, with errors that name the command.
import { execFile } from 'node:child_process';

/** Exec runs a program and resolves with its stdout; it rejects with the program's stderr. */
export type Exec = (cmd: string, args: string[], input?: string) => Promise<string>;

/** execTool is the real Exec. */
export const execTool: Exec = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin?.end(input);
  });
