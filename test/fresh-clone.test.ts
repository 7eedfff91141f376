// The README's two commands in a fresh clone where a new user's clone may
// live: inside a 0700 folder (a private home, a `mktemp -d`) with a space in
// its path. `npm ci`, then `npm run demo -- --cleanup` as root inside a
// network namespace of its own (the "machine", as test/demo.test.ts), then
// the README's test command `npm test`. That nested run is marked with
// DEVNET_TEST_NESTED=1, which (scripts/test.mjs) runs the type-check, the
// lint, every unit test and the end-to-end suites whose programs run from
// the checkout's own files (the sandbox, connect, intercepts), and never
// this file: see docs/testing.md for why that subset.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { deleteAllNetns, Netns } from './support/netns.ts';
import { isRoot, rootTest } from './support/root.ts';

const root = join(import.meta.dirname, '..');
const base = mkdtempSync(join(tmpdir(), 'devnet-clone-'));
const home = join(base, 'a b');
const clone = join(home, 'devnet');
const RESOLV = 'nameserver 192.0.2.53\n';
let machine: Netns | undefined;

function sh(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout: number },
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    // stdout and stderr interleaved, as a person would read them.
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
  });
}

test.after.always(async () => {
  if (!isRoot) return;
  await new Promise((r) => execFile('pkill', ['-9', '-f', clone], () => r(undefined)));
  if (machine) rmSync(`/etc/netns/${machine.name}`, { recursive: true, force: true });
  await deleteAllNetns();
  rmSync(base, { recursive: true, force: true });
});

if (process.env.DEVNET_TEST_NESTED) {
  test('fresh clone [not run inside the fresh clone’s own npm test: it would recurse]', (t) => t.pass());
} else {
  rootTest('a fresh clone in a 0700 folder with a space: npm ci, sudo npm run demo, sudo npm test', async (t) => {
    t.timeout(60 * 60_000, 'npm ci, the demo and the nested npm test');
    chmodSync(base, 0o700);
    mkdirSync(home, { mode: 0o700 });
    t.is(statSync(home).mode & 0o777, 0o700);
    const cloned = await sh('git', ['clone', '--quiet', root, clone], { timeout: 120_000 });
    t.is(cloned.code, 0, cloned.out);

    const ci = await sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone, timeout: 15 * 60_000 });
    t.is(ci.code, 0, ci.out.slice(-4000));

    // sudo npm run demo, on a "machine" of its own (a network namespace with its own resolv.conf).
    machine = await Netns.create('clone');
    mkdirSync(`/etc/netns/${machine.name}`, { recursive: true });
    writeFileSync(`/etc/netns/${machine.name}/resolv.conf`, RESOLV);
    await machine.ip('addr', 'add', '192.0.2.53/32', 'dev', 'lo');
    const upstream = spawn(
      'ip',
      ['netns', 'exec', machine.name, process.execPath, join(clone, 'test/support/fake-upstream.ts'), '192.0.2.53'],
      { stdio: 'ignore' },
    );
    t.teardown(() => upstream.kill());
    const state = join(base, 'state');
    const demoEnv = {
      ...process.env,
      DEVNET_SANDBOX_STATE: join(state, 'sandbox-state'),
      DEVNET_SANDBOX_RUN: join(state, 'sandbox-run'),
      DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-clone`,
      DEVNET_RUN_DIR: join(state, 'devnet-run'),
      DEVNET_STATE_DIR: join(state, 'devnet-state'),
      KUBECONFIG: join(state, 'kubeconfig'),
      NO_COLOR: '1',
    };
    const demo = await sh('ip', ['netns', 'exec', machine.name, 'npm', 'run', '--silent', 'demo', '--', '--cleanup'], {
      cwd: clone,
      env: demoEnv,
      timeout: 10 * 60_000,
    });
    t.is(demo.code, 0, demo.out);
    t.regex(demo.out, /# a Service by its short name[^\n]*\nhello from hello-/);
    t.regex(demo.out, /Demo done/);
    t.is(readFileSync(`/etc/netns/${machine.name}/resolv.conf`, 'utf8'), RESOLV);

    // sudo npm test, the README's test command, in the clone (the subset DEVNET_TEST_NESTED selects).
    const nested = await sh('npm', ['test'], {
      cwd: clone,
      env: { ...process.env, DEVNET_TEST_NESTED: '1', CI: process.env.CI ?? '' },
      timeout: 45 * 60_000,
    });
    t.log(
      nested.out
        .split('\n')
        .filter((l) => /tests? (passed|failed)|known failure|skipped/.test(l))
        .join('\n'),
    );
    t.is(nested.code, 0, nested.out.slice(-8000));
    t.regex(nested.out, /== nested run in a fresh clone: /);
    t.regex(nested.out, /\d+ tests? passed/);
  });
}
