// build-native compiles the TUN addon (binding.gyp) with node-gyp.
// It builds against the headers of the npm-registry Node package when that
// is installed (no header download needed, so it works offline); the addon
// uses only Node-API, whose ABI is stable across Node versions.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledNodeDir, findNode } from './node-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const node = findNode(root) ?? process.execPath;
const args = ['rebuild', '--release'];
const dir = bundledNodeDir(root);
if (dir && existsSync(join(dir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${dir}`);

let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = undefined;
  }
}
if (!gyp) {
  console.error('build-native: node-gyp not found. Run this through npm (npm ci), which provides it.');
  process.exit(1);
}
const r = spawnSync(node, [gyp, ...args], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(
    'build-native: compiling the TUN addon failed. It needs python3, make and a C++17 compiler ' +
      '(Debian: apt-get install python3 make g++).',
  );
  process.exit(r.status ?? 1);
}
