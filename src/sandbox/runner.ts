// The pod runner: one process per pod, started by the kubelet inside the
// pod's network namespace (`ip netns exec`, which also bind-mounts the
// pod's resolv.conf). It serves the port-forward shim, runs the pod's
// containers (built-in demo servers in-process, other programs as
// children), restarts them per restartPolicy with exponential back-off,
// runs their readiness and liveness probes, and reports container states to
// the kubelet over its IPC channel. It exits when that channel closes, so a
// dead supervisor never leaves pods running.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readlinkSync, readSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDb } from './images/db.ts';
import { startEcho } from './images/echo.ts';
import { startHello } from './images/hello.ts';
import type { Demo, RunningDemo } from './images/program.ts';
import { mountVolumes } from './pod-mounts.ts';
import type { ContainerPlan, ContainerReport, ContainerState, PodPlan, RunnerMessage } from './pod-plan.ts';
import { servePortForward } from './portforward-shim.ts';
import { ProbeLoop } from './probes.ts';
import { confinedArgv, podViewArgv } from './security.ts';

const DEMOS: Record<string, Demo> = { hello: startHello, echo: startEcho, db: startDb };
const MAX_BACKOFF_MS = 30_000;
/** LOG_TAIL_BYTES bounds the log tail kept as a failed container's message (the kubelet keeps 2 KiB or 80 lines). */
const LOG_TAIL_BYTES = 2048;
const LOG_TAIL_LINES = 20;

