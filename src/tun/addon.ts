// addon loads the native binding built by node-gyp (see binding.gyp).
import { createRequire } from 'node:module';
import type { DevnetTunAddon } from '../../native/devnet_tun.d.ts';

let cached: DevnetTunAddon | undefined;

/** loadAddon returns the native binding, with a message that says how to build it when it is missing. */
export function loadAddon(): DevnetTunAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  try {
    cached = require('../../build/Release/devnet_tun.node') as DevnetTunAddon;
  } catch (err) {
    const e = new Error(
      `devnet's native TUN addon is not built (${(err as Error).message.split('\n')[0]}). ` +
        'Run `npm ci` (or `npm run build`) in the devnet checkout; it needs python3, make and g++.',
    );
    (e as NodeJS.ErrnoException).code = 'EADDON';
    throw e;
  }
  return cached;
}
