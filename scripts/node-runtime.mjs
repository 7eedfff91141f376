// node-runtime finds a Node.js that can run devnet (>= 22.18, which strips
// TypeScript types natively). When the Node that started us is older, it
// looks for the runtime the npm registry ships as an optional dependency
// (node-<platform>-<arch>, installed by `npm ci`). Plain JavaScript that runs
// on old Node versions: this file must not use anything newer than Node 18.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const MIN_NODE = [22, 18];

/** satisfies reports whether a version string like "24.1.0" is new enough. */
export function satisfies(version) {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
}

/** bundledNodeDir is the folder of the npm-registry Node package, if installed. */
export function bundledNodeDir(root) {
  const name = `node-${process.platform}-${process.arch}`;
  try {
    const req = createRequire(join(root, 'package.json'));
    return dirname(req.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** findNode returns the path of a Node binary that satisfies MIN_NODE, or undefined. */
export function findNode(root) {
  if (satisfies(process.versions.node)) return process.execPath;
  const dir = bundledNodeDir(root);
  if (dir) {
    const bin = join(dir, 'bin', 'node');
    if (existsSync(bin)) {
      try {
        const v = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
        if (satisfies(v)) return bin;
      } catch {
        // fall through: the binary does not run on this machine
      }
    }
  }
  return undefined;
}

export function tooOldMessage() {
  return (
    `devnet needs Node.js >= ${MIN_NODE.join('.')}, but this is ${process.version}, ` +
    `and no newer Node was found in node_modules (npm installs node-${process.platform}-${process.arch} ` +
    'as an optional dependency where the registry has one). Install Node 22 or newer, or run `npm ci` again.'
  );
}