/** logTail reads the last lines of a log through an open descriptor (the log's folder may be hidden by then). */
export function logTail(fd: number, bytes = LOG_TAIL_BYTES, lines = LOG_TAIL_LINES): string {
  const size = fstatSync(fd).size;
  const start = Math.max(0, size - bytes);
  const buf = Buffer.alloc(size - start);
  const n = readSync(fd, buf, 0, buf.length, start);
  let text = buf.subarray(0, n).toString('utf8');
  if (start > 0) text = text.slice(text.indexOf('\n') + 1); // drop a partial first line
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Running is a started container: a demo in this process or a child process. */
type Running = { demo: RunningDemo } | { child: ChildProcess };

/** ContainerRun drives one container through start, probes, exit and restart. */
class ContainerRun {
  readonly plan: ContainerPlan;
  readonly #pod: PodPlan;
  readonly #changed: () => void;
  state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerState | undefined;
  restartCount = 0;
  /** logFd is the container's log file (appended across restarts), opened before the pod's /run hides the run dir. */
  logFd: number | undefined;
  /** logReadFd reads the same log back, for a failed container's message (as terminationMessagePolicy FallbackToLogsOnError). */
  logReadFd: number | undefined;
  #probeReady = false;
  #running: Running | undefined;
  #probes: ProbeLoop[] = [];
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #generation = 0;

  constructor(pod: PodPlan, plan: ContainerPlan, changed: () => void) {
    this.#pod = pod;
    this.plan = plan;
    this.#changed = changed;
  }

  get ready(): boolean {
    return 'running' in this.state && (this.plan.readinessProbe ? this.#probeReady : true);
  }

  report(): ContainerReport {
    const r: ContainerReport = {
      name: this.plan.name,
      state: this.state,
      ready: this.ready,
      started: 'running' in this.state,
      restartCount: this.restartCount,
    };
    if (this.lastState) r.lastState = this.lastState;
    return r;
  }

  async start(): Promise<void> {
    const gen = ++this.#generation;
    const startedAt = new Date().toISOString();
    const p = this.plan.program;
    let running: Running;
    try {
      if (p.kind === 'builtin') {
        const demo = DEMOS[p.demo];
        if (!demo) throw new Error(`unknown built-in program ${p.demo}`);
        running = { demo: await demo({ env: this.plan.env, args: [] }) };
      } else {
        running = { child: this.#spawn(p.argv, startedAt, gen) };
      }
    } catch (err) {
      this.#exited(1, 'Error', (err as Error).message, startedAt, gen);
      return;
    }
    if (gen !== this.#generation || this.#stopping) {
      // stopped (or restarted) while a built-in server was still starting: close it
      if ('demo' in running) await running.demo.close();
      else running.child.kill('SIGTERM');
      return;
    }
    this.#running = running;
    this.state = { running: { startedAt } };
    this.#startProbes();
    this.#changed();
  }

  #spawn(argv: string[], startedAt: string, gen: number): ChildProcess {
    const confined = confinedArgv(argv, this.plan.security ?? {});
    const [cmd, ...args] = this.#pod.resolvConf ? podViewArgv(this.#pod.resolvConf, confined) : confined;
    if (!cmd) throw new Error('empty command');
    const env = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: '/root', ...this.plan.env };
    const child = spawn(cmd, args, {
      env,
      stdio: ['ignore', this.logFd ?? 'inherit', this.logFd ?? 'inherit'],
      ...(this.plan.workingDir ? { cwd: this.plan.workingDir } : {}),
    });
    child.once('error', (err) => this.#exited(128, 'StartError', err.message, startedAt, gen));
    child.once('exit', (code, signal) => {
      const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
      const tail = exitCode !== 0 && this.logReadFd !== undefined ? logTail(this.logReadFd) : '';
      this.#exited(exitCode, exitCode === 0 ? 'Completed' : 'Error', tail || undefined, startedAt, gen);
    });
    return child;
  }

  #exited(exitCode: number, reason: string, message: string | undefined, startedAt: string, gen: number): void {
    if (gen !== this.#generation) return;
    this.#stopProbes();
    this.#running = undefined;
    const terminated: ContainerState = {
      terminated: {
        exitCode,
        reason,
        startedAt,
        finishedAt: new Date().toISOString(),
        ...(message ? { message } : {}),
      },
    };
    if (this.#stopping) {
      this.state = terminated;
      return;
    }
    const policy = this.#pod.restartPolicy;
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) {
      this.state = terminated;
      this.#changed();
      return;
    }
    this.lastState = terminated;
    const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.restartCount, 5));
    this.state = {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${this.plan.name} pod=${this.#pod.name}`,
      },
    };
    this.#changed();
    this.#restartTimer = setTimeout(() => {
      this.restartCount++;
      void this.start();
    }, backoff);
  }

  #startProbes(): void {
    const { readinessProbe, livenessProbe } = this.plan;
    if (readinessProbe) {
      const loop = new ProbeLoop(
        readinessProbe,
        this.#pod.podIP,
        (ok) => {
          this.#probeReady = ok;
          this.#changed();
        },
        true,
      );
      this.#probes.push(loop);
      loop.start();
    }
    if (livenessProbe) {
      const loop = new ProbeLoop(livenessProbe, this.#pod.podIP, (ok) => {
        if (!ok) void this.#restartUnhealthy();
      });
      this.#probes.push(loop);
      loop.start();
    }
  }

  #stopProbes(): void {
    for (const p of this.#probes) p.stop();
    this.#probes = [];
    this.#probeReady = false;
  }

  async #restartUnhealthy(): Promise<void> {
    const startedAt = 'running' in this.state ? this.state.running.startedAt : undefined;
    this.#stopProbes();
    await this.#kill();
    this.lastState = {
      terminated: {
        exitCode: 137,
        reason: 'Error',
        message: 'Liveness probe failed',
        finishedAt: new Date().toISOString(),
        ...(startedAt ? { startedAt } : {}),
      },
    };
    this.restartCount++;
    await this.start();
  }

  async #kill(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    this.#generation++;
    if (!running) return;
    if ('demo' in running) {
      await running.demo.close();
      return;
    }
    const child = running.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    // As the kubelet does: SIGTERM, then SIGKILL after the pod's grace period (a gateway drains in it).
    const graceMs = (this.#pod.terminationGracePeriodSeconds ?? 30) * 1000;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#stopProbes();
    await this.#kill();
  }
}

