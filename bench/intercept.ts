// Intercept figures on a sandbox of its own (test/support/e2e.ts: own
// namespace prefix, temp dirs, a "laptop" namespace running devnet):
//  1. time from starting `devnet intercept` to the first request a cluster
//     pod sends that reaches the laptop (a prober in the pod GETs every
//     20 ms on fresh connections), with a new intercept pod (cold) and with
//     one already running for the Service (warm: a second personal intercept);
//  2. requests/s and latency from a cluster pod (keep-alive, bounded
//     request count): straight to the Service, through a personal intercept
//     to the original pods (no header), and through it to the laptop (header).
// Everything is local and bounded. The machine is shared: compare runs side
// by side. Usage: sudo npm run bench:intercept [-- REQUESTS [ROUNDS]]
import { join } from 'node:path';
import { E2E, ROOT } from '../test/support/e2e.ts';

const requests = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 3);
const e = new E2E('bic');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function firstHit(client: string, prefix: string, start: () => Promise<void>, header?: string): Promise<number> {
  const args = [process.execPath, join(ROOT, 'bench/support/first-hit.ts'), 'http://hello.demo/', prefix];
  const prober = e.inPod('demo', client, header ? [...args, header] : args);
  await new Promise((r) => setTimeout(r, 1500)); // the prober is running
  const t0 = Date.now();
  await start();
  const hit = Number((await prober).stdout.trim().split('\n').pop());
  return hit < 0 ? Number.NaN : hit - t0;
}

async function load(client: string, header?: string) {
  const args = [
    process.execPath,
    join(ROOT, 'bench/support/http-load.ts'),
    'http://hello.demo/',
    String(requests),
    '8',
  ];
  const r = await e.inPod('demo', client, header ? [...args, header] : args);
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
  const c = await e.devnet('connect', '--context', 'devnet-sandbox', '-n', 'demo', '--dns-mode', 'none');
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
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => e.cleanup());
