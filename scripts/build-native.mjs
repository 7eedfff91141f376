// build-native is devnet's install step for the TUN addon. A package ships
// the addon prebuilt for linux-x64 and linux-arm64 (scripts/prebuild.mjs);
// when one of those loads here, nothing is compiled. Otherwise (a git
// checkout, or another platform) it is built from source with node-gyp,
// against the headers of the npm-registry Node package when that is
// installed (no header download, so it works offline; the addon uses only
// Node-API, whose ABI is stable across Node versions).
//
// A failed build does not fail the install: devnet's other verbs work
// without the addon, and `devnet preflight` (run by `sudo npm run demo`)
// names the missing compilers, installs them on Debian/Ubuntu as root and
// builds it. Set DEVNET_REQUIRE_ADDON=1 to make a failed build fatal.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledNodeDir, findNode } from './node-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const node = findNode(root) ?? process.execPath;
const target = `${process.platform}-${process.arch}`;

/** loadable reports which addon file node-gyp-build picks here and whether it loads, in the Node devnet runs on. */
function loadable() {
  const script = "const p=require('node-gyp-build').path(process.argv[1]);require(p);process.stdout.write(p)";
  const r = spawnSync(node, ['-e', script, root], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout : undefined;
}

/** stale reports whether an addon built in this checkout is older than its sources (a pull brought new native code). */
function stale(file) {
  if (!file.startsWith(join(root, 'build'))) return false;
  const built = statSync(file).mtimeMs;
  const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))];
  return sources.some((f) => existsSync(f) && statSync(f).mtimeMs > built);
}

const forced = process.env.npm_config_build_from_source === 'true';
let found = forced ? undefined : loadable();
const outdated = found !== undefined && stale(found);
if (outdated) found = undefined;
if (found) {
  const rel = found.slice(root.length + 1);
  console.log(`devnet: using the ${rel.startsWith('prebuilds') ? 'prebuilt ' : ''}TUN addon ${rel}`);
  process.exit(0);
}
console.log(
  forced
    ? 'devnet: building the TUN addon from source (--build-from-source)'
    : outdated
      ? 'devnet: the TUN addon in build/ is older than native/ (new native code was pulled); rebuilding it'
      : `devnet: no prebuilt TUN addon for ${target}; building it from source (python3, make, g++)`,
);

const args = ['rebuild', '--release'];
const dir = bundledNodeDir(root);
if (dir && existsSync(join(dir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${dir}`);
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = undefined;
  }
}
const r = gyp ? spawnSync(node, [gyp, ...args], { cwd: root, stdio: 'inherit' }) : { status: 1 };
if (r.status === 0 && loadable()) process.exit(0);
console.error(
  `devnet: the TUN addon could not be built for ${target}${gyp ? '' : ' (node-gyp was not found)'}. ` +
    '`devnet connect` needs it; every other verb works without it.\n' +
    '  Install python3, make and a C++17 compiler (Debian/Ubuntu: apt-get install --no-install-recommends python3 make g++),\n' +
    '  then run `npm rebuild devnet` (global install: `npm rebuild -g devnet`; a checkout: `npm ci`),\n' +
    '  or `sudo devnet preflight`, which does it for you on Debian and Ubuntu.',
);
process.exit(process.env.DEVNET_REQUIRE_ADDON === '1' ? 1 : 0);
