// Every failure of every verb is one message that says what to do, and a
// non-zero exit: never a stack trace. The commands run through the real
// CLI against nothing (no daemon, no sandbox, no cluster) in temporary dirs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { run } from './support/run.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin/devnet.mjs');
const dir = mkdtempSync(join(tmpdir(), 'devnet-cli-errors-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const garbage = join(dir, 'garbage.yaml');
writeFileSync(garbage, 'clusters: [this is: not, a kubeconfig\n');
const noContext = join(dir, 'no-context.yaml');
writeFileSync(noContext, 'apiVersion: v1\nkind: Config\nclusters: []\n');
const env = {
  ...process.env,
  KUBECONFIG: join(dir, 'missing-kubeconfig'),
  DEVNET_RUN_DIR: join(dir, 'run'),
  DEVNET_STATE_DIR: join(dir, 'state'),
  DEVNET_SANDBOX_STATE: join(dir, 'sandbox-state'),
  DEVNET_SANDBOX_RUN: join(dir, 'sandbox-run'),
  DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-err`,
  NO_COLOR: '1',
};

const cases: [string, string[], NodeJS.ProcessEnv?][] = [
  ['an unknown verb', ['frobnicate']],
  ['a missing argument', ['leave']],
  ['an unknown transport', ['connect', '--transport', 'pigeon']],
  ['leave without a session', ['leave', 'x']],
  ['list without a session', ['list']],
  ['gateway status with a missing --kubeconfig', ['gateway', 'status', '--kubeconfig', join(dir, 'nope.yaml')]],
  ['gateway status with an unparsable kubeconfig', ['gateway', 'status', '--kubeconfig', garbage]],
  ['gateway status with no current context', ['gateway', 'status', '--kubeconfig', noContext]],
  ['gateway status with an unknown --context', ['gateway', 'status', '--kubeconfig', noContext, '--context', 'x']],
  ['gateway status with no kubeconfig at all', ['gateway', 'status']],
  ['an unknown output format', ['gateway', 'status', '-o', 'xml']],
  ['sandbox status with an unknown format', ['sandbox', 'status', '-o', 'xml']],
  ['sandbox exec into a sandbox that is not up', ['sandbox', 'exec', '-n', 'demo', 'nopod', '--', 'true']],
  ['dns test without a name', ['dns', 'test']],
  ['intercept without a session', ['intercept', 'hello', '--port', '8080']],
  ['a bad DEVNET_SANDBOX_PREFIX', ['sandbox', 'status'], { DEVNET_SANDBOX_PREFIX: 'Not Valid!' }],
];

for (const [title, args, extra] of cases) {
  test(`${title}: one message, non-zero exit, no stack trace`, async (t) => {
    const r = await run(process.execPath, [bin, ...args], { ...env, ...extra });
    t.not(r.code, 0, `exit code; stdout: ${r.stdout}`);
    t.notRegex(r.stderr, /^\s+at .+[:(]/m, `no stack frames in:\n${r.stderr}`);
    t.notRegex(r.stderr, /node:internal|Error: .*\n.*Error:/, r.stderr);
    t.regex(r.stderr, /^(devnet: |error: )/m, r.stderr);
  });
}