/** POD_RUN is the pod's own /run (/var/run is a symlink to it): a fresh tmpfs, as in a container, that holds the service account files. */
const POD_RUN = '/run';

/** mountServiceAccount mounts a tmpfs on /run, private to this pod's mount namespace, with the token, CA and namespace in /run/secrets/kubernetes.io/serviceaccount; sockets bound on the host's /run before it stay reachable. */
export async function mountServiceAccount(sa: NonNullable<PodPlan['serviceAccount']>): Promise<void> {
  // `ip netns exec` gave us our own mount namespace (slave to the kubelet's); never mount in the kubelet's.
  if (readlinkSync('/proc/self/ns/mnt') === readlinkSync(`/proc/${process.ppid}/ns/mnt`))
    throw new Error('not in a private mount namespace');
  await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'devnet-pod-run', POD_RUN]);
  const dir = join(POD_RUN, 'secrets', 'kubernetes.io', 'serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), sa.token, { mode: 0o644 });
  writeFileSync(join(dir, 'ca.crt'), sa.caCrt, { mode: 0o644 });
  writeFileSync(join(dir, 'namespace'), sa.namespace, { mode: 0o644 });
}

/** runPod starts a pod's shim and containers and returns a function that stops them. */
export async function runPod(plan: PodPlan, send: (m: RunnerMessage) => void): Promise<() => Promise<void>> {
  let scheduled = false;
  const runs: ContainerRun[] = [];
  const changed = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      send({ type: 'status', containers: runs.map((r) => r.report()) });
    });
  };
  for (const c of plan.containers) runs.push(new ContainerRun(plan, c, changed));
  // The shim binds and the logs open first: they live in the host's /run, which the pod's own /run then hides.
  const shim: Server = await servePortForward(plan.socketPath);
  if (plan.logDir) {
    mkdirSync(join(plan.logDir, 'containers'), { recursive: true });
    for (const r of runs) {
      const log = join(plan.logDir, 'containers', `${r.plan.name}.log`);
      r.logFd = openSync(log, 'a');
      r.logReadFd = openSync(log, 'r');
    }
  }
  let ownRun = false;
  if (plan.serviceAccount) {
    ownRun = await mountServiceAccount(plan.serviceAccount).then(
      () => true,
      (err: Error) => {
        process.stderr.write(`runner: service account not mounted: ${err.message}\n`);
        return false;
      },
    );
  }
  // Volumes after the pod's own /run, so mount points below it are made there.
  const mounts = plan.containers.flatMap((c) => c.mounts ?? []);
  if (mounts.length > 0 && plan.stagingDir) await mountVolumes(mounts, plan.stagingDir, ownRun ? [POD_RUN] : []);
  await Promise.all(runs.map((r) => r.start()));
  changed();
  return async () => {
    shim.close();
    await Promise.all(runs.map((r) => r.stop()));
    for (const r of runs) {
      if (r.logFd !== undefined) closeSync(r.logFd);
      if (r.logReadFd !== undefined) closeSync(r.logReadFd);
    }
  };
}

async function main(): Promise<void> {
  if (!process.send) {
    process.stderr.write('runner: must be started by the sandbox kubelet with an IPC channel\n');
    process.exit(2);
  }
  const send = (m: RunnerMessage) => {
    if (process.connected) process.send?.(m);
  };
  let stop: (() => Promise<void>) | undefined;
  const shutdown = async () => {
    await stop?.().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('disconnect', () => void shutdown());
  process.once('message', async (plan: PodPlan) => {
    try {
      stop = await runPod(plan, send);
    } catch (err) {
      send({ type: 'fatal', message: (err as Error).message });
      process.exit(1);
    }
  });
}

if (import.meta.main) await main();
