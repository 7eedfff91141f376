import test from 'ava';
import { commandEnv, exitStatus, runCommand } from './intercept-run.ts';

test('commandEnv puts the pod’s environment over the local one but keeps PATH and HOME', (t) => {
  const env = commandEnv(
    { PATH: '/usr/bin', HOME: '/home/me', LANG: 'C', X: 'local' },
    {
      PATH: '/pod',
      HOME: '/root',
      X: 'pod',
      POD_NAMESPACE: 'demo',
    },
  );
  t.like(env, { PATH: '/usr/bin', HOME: '/home/me', LANG: 'C', X: 'pod', POD_NAMESPACE: 'demo' });
});

test('exitStatus follows the shell: the code, or 128 + the signal', (t) => {
  t.is(exitStatus(0, null), 0);
  t.is(exitStatus(7, null), 7);
  t.is(exitStatus(null, 'SIGTERM'), 143);
  t.is(exitStatus(null, 'SIGKILL'), 137);
});

test('runCommand returns the command’s status and leaves afterwards; a missing command is 127', async (t) => {
  let left = 0;
  const leave = async () => {
    left++;
  };
  t.is(await runCommand({ command: ['sh', '-c', 'test "$A" = b && exit 5'], env: { A: 'b' }, mounts: [], leave }), 5);
  t.is(left, 1);
  t.is(await runCommand({ command: ['/nonexistent/cmd'], env: {}, mounts: [], leave }), 127);
  t.is(left, 2);
  t.is(await runCommand({ command: ['true'], env: {}, mounts: [], leave: undefined }), 0);
});

test('runCommand passes SIGTERM on to the command', async (t) => {
  const run = runCommand({
    command: ['sh', '-c', 'trap "exit 3" TERM; while true; do sleep 0.05; done'],
    env: {},
    mounts: [],
    leave: undefined,
  });
  await new Promise((r) => setTimeout(r, 300));
  process.emit('SIGTERM', 'SIGTERM');
  t.is(await run, 3);
});
