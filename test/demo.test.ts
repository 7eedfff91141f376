// The README's quick start must stay true: run `npm run demo -- --cleanup`
// exactly as a newcomer would, but inside a network namespace of its own
// (with its own resolv.conf and a fake internet DNS), so the host's network
// and resolver are never touched. Inside it the sandbox, the API server and
// devnet all nest: the namespace is the "machine".
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { deleteAllNetns, Netns } from './support/netns.ts';
import { isRoot, rootTest } from './support/root.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'devnet-demo-'));
const RESOLV = 'nameserver 192.0.2.53\n';
let machine: Netns | undefined;

test.after.always(async () => {
  if (!isRoot) return;
  await new Promise((r) => execFile('pkill', ['-9', '-f', dir], () => r(undefined)));
  if (machine) rmSync(`/etc/netns/${machine.name}`, { recursive: true, force: true });
  await deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

rootTest('npm run demo: sandbox up, connect, reach services by name and IP, then clean up', async (t) => {
  machine = await Netns.create('demo');
  mkdirSync(`/etc/netns/${machine.name}`, { recursive: true });
  writeFileSync(`/etc/netns/${machine.name}/resolv.conf`, RESOLV);
  await machine.ip('addr', 'add', '192.0.2.53/32', 'dev', 'lo');
  const upstream = spawn(
    'ip',
    ['netns', 'exec', machine.name, process.execPath, join(root, 'test/support/fake-upstream.ts'), '192.0.2.53'],
    {
      stdio: 'ignore',
    },
  );
  const env = {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(dir, 'sandbox-state'),
    DEVNET_SANDBOX_RUN: join(dir, 'sandbox-run'),
    DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-demo`,
    DEVNET_RUN_DIR: join(dir, 'devnet-run'),
    DEVNET_STATE_DIR: join(dir, 'devnet-state'),
    KUBECONFIG: join(dir, 'kubeconfig'),
    NO_COLOR: '1',
  };
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    execFile(
      'ip',
      ['netns', 'exec', machine?.name as string, 'npm', 'run', '--silent', 'demo', '--', '--cleanup'],
      { cwd: root, env, timeout: 180_000, encoding: 'utf8' },
      (err, stdout, stderr) => res({ code: err ? 1 : 0, stdout, stderr }),
    );
  });
  upstream.kill();
  t.is(out.code, 0, `${out.stdout}\n${out.stderr}`);
  t.regex(out.stdout, /devnet sandbox is up/);
  t.regex(out.stdout, /Connected\s+yes/);
  t.regex(out.stdout, /# a Service by its short name[^\n]*\nhello from hello-/);
  t.regex(out.stdout, /# a Service in another namespace[^\n]*\nhello from other\/hello-/);
  t.regex(out.stdout, /# TCP echo[^\n]*\nhello over TCP/);
  t.regex(out.stdout, /# UDP echo[^\n]*\nhello over UDP/);
  t.regex(out.stdout, /# a StatefulSet pod by its stable name[^\n]*\ndb-0/);
  t.regex(out.stdout, /Demo done/);
  t.is(readFileSync(`/etc/netns/${machine.name}/resolv.conf`, 'utf8'), RESOLV, 'the machine’s resolv.conf is restored');
});
