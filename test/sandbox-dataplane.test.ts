// The sandbox's node data plane without the API server: the node
// namespace, pod namespaces with their runners (demo images, port-forward
// shim, probes), kube-proxy's nftables DNAT (with hairpin) and cluster DNS
// served from the host process through sockets opened in the node
// namespace. Everything is made under a dnt-<pid> prefix and undone from
// the journal, and the host's routes are checked to be as before.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { FileJournal } from '../src/journal/journal.ts';
import { machineUndoEnv } from '../src/journal/machine.ts';
import { ClusterDns } from '../src/sandbox/dns/server.ts';
import { Zone } from '../src/sandbox/dns/zone.ts';
import { execTool } from '../src/sandbox/exec.ts';
import { listNetns, podLinkName, setupHost, setupPodNetwork } from '../src/sandbox/hostnet.ts';
import { KubeProxy } from '../src/sandbox/kube-proxy.ts';
import { bindInNetns } from '../src/sandbox/netns-sockets.ts';
import { nodeNetns, type SandboxPaths } from '../src/sandbox/paths.ts';
import type { PodPlan, RunnerMessage } from '../src/sandbox/pod-plan.ts';
import { type HostState, hostChanges, hostRouteTo, hostState, safetyRoutesPresent } from './support/host-state.ts';
import { isRoot, rootTest } from './support/root.ts';

const dir = mkdtempSync(join(tmpdir(), 'devnet-dp-'));
const paths: SandboxPaths = {
  stateDir: join(dir, 'state'),
  runDir: dir,
  prefix: `dnt-${process.pid}-dp`,
  port: 0,
  imageDir: join(dir, 'image'),
};
const journal = FileJournal.shared(join(dir, 'journal.jsonl'));
const runners: ChildProcess[] = [];
let dns: ClusterDns | undefined;
let before: HostState | undefined;

test.before(async () => {
  if (isRoot) before = await hostState();
});

test.after.always(async () => {
  dns?.close();
  for (const r of runners) r.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  await journal.undoAll(machineUndoEnv);
  rmSync(dir, { recursive: true, force: true });
});

async function startPod(
  uidTag: string,
  ip: string,
  plan: Omit<PodPlan, 'podIP' | 'socketPath'>,
): Promise<{ netns: string; socket: string }> {
  const netns = `${paths.prefix}-pod-${uidTag}`;
  await setupPodNetwork(paths, { netns, link: podLinkName(ip), ip }, plan.namespace, journal, execTool);
  const socket = join(dir, `${plan.name}.sock`);
  const runner = spawn(
    'ip',
    ['netns', 'exec', netns, process.execPath, join(import.meta.dirname, '../src/sandbox/runner.ts')],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  runners.push(runner);
  const ready = new Promise<void>((resolve, reject) => {
    runner.on('message', (m: RunnerMessage) => {
      if (m.type === 'fatal') reject(new Error(m.message));
      if (m.type === 'status' && m.containers.every((c) => c.ready)) resolve();
    });
    runner.on('exit', (code) => reject(new Error(`runner exited ${code}`)));
  });
  runner.send({ ...plan, podIP: ip, socketPath: socket } satisfies PodPlan);
  await ready;
  return { netns, socket };
}

function podExec(netns: string, cmd: string[]): Promise<string> {
  return execTool('ip', ['netns', 'exec', netns, ...cmd]);
}

const helloPlan = (name: string) => ({
  namespace: 'demo',
  name,
  restartPolicy: 'Always' as const,
  containers: [
    {
      name: 'hello',
      image: 'ghcr.io/devnet-dev/demo-hello:latest',
      program: { kind: 'builtin' as const, demo: 'hello' as const },
      env: { POD_NAME: name, POD_NAMESPACE: 'demo' },
      readinessProbe: {
        action: { httpGet: { port: 8080, path: '/healthz', scheme: 'HTTP' as const } },
        initialDelaySeconds: 0,
        periodSeconds: 1,
        timeoutSeconds: 1,
        successThreshold: 1,
        failureThreshold: 3,
      },
    },
  ],
});

rootTest(
  'pods reach each other, services by ClusterIP (also hairpin) and cluster DNS; port-forward reaches the pod loopback',
  async (t) => {
    await setupHost(paths, journal, execTool);
    t.true((await listNetns(execTool)).includes(nodeNetns(paths)));
    const [a, b] = await Promise.all([
      startPod('a', '10.244.0.2', helloPlan('hello-a')),
      startPod('b', '10.244.0.3', helloPlan('hello-b')),
    ]);

    t.is(await podExec(b.netns, ['curl', '-s', '--max-time', '2', 'http://10.244.0.2:8080/']), 'hello from hello-a\n');

    const svc = {
      metadata: { namespace: 'demo', name: 'hello' },
      spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    };
    const slice = {
      metadata: { namespace: 'demo', name: 'hello-x', labels: { 'kubernetes.io/service-name': 'hello' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.244.0.2'], conditions: { ready: true } }],
    };
    await new KubeProxy(nodeNetns(paths), execTool).sync([svc] as never, [slice] as never);
    t.is(await podExec(b.netns, ['curl', '-s', '--max-time', '2', 'http://10.96.0.20/']), 'hello from hello-a\n');
    t.is(
      await podExec(a.netns, ['curl', '-s', '--max-time', '2', 'http://10.96.0.20/']),
      'hello from hello-a\n',
      'hairpin',
    );
    const refused = await podExec(b.netns, ['curl', '-s', '--max-time', '2', 'http://10.96.0.21/']).catch(
      (e: Error) => e.message,
    );
    t.regex(refused, /curl/, 'a ClusterIP without endpoints fails');

    const { udp, tcp } = await bindInNetns(nodeNetns(paths), '10.96.0.10', 53);
    dns = new ClusterDns(udp, tcp, new Zone([svc] as never, [slice] as never, []), pino({ level: 'silent' }));
    t.is(
      (await podExec(b.netns, ['getent', 'hosts', 'hello'])).split(/\s+/)[0],
      '10.96.0.20',
      'search path and ndots from the pod resolv.conf',
    );
    t.is(await podExec(b.netns, ['curl', '-s', '--max-time', '2', 'http://hello.demo/']), 'hello from hello-a\n');
    t.regex(
      await podExec(b.netns, ['dig', '+tcp', '+short', '@10.96.0.10', 'hello.demo.svc.cluster.local']),
      /^10\.96\.0\.20$/m,
    );

    const viaShim = await new Promise<string>((resolve, reject) => {
      const s = connect(a.socket);
      let got = '';
      s.on('data', (d) => {
        got += String(d);
      });
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.write('8080\nGET / HTTP/1.0\r\n\r\n');
    });
    t.regex(viaShim, /^OK\nHTTP\/1\.1 200 OK[\s\S]*hello from hello-a\n$/);
  },
);

rootTest(
  'the host routes the cluster ranges nowhere but unreachable while up, and is as before after undo',
  async (t) => {
    await setupHost(paths, journal, execTool);
    t.true(await safetyRoutesPresent(paths.prefix));
    t.regex(await hostRouteTo('10.96.0.1'), /^(unreachable|devnet)$/);
    await journal.undoAll(machineUndoEnv);
    t.deepEqual(hostChanges(before as HostState, await hostState(), paths.prefix), []);
  },
);
