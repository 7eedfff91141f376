// Sandbox timings: cold `devnet sandbox up` (fresh state, to every demo pod
// Ready and DNS answering), a repeated `up`, scaling a Deployment from 0 to
// 10 Ready pods, and `down`. Runs in temporary dirs with its own name
// prefix and port; numbers from a shared 2-vCPU machine are noisy — compare
// runs side by side. Usage: sudo npm run bench:sandbox [-- ROUNDS]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const root = join(import.meta.dirname, '..');
const rounds = Number(process.argv[2] ?? 3);
const run = promisify(execFile);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root');
  const dir = mkdtempSync(join(tmpdir(), 'devnet-bench-sbx-'));
  const env = {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(dir, 'state'),
    DEVNET_SANDBOX_RUN: join(dir, 'run'),
    DEVNET_SANDBOX_PREFIX: `bench-${process.pid}`,
    DEVNET_SANDBOX_PORT: '26499',
    KUBECONFIG: join(dir, 'kubeconfig'),
  };
  const devnet = (...args: string[]) =>
    run(process.execPath, [join(root, 'bin/devnet.mjs'), 'sandbox', ...args], { env });
  const results: Record<string, number[]> = { 'up (cold)': [], 'up (again)': [], 'scale 0→10 Ready': [], down: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      results['up (cold)']?.push(await timed(() => devnet('up')));
      results['up (again)']?.push(await timed(() => devnet('up')));
      const kc = new KubeConfig();
      kc.loadFromFile(env.KUBECONFIG);
      kc.setCurrentContext('devnet-sandbox');
      const apps = kc.makeApiClient(AppsV1Api);
      const core = kc.makeApiClient(CoreV1Api);
      results['scale 0→10 Ready']?.push(
        await timed(async () => {
          await apps.createNamespacedDeployment({
            namespace: 'demo',
            body: {
              metadata: { name: 'bench' },
              spec: {
                replicas: 10,
                selector: { matchLabels: { app: 'bench' } },
                template: {
                  metadata: { labels: { app: 'bench' } },
                  spec: {
                    containers: [
                      {
                        name: 'b',
                        image: 'ghcr.io/devnet-dev/demo-echo:latest',
                        readinessProbe: { tcpSocket: { port: 7 } },
                      },
                    ],
                  },
                },
              },
            },
          });
          for (let n = 0; n < 600; n++) {
            const pods = await core.listNamespacedPod({ namespace: 'demo', labelSelector: 'app=bench' });
            const ready = pods.items.filter((p) =>
              p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
            );
            if (ready.length === 10) return;
            await new Promise((r) => setTimeout(r, 50));
          }
          throw new Error('10 pods not Ready within 30 s');
        }),
      );
      results.down?.push(await timed(() => devnet('down')));
    }
  } finally {
    await devnet('down').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`devnet sandbox timings, ${rounds} rounds (ms; median, min, max)`);
  for (const [name, xs] of Object.entries(results)) {
    console.log(
      `  ${name.padEnd(18)} ${median(xs).toFixed(0).padStart(6)} ${Math.min(...xs)
        .toFixed(0)
        .padStart(6)} ${Math.max(...xs)
        .toFixed(0)
        .padStart(6)}`,
    );
  }
}

await main();
