// The test command: type-check, lint, then every test with ava. Before and
// after, it removes test network namespaces (dnt-<pid>-*) whose process is
// gone, so a test killed outright cannot leave the host changed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

// A test killed outright (an ava timeout) skips its after.always hooks, so a
// sandbox it started keeps running. Sandboxes made by tests carry the test
// process's pid in their prefix (dnt-<pid>-...): take down those whose test
// process is gone, with the same state and run dirs they were started with.
function sweepStaleSandboxes() {
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return;
  }
  for (const pid of pids) {
    let cmdline = '';
    let environ = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/sandbox\/supervisor\.[tj]s\0/.test(cmdline)) continue;
      environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    } catch {
      continue;
    }
    const env = Object.fromEntries(
      environ
        .split('\0')
        .filter((kv) => kv.startsWith('DEVNET_SANDBOX_'))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const owner = /^dnt-(\d+)-/.exec(env.DEVNET_SANDBOX_PREFIX ?? '');
    if (!owner || existsSync(`/proc/${owner[1]}`)) continue;
    spawnSync(process.execPath, [join(root, 'bin/devnet.mjs'), 'sandbox', 'down'], {
      env: { ...process.env, ...env, KUBECONFIG: join(env.DEVNET_SANDBOX_STATE ?? '/nonexistent', 'swept-kubeconfig') },
      stdio: 'ignore',
      timeout: 60_000,
    });
    console.error(`test: took down sandbox ${env.DEVNET_SANDBOX_PREFIX} left by a killed test`);
  }
}

