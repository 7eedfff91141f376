// The README's first command on a machine without the Debian packages the
// demo needs. The machine state is made in a mount namespace of the test's
// own: each tool's file (ip, nft, openssl, ...) has /dev/null bound over it
// there, so it is not an executable any more, exactly as if its package were
// not installed, while the host keeps its tools. In it:
// - `npm run demo` as root where apt-get is gone too (any system devnet does
//   not install on): every missing tool named with its package and the exact
//   command, a non-zero exit, and nothing changed (no sandbox, no namespace);
// - `devnet preflight` as root on Debian: it says what it installs and runs
//   `apt-get update` and `apt-get install -y --no-install-recommends ...`
//   (an apt-get stand-in records the calls and "installs" by removing the
//   bind mounts: apt-get is the one part not run for real).
import { chmodSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { findTool } from '../src/preflight/index.ts';
import { isRoot, rootTest } from './support/root.ts';
import { run } from './support/run.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'devnet-preflight-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const DEMO_TOOLS = ['ip', 'nft', 'openssl', 'sysctl', 'nsenter', 'setpriv', 'dig', 'curl', 'nc'];
const PACKAGES = 'iproute2 nftables openssl procps util-linux dnsutils curl netcat-openbsd';

/** files are the real files of tools on this machine (every PATH or system-folder hit, resolved). */
function files(tools: string[]): string[] {
  const out = new Set<string>();
  for (const tool of tools) {
    for (const dir of [
      ...(process.env.PATH ?? '').split(':'),
      '/usr/local/sbin',
      '/usr/local/bin',
      '/usr/sbin',
      '/usr/bin',
    ]) {
      const hit = dir && !dir.includes('node_modules') ? findTool(tool, dir) : undefined;
      if (hit && existsSync(hit)) out.add(realpathSync(hit));
    }
  }
  return [...out];
}

/** inMachine runs a shell command in a private mount namespace where the given files are gone (a /dev/null bound over each). */
function inMachine(gone: string[], command: string, env: NodeJS.ProcessEnv) {
  const binds = gone.map((f) => `mount --bind /dev/null '${f}'`).join(' && ');
  return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${binds} && ${command}`], env, 300_000);
}

const env = {
  ...process.env,
  DEVNET_SANDBOX_STATE: join(dir, 'sandbox-state'),
  DEVNET_SANDBOX_RUN: join(dir, 'sandbox-run'),
  DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-pf`,
  DEVNET_RUN_DIR: join(dir, 'devnet-run'),
  DEVNET_STATE_DIR: join(dir, 'devnet-state'),
  KUBECONFIG: join(dir, 'kubeconfig'),
  NO_COLOR: '1',
};

rootTest(
  'npm run demo without the packages (and no apt-get): names each tool and the command, changes nothing',
  async (t) => {
    t.true(isRoot);
    const gone = files([...DEMO_TOOLS, 'apt-get']);
    t.true(gone.length >= DEMO_TOOLS.length, gone.join(' '));
    const r = await inMachine(gone, `cd '${root}' && exec npm run --silent demo`, env);
    t.not(r.code, 0);
    for (const [tool, pkg] of [
      ['ip', 'iproute2'],
      ['nft', 'nftables'],
      ['openssl', 'openssl'],
      ['curl', 'curl'],
      ['nc', 'netcat-openbsd'],
      ['dig', 'dnsutils'],
    ]) {
      t.regex(r.stderr, new RegExp(`^ {2}${tool} +for .*\\(package ${pkg}\\)$`, 'm'), r.stderr);
    }
    t.regex(
      r.stderr,
      new RegExp(`Install them: apt-get install -y --no-install-recommends ${PACKAGES}\\. Nothing was changed\\.`),
    );
    t.notRegex(r.stderr, /^\s+at /m, 'no stack trace');
    t.false(existsSync(join(dir, 'sandbox-state')), 'no sandbox was made');
    t.false(existsSync(join(dir, 'devnet-run')), 'devnet did not start');
    const netns = await run('ip', ['netns', 'list']);
    t.notRegex(netns.stdout, new RegExp(`dnt-${process.pid}-pf`));
  },
);

rootTest('devnet preflight as root on Debian installs the missing packages with apt-get, saying what', async (t) => {
  const gone = files(['nft', 'curl', 'nc']);
  const log = join(dir, 'apt-get.log');
  const fake = join(dir, 'apt-get');
  // The stand-in: record the call; `install` puts the tools back, as installing their packages would.
  writeFileSync(
    fake,
    `#!/bin/sh\necho "$*" >> '${log}'\nif [ "$1" = install ]; then for f in ${gone.map((f) => `'${f}'`).join(' ')}; do umount "$f"; done; fi\n`,
  );
  chmodSync(fake, 0o755);
  const r = await inMachine(
    gone,
    `mount --bind '${fake}' /usr/bin/apt-get && exec '${process.execPath}' '${join(root, 'bin/devnet.mjs')}' preflight --for demo`,
    env,
  );
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stderr,
    /^devnet: installing nftables curl netcat-openbsd \(for nft, curl, nc\): apt-get install -y --no-install-recommends nftables curl netcat-openbsd$/m,
  );
  t.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
    'update -qq',
    'install -y --no-install-recommends nftables curl netcat-openbsd',
  ]);
  t.regex(r.stdout, /installed what the demo needs/);
});
