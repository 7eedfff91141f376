#!/usr/bin/env node
// devnet's entry point. It runs on any Node; when that Node is older than
// devnet needs, it re-runs itself with the Node that `npm ci` installed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findNode, satisfies, tooOldMessage } from '../scripts/node-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (satisfies(process.versions.node)) {
  // A checkout runs its TypeScript directly; a published package runs dist/.
  const src = resolve(root, 'src/cli/main.ts');
  const entry = existsSync(src) ? src : resolve(root, 'dist/cli/main.js');
  try {
    await import(pathToFileURL(entry).href);
  } catch (err) {
    // devnet itself could not load (a broken or partial install): one message, never a trace.
    console.error(`devnet: could not start: ${err?.message?.split('\n')[0] ?? err}`);
    console.error(`  Reinstall devnet (npm install -g devnet), or run \`npm ci\` in a checkout (${root}).`);
    if (process.env.DEVNET_DEBUG) console.error(err);
    process.exit(70);
  }
} else {
  const node = findNode(root);
  if (!node) {
    console.error(tooOldMessage());
    process.exit(1);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    process.exit(code ?? 1);
  });
}
