// Intercept figures on the cluster `--cluster` names (test/support/e2e.ts:
// the real Kubernetes of test/k8s under the e2e lock, given back as found,
// or a sandbox of its own), with devnet in a "laptop" namespace:
//  1. time from starting `devnet intercept` to the first request a cluster
//     pod sends that reaches the laptop (a prober in the pod GETs every
//     20 ms on fresh connections), with a new intercept pod (cold) and with
//     one already running for the Service (warm: a second personal intercept);
//  2. requests/s and latency from a cluster pod (keep-alive, bounded
//     request count): straight to the Service, through a personal intercept
//     to the original pods (no header), and through it to the laptop (header).
// Everything is local and bounded. The machine is shared: compare runs side
// by side. Usage: sudo npm run bench:intercept [-- [--cluster k8s|sandbox] [REQUESTS [ROUNDS]]]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { E2E, ROOT } from '../test/support/e2e.ts';
import { parseCluster } from './support/report.ts';

const { values, positionals } = parseArgs({ options: { cluster: { type: 'string' } }, allowPositionals: true });
const requests = Number(positionals[0] ?? 2000);
const rounds = Number(positionals[1] ?? 3);
const e = new E2E('bic', parseCluster(values.cluster, process.env));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * podScript is the command that runs one of bench/support's scripts in a
 * demo pod: on the sandbox, `sandbox exec` runs this machine's Node on the
 * checkout's file; a real pod has neither, so its image's Node runs the
 * script's text (type-stripped; the script's name stands in for argv[1]).
 */
function podScript(script: string, args: string[]): string[] {
  const file = join(ROOT, 'bench/support', script);
  if (e.cluster === 'sandbox') return [process.execPath, file, ...args];
  return ['node', '--input-type=module-typescript', '-e', readFileSync(file, 'utf8'), script, ...args];
}

async function firstHit(client: string, prefix: string, start: () => Promise<void>, header?: string): Promise<number> {
  const args = ['http://hello.demo/', prefix, ...(header ? [header] : [])];
  const prober = e.inPod('demo', client, podScript('first-hit.ts', args));
  await new Promise((r) => setTimeout(r, 1500)); // the prober is running
  const t0 = Date.now();
  await start();
  const hit = Number((await prober).stdout.trim().split('\n').pop());
  return hit < 0 ? Number.NaN : hit - t0;
}

async function load(client: string, header?: string) {
  const args = ['http://hello.demo/', String(requests), '8', ...(header ? [header] : [])];
  const r = await e.inPod('demo', client, podScript('http-load.ts', args));
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
    rps: number;
    p50Ms: number;
    p99Ms: number;
    errors: number;
    sample: string;
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  await e.start();
  console.log(`intercept bench on ${e.cluster}`);
  const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
  if (c.code !== 0) throw new Error(`connect: ${c.stderr}`);
  e.laptopServer(9000, 'me');
  e.laptopServer(9001, 'other');
  const client = await e.kubectl(
    'get',
    'pods',
    '-n',
    'demo',
    '-l',
    'app=hello',
    '-o',
    'jsonpath={.items[0].metadata.name}',
  );
  const must = async (...args: string[]) => {
    const r = await e.devnet(...args);
    if (r.code !== 0) throw new Error(`devnet ${args.join(' ')}: ${r.stderr}`);
  };

  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < rounds; i++) {
    cold.push(await firstHit(client, 'laptop me', () => must('intercept', 'hello', '--port', '9000')));
    await must('leave', 'hello');
    await must('intercept', 'hello', '--port', '9001', '--name', 'other', '--header', 'x-dev=other');
    const second = () => must('intercept', 'hello', '--port', '9000', '--name', 'me', '--header', 'x-dev=me');
    warm.push(await firstHit(client, 'laptop me', second, 'x-dev: me'));
    await must('leave', 'me');
    await must('leave', 'other');
  }
  console.log(`time from \`devnet intercept\` to the first intercepted request (${rounds} rounds, ms):`);
  console.log(`  new intercept pod:      median ${median(cold)}  (${cold.join(', ')})`);
  console.log(`  intercept pod running:  median ${median(warm)}  (${warm.join(', ')})`);

  const direct = await load(client);
  await must('intercept', 'hello', '--port', '9000', '--name', 'me', '--header', 'x-dev=me');
  const viaPodToOriginal = await load(client);
  const viaPodToLaptop = await load(client, 'x-dev: me');
  await must('leave', 'me');
  console.log(`requests/s from a pod, ${requests} GETs over 8 keep-alive connections:`);
  for (const [what, r] of [
    ['straight to the Service', direct],
    ['personal intercept, no header (→ original pods)', viaPodToOriginal],
    ['personal intercept, header (→ laptop)', viaPodToLaptop],
  ] as const)
    console.log(
      `  ${what.padEnd(50)} ${String(r.rps).padStart(6)} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  errors ${r.errors}  (${r.sample})`,
    );
}

main()
  .catch((err: unknown) => {
    console.error(`bench:intercept: ${(err as Error).message ?? err}`);
    process.exitCode = 1;
  })
  .finally(() => e.cleanup());
