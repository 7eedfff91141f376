// The sandbox supervisor: the detached process `devnet sandbox up` starts
// (its own process group; pid and logs in the run dir). It builds the
// node namespace and safety routes, runs the API server in-process, writes
// the kubeconfig, runs the node agent, creates the demo workloads, and
// reports its progress in status.json until everything is Ready and DNS
// answers from inside a pod. SIGTERM stops pods and the API server; what
// the kernel holds is removed by `down` from the journal.
import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { FileJournal } from '../journal/journal.ts';
import { type ApiServer, startApiServer } from './apiserver/index.ts';
import { CLUSTER_DOMAIN } from './constants.ts';
import { isReady } from './controllers/pods.ts';
import { demoObjects } from './demo.ts';
import { execTool } from './exec.ts';
import { setupHost } from './hostnet.ts';
import { imageLayout, stageImage, thisProgram } from './image.ts';
import { type Clients, kubeConfigFor, makeClients } from './kube.ts';
import { sandboxKubeconfig, writeKubeconfig } from './kubeconfig.ts';
import { NodeAgent } from './node-agent.ts';
import { podNetns, runFile, type SandboxPaths, sandboxPaths } from './paths.ts';
import { kubeconfigFile, type SupervisorStatus, statusFile } from './supervisor-status.ts';

async function createDemo(c: Clients): Promise<void> {
  const ignoreExists = (err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  };
  const d = demoObjects();
  await Promise.all(d.namespaces.map((body) => c.core.createNamespace({ body }).catch(ignoreExists)));
  await Promise.all([
    ...d.configMaps.map((body) =>
      c.core.createNamespacedConfigMap({ namespace: body.metadata?.namespace ?? '', body }).catch(ignoreExists),
    ),
    ...d.services.map((body) =>
      c.core.createNamespacedService({ namespace: body.metadata?.namespace ?? '', body }).catch(ignoreExists),
    ),
    ...d.deployments.map((body) =>
      c.apps.createNamespacedDeployment({ namespace: body.metadata?.namespace ?? '', body }).catch(ignoreExists),
    ),
    ...d.statefulsets.map((body) =>
      c.apps.createNamespacedStatefulSet({ namespace: body.metadata?.namespace ?? '', body }).catch(ignoreExists),
    ),
  ]);
}

/** demoReady reports whether every demo workload has all its replicas Ready. */
function demoReady(agent: NodeAgent): boolean {
  const s = agent.state();
  const d = demoObjects();
  const want = [...d.deployments, ...d.statefulsets];
  return want.every((w) => {
    const ns = w.metadata?.namespace;
    const app = w.metadata?.name;
    const replicas = w.spec?.replicas ?? 1;
    const ready = s.pods.filter((p) => p.metadata?.namespace === ns && p.metadata?.labels?.app === app && isReady(p));
    return ready.length >= replicas;
  });
}

/** dnsAnswersInPod resolves a demo name from inside a demo pod, through its resolv.conf, as an app would. */
function dnsAnswersInPod(paths: SandboxPaths, agent: NodeAgent): Promise<boolean> {
  const pod = agent.state().pods.find((p) => p.metadata?.namespace === 'demo' && isReady(p));
  if (!pod?.metadata?.uid) return Promise.resolve(false);
  const netns = podNetns(paths, pod.metadata.uid);
  return new Promise((done) => {
    execFile(
      'ip',
      ['netns', 'exec', netns, 'getent', 'ahostsv4', `hello.demo.svc.${CLUSTER_DOMAIN}`],
      { timeout: 3000 },
      (err, out) => done(!err && /^\d+\.\d+\.\d+\.\d+\s/m.test(String(out))),
    );
  });
}

async function main(): Promise<void> {
  const paths = sandboxPaths();
  const logger = pino(
    { base: { pid: process.pid } },
    pino.destination({ dest: runFile(paths, 'supervisor.log'), sync: false, append: true }),
  );
  const startedAt = new Date().toISOString();
  let status: SupervisorStatus = { pid: process.pid, phase: 'starting', startedAt };
  const report = (s: Partial<SupervisorStatus>) => {
    status = { ...status, ...s };
    // write then rename: readers never see half a file
    writeFileSync(`${statusFile(paths)}.tmp`, JSON.stringify(status));
    renameSync(`${statusFile(paths)}.tmp`, statusFile(paths));
  };
  report({});
  const journal = FileJournal.shared(runFile(paths, 'journal.jsonl'));
  let api: ApiServer | undefined;
  let agent: NodeAgent | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    report({ phase: code === 0 ? 'stopping' : 'failed' });
    await agent?.close().catch(() => undefined);
    await Promise.resolve(api?.close()).catch(() => undefined);
    logger.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  try {
    // The API server first: a port in use fails the start before anything is made in the kernel.
    api = await startApiServer({
      stateDir: paths.stateDir,
      runDir: paths.runDir,
      host: '127.0.0.1',
      port: paths.port,
      logger: logger.child({ component: 'apiserver' }),
    });
    const t0 = Date.now();
    const phase = (msg: string) => logger.info({ ms: Date.now() - t0 }, msg);
    phase('API server up');
    const kubeconfig = kubeconfigFile(paths);
    writeKubeconfig(kubeconfig, sandboxKubeconfig(api));
    report({ url: api.url, kubeconfig });
    const clients = makeClients(kubeConfigFor({ url: api.url, caCertPem: api.caCertPem, token: api.tokens.admin }));
    // The demo objects go in while the node is built and its agent starts: the informers list whatever is there.
    const demo = createDemo(clients).then(() => phase('demo objects created'));
    demo.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    // The gateway image is copied in the background: only pods that run it (the gateway, intercepts) wait for it.
    const image = {
      layout: imageLayout(paths.imageDir, thisProgram()),
      staged: stageImage(paths.imageDir, journal, thisProgram()).then(
        () => phase('gateway image staged'),
        (err: Error) => {
          logger.error({ err: err.message }, 'staging the gateway image failed');
          throw err;
        },
      ),
    };
    image.staged.catch(() => undefined); // awaited by the pods that need it
    await setupHost(paths, journal, execTool);
    phase('node namespace and safety routes made');
    agent = new NodeAgent({
      paths,
      clients,
      journal,
      exec: execTool,
      logger,
      image,
      api: { host: '127.0.0.1', port: Number(new URL(api.url).port), caCertPem: api.caCertPem },
    });
    await agent.start();
    phase('node agent started');
    await demo;
    const a = agent;
    const deadline = Date.now() + 80_000;
    while (!(demoReady(a) && (await dnsAnswersInPod(paths, a)))) {
      if (Date.now() > deadline)
        throw new Error('demo workloads did not become Ready within 80 s (see supervisor.log and pods/*/pod.log)');
      await new Promise((r) => setTimeout(r, 100));
    }
    report({ phase: 'ready', readyAt: new Date().toISOString(), dns: a.dnsCounters(), runners: a.runners() });
    phase('sandbox ready');
    setInterval(() => report({ dns: a.dnsCounters(), runners: a.runners() }), 1000).unref();
  } catch (err) {
    logger.error({ err: String((err as Error).stack ?? err) }, 'sandbox failed to start');
    report({ phase: 'failed', message: (err as Error).message });
    await stop(1);
  }
}

if (import.meta.main) await main();
