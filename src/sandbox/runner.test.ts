import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ContainerReport, PodPlan, RunnerMessage } from './pod-plan.ts';
import { runPod } from './runner.ts';

const dir = mkdtempSync(join(tmpdir(), 'devnet-runner-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function plan(name: string, argv: string[], extra: Partial<PodPlan> = {}): PodPlan {
  return {
    namespace: 'demo',
    name,
    podIP: '127.0.0.1',
    socketPath: join(dir, `${name}.sock`),
    restartPolicy: 'Always',
    containers: [{ name: 'c', image: 'x', program: { kind: 'exec', argv }, env: {} }],
    ...extra,
  };
}

function until(reports: ContainerReport[][], pred: (r: ContainerReport) => boolean): Promise<ContainerReport> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const hit = reports.flat().find(pred);
      if (hit) resolve(hit);
      else if (Date.now() - t0 > 10_000) reject(new Error(`no such report in ${JSON.stringify(reports.at(-1))}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

test('a crashing container is restarted with back-off and counted', async (t) => {
  const reports: ContainerReport[][] = [];
  const stop = await runPod(
    plan('crash', ['sh', '-c', 'echo booting; echo oops >&2; exit 3'], { logDir: dir }),
    (m: RunnerMessage) => {
      if (m.type === 'status') reports.push(m.containers);
    },
  );
  const crashed = await until(reports, (r) => 'waiting' in r.state && r.state.waiting.reason === 'CrashLoopBackOff');
  t.like(crashed.lastState, { terminated: { exitCode: 3, reason: 'Error', message: 'booting\noops' } });
  t.false(crashed.ready);
  await until(reports, (r) => r.restartCount >= 1);
  await stop();
  t.regex(
    readFileSync(join(dir, 'containers', 'c.log'), 'utf8'),
    /^booting\noops\n/,
    'stdout and stderr in the container log',
  );
});

test('a failed container keeps only the tail of its log as its message', async (t) => {
  const reports: ContainerReport[][] = [];
  const script =
    'i=0; while [ $i -lt 500 ]; do echo "line $i"; i=$((i+1)); done; echo "cannot read /app/main.ts: EACCES" >&2; exit 1';
  const stop = await runPod(
    plan('noisy', ['sh', '-c', script], { logDir: join(dir, 'noisy'), restartPolicy: 'Never' }),
    (m) => {
      if (m.type === 'status') reports.push(m.containers);
    },
  );
  const failed = await until(reports, (r) => 'terminated' in r.state);
  await stop();
  const message = 'terminated' in failed.state ? (failed.state.terminated.message ?? '') : '';
  t.regex(message, /line 499\ncannot read \/app\/main\.ts: EACCES$/);
  t.is(message.split('\n').length, 20);
});

test('restartPolicy Never leaves a finished container terminated; Completed on exit 0', async (t) => {
  const reports: ContainerReport[][] = [];
  const stop = await runPod(plan('once', ['true'], { restartPolicy: 'Never' }), (m) => {
    if (m.type === 'status') reports.push(m.containers);
  });
  const done = await until(reports, (r) => 'terminated' in r.state);
  t.like(done.state, { terminated: { exitCode: 0, reason: 'Completed' } });
  t.is(done.restartCount, 0);
  await stop();
});

test('a missing program is a start error, not a crash of the runner', async (t) => {
  const reports: ContainerReport[][] = [];
  const stop = await runPod(plan('enoent', ['/nonexistent/program'], { restartPolicy: 'Never' }), (m) => {
    if (m.type === 'status') reports.push(m.containers);
  });
  const failed = await until(reports, (r) => 'terminated' in r.state);
  t.like(failed.state, { terminated: { exitCode: 128, reason: 'StartError' } });
  await stop();
});

test('readiness follows the probe: Ready only once the port answers', async (t) => {
  const reports: ContainerReport[][] = [];
  const port = 20000 + (process.pid % 20000);
  const listen = `setTimeout(() => require('node:net').createServer().listen(${port}, '127.0.0.1'), 300)`;
  const p = plan('probe', [process.execPath, '-e', listen]);
  p.containers[0] = {
    ...(p.containers[0] as PodPlan['containers'][0]),
    readinessProbe: {
      action: { tcpSocket: { port } },
      initialDelaySeconds: 0,
      periodSeconds: 1,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
  };
  const stop = await runPod(p, (m) => {
    if (m.type === 'status') reports.push(m.containers);
  });
  t.false((await until(reports, (r) => 'running' in r.state)).ready, 'running but not yet ready');
  t.true((await until(reports, (r) => r.ready)).ready);
  await stop();
});