// A sandbox whose supervisor was killed before its journal could be undone
// leaves its host safety routes (`unreachable` for the sandbox's ranges, at a
// metric derived from its prefix). Remove those that belong to no live
// sandbox, and say so: the host must be as the run found it.
async function sweepStaleSafetyRoutes(liveNetns) {
  const { safetyMetric } = await import('../src/sandbox/hostnet.ts');
  const { POD_CIDR, SERVICE_CIDR } = await import('../src/sandbox/constants.ts');
  const live = new Set(
    liveNetns.filter((n) => n.endsWith('-node')).map((n) => safetyMetric(n.slice(0, -'-node'.length))),
  );
  let routes = '';
  try {
    routes = execFileSync('ip', ['route', 'show', 'type', 'unreachable'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of routes.split('\n')) {
    const m = /^unreachable (\S+) metric (\d+)/.exec(line.trim());
    if (!m || ![SERVICE_CIDR, POD_CIDR].includes(m[1])) continue;
    const metric = Number(m[2]);
    if (metric < 9000 || metric >= 9900 || live.has(metric)) continue;
    spawnSync('ip', ['route', 'del', 'unreachable', m[1], 'metric', String(metric)], { stdio: 'ignore' });
    console.error(`test: removed safety route ${m[1]} metric ${metric} that a killed sandbox left`);
  }
}

async function sweepStaleNetns() {
  sweepStaleSandboxes();
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  const live = [];
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    const m = /^dnt-(\d+)-/.exec(name ?? '');
    if (m && !existsSync(`/proc/${m[1]}`)) {
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      console.error(`test: removed stale test namespace ${name}`);
    } else if (name) live.push(name);
  }
  if (process.getuid?.() === 0) await sweepStaleSafetyRoutes(live);
  // The per-namespace resolv.conf folders `ip netns exec` reads (tests and test sandboxes write them).
  let etc = [];
  try {
    etc = readdirSync('/etc/netns');
  } catch {
    return;
  }
  for (const name of etc) {
    const m = /^dnt-(\d+)-/.exec(name);
    if (m && !existsSync(`/proc/${m[1]}`)) rmSync(join('/etc/netns', name), { recursive: true, force: true });
  }
}

async function step(title, cmd, args) {
  console.log(`\n== ${title}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`== ${title} failed`);
    await sweepStaleNetns();
    process.exit(r.status ?? 1);
  }
}

// The end-to-end suites run against DEVNET_TEST_CLUSTER (k8s by default: the
// real Kubernetes of test/k8s). When a selected test file uses the e2e
// harness, this run holds the cluster's users lock (shared) and starts the
// cluster if it is not running (k8s:up is idempotent; it also refreshes the
// images from this checkout); the last run out takes down a cluster that a
// test run started, so the host is left as it was found.
const only = process.argv.slice(2);

// A nested run: test/fresh-clone.test.ts runs this command (the README's `npm test`) inside a fresh
// clone with DEVNET_TEST_NESTED=1. It runs the type-check, the lint, every unit test and the suites
// whose programs run from the checkout's own files (the sandbox and its staged gateway image,
// connect's helper and daemon, intercept pods), on the sandbox: what a clone's location and a fresh
// `npm ci` can break. Suites that do not depend on where the checkout is (netstack, tunnel, DNS, the
// API server's own suites, the package) and the real cluster run once, in the outer run; the
// fresh-clone test itself never runs nested (no recursion). docs/testing.md explains the choice.
const NESTED_SUITES = [
  'src/**/*.test.ts',
  'test/cli-errors.test.ts',
  'test/sandbox-e2e.test.ts',
  'test/connect-e2e.test.ts',
  'test/intercept-e2e.test.ts',
];
const nested = process.env.DEVNET_TEST_NESTED === '1';
if (nested && only.length === 0) {
  console.log(`== nested run in a fresh clone: ${NESTED_SUITES.join(' ')} (on the sandbox)`);
  only.push(...NESTED_SUITES);
  process.env.DEVNET_TEST_CLUSTER = 'sandbox';
}
const testFiles = (dir) =>
  readdirSync(join(root, dir), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
const selected = only.filter((a) => a.endsWith('.ts'));
const files = selected.length ? selected : [...testFiles('src'), ...testFiles('test')];
const usesCluster = files.some((f) => {
  try {
    return /support\/e2e\.ts'/.test(readFileSync(join(root, f), 'utf8'));
  } catch {
    return false;
  }
});
const cluster = process.env.DEVNET_TEST_CLUSTER ?? 'k8s';
let releaseUsers;
async function clusterUp() {
  const { holdLock } = await import('../test/k8s/lock.ts');
  const { TEST_USERS_LOCK } = await import('../test/k8s/layout.ts');
  releaseUsers = await holdLock(TEST_USERS_LOCK, 'shared');
  console.log('\n== the real test cluster (test/k8s): k8s:up');
  const r = spawnSync(process.execPath, [join(root, 'test/k8s/main.ts'), 'up', '--by-tests'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error('== the real test cluster did not come up (see above); the end-to-end suites need it');
    process.exit(r.status ?? 1);
  }
}
async function clusterDownIfLast() {
  const { tryLock } = await import('../test/k8s/lock.ts');
  const { TEST_USERS_LOCK, paths, startedByTests } = await import('../test/k8s/layout.ts');
  await releaseUsers?.();
  if (!existsSync(startedByTests(paths()))) return;
  const release = await tryLock(TEST_USERS_LOCK);
  if (!release) return; // another test run still uses the cluster
  console.log('\n== the real test cluster was started by tests: k8s:down');
  const r = spawnSync(process.execPath, [join(root, 'test/k8s/main.ts'), 'down'], { cwd: root, stdio: 'inherit' });
  await release();
  return r.status === 0;
}
const withCluster = usesCluster && cluster === 'k8s' && process.getuid?.() === 0;

await sweepStaleNetns();
if (only.length === 0 || nested) {
  await step('type-check', process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    'tsconfig.json',
    '--noEmit',
  ]);
  await step('lint', bin('biome'), ['check', '.']);
}
console.log('\n== tests');
if (withCluster) await clusterUp();
const tests = spawnSync(process.execPath, [join(root, 'node_modules/ava/entrypoints/cli.js'), ...only], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DEVNET_TEST_CLUSTER: cluster },
});
await sweepStaleNetns();
if (withCluster && (await clusterDownIfLast()) === false) {
  console.error('== the real test cluster was not taken down cleanly (see above)');
  process.exit(tests.status || 1);
}
if (tests.status !== 0) {
  console.error('== tests failed');
  process.exit(tests.status ?? 1);
}
process.exit(0);
