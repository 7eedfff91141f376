// with-node runs a command with a current Node.js first on PATH:
//   node scripts/with-node.mjs <file.ts|file.mjs|bin-name> [args...]
// A .ts/.js/.mjs file is run with that Node; any other word is looked up in
// node_modules/.bin. The exit status and signals of the child are passed on.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNode, tooOldMessage } from './node-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const node = findNode(root);
if (!node) {
  console.error(tooOldMessage());
  process.exit(1);
}
const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node scripts/with-node.mjs <script|bin> [args...]');
  process.exit(2);
}
const binDir = join(root, 'node_modules', '.bin');
const env = { ...process.env, PATH: [dirname(node), binDir, process.env.PATH ?? ''].join(delimiter) };
let file = cmd;
let argv = args;
if (/\.(ts|mjs|js|cjs)$/.test(cmd)) {
  file = node;
  argv = [cmd, ...args];
} else if (existsSync(join(binDir, cmd))) {
  file = node;
  argv = [join(binDir, cmd), ...args];
}
const child = spawn(file, argv, { stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  process.exit(code ?? 1);
});
