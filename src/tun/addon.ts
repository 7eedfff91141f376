// addon loads the native binding: a build of this checkout (build/Release)
// or the prebuilt file for this platform and architecture that the package
// ships (prebuilds/linux-<arch>/, made by scripts/prebuild.mjs), chosen by
// node-gyp-build.
import { createRequire } from 'node:module';
import { arch, platform } from 'node:process';
import { fileURLToPath } from 'node:url';
import type { DevnetTunAddon } from '../../native/devnet_tun.d.ts';

let cached: DevnetTunAddon | undefined;

/** PACKAGE_ROOT holds package.json, build/ and prebuilds/ (src/ and dist/ both sit one level below it). */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** loadAddon returns the native binding, with a message that says how to build it when none fits this machine. */
export function loadAddon(): DevnetTunAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  try {
    const load = require('node-gyp-build') as (dir: string) => unknown;
    cached = load(PACKAGE_ROOT) as DevnetTunAddon;
  } catch (err) {
    const e = new Error(
      `devnet's native TUN addon is neither prebuilt for ${platform}-${arch} nor built here ` +
        `(${(err as Error).message.split('\n')[0]}). Build it from source: install python3, make and g++ ` +
        '(Debian: apt-get install --no-install-recommends python3 make g++), then run `npm rebuild devnet` ' +
        '(for a global install: `npm rebuild -g devnet`; in a checkout: `npm ci`).',
    );
    (e as NodeJS.ErrnoException).code = 'EADDON';
    throw e;
  }
  return cached;
}
