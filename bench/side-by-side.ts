// `npm run bench` (Linux, root): devnet side by side with the direct path and
// the peers users would pick instead, in one run — issue 8, issue 5 item 7
// and issue 12 — on the cluster `--cluster` names: `k8s`, the real
// Kubernetes of test/k8s (the default, as DEVNET_TEST_CLUSTER's; it must be
// running: `sudo npm run k8s:up`), or `sandbox`, a sandbox of the bench's
// own. From a laptop namespace to a benchmark pod, for each path: one-stream
// TCP throughput each way (iperf3), request/response RTT p50/p99 (sockperf
// ping-pong), new connections per second (connect, one request, close); for
// devnet also daemon memory per idle connection and cached DNS latency and
// rate (dnsperf). See bench/support/lab.ts for the topology and
// docs/benchmarks.md for the results and how to reproduce them.
//
//   npm run bench -- [--cluster k8s|sandbox] [--json FILE] [--only NAME[,NAME]] [--quick] [--wan-matrix]
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab } from './support/lab.ts';
import { type Budget, measureDevnet, measurePath } from './support/measure.ts';
import { SETUPS } from './support/paths.ts';
import {
  formatPgbenchTable,
  measurePgbench,
  type PgbenchDocument,
  type PgbenchShape,
  startPostgres,
} from './support/pgbench.ts';
import { Cleanup } from './support/programs.ts';
import {
  type BenchDocument,
  type BenchName,
  formatCpuTable,
  formatHeading,
  formatTable,
  type PathName,
  parseBenches,
  parseCluster,
  parsePaths,
  roundFigures,
} from './support/report.ts';
import { sweepStale } from './support/sweep.ts';
import { ensureTools } from './support/tools.ts';
import {
  formatWanTable,
  measureWan,
  WAN_PROFILES_FULL,
  WAN_PROFILES_SMALL,
  type WanBudget,
  type WanDocument,
  type WanFigures,
} from './support/wan.ts';
import { profileName, type WanProfile } from './support/wan-link.ts';

const { values } = parseArgs({
  options: {
    cluster: { type: 'string' },
    json: { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean' },
    'wan-matrix': { type: 'boolean' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: npm run bench -- [--cluster k8s|sandbox] [--json FILE] [--only NAME[,NAME]] [--quick] [--wan-matrix]\n' +
      'clusters: k8s (the real Kubernetes of test/k8s: `sudo npm run k8s:up` first), sandbox;\n' +
      '          the default is DEVNET_TEST_CLUSTER, itself k8s by default\n' +
      'paths: direct, devnet-direct, devnet-portforward, openvpn, wireguard-go, sshuttle (all unless --only names some)\n' +
      'benchmarks: lan (side by side), pgbench (PostgreSQL), wan (emulated WAN link) (all unless --only names some)\n' +
      '--cpu-prof DIR: devnet runs with node --cpu-prof into DIR and the lan bench takes only conn/s (the new-connection path)\n' +
      '--wan-matrix: the WAN bench at 20 and 50 ms RTT × 100 Mbit/s and 1 Gbit/s (default: 20 ms, 100 Mbit/s only)\n',
  );
  process.exit(0);
}
if (process.platform !== 'linux' || process.getuid?.() !== 0) {
  process.stderr.write('npm run bench needs Linux and root (it creates network namespaces and a TUN device).\n');
  process.exit(2);
}

let paths: PathName[];
let benches: BenchName[];
let cluster: ReturnType<typeof parseCluster>;
try {
  paths = parsePaths(values.only);
  benches = parseBenches(values.only);
  cluster = parseCluster(values.cluster, process.env);
} catch (err) {
  process.stderr.write(`npm run bench: ${(err as Error).message}\n`);
  process.exit(2);
}
const budget: Budget = values.quick ? { runs: 1, seconds: 2 } : { runs: 3, seconds: 3 };
const idleConnections = values.quick ? 2000 : 10_000;
const pgShape: PgbenchShape = values.quick
  ? { clients: 8, jobs: 2, scale: 10, seconds: 4, runs: 1 }
  : { clients: 8, jobs: 2, scale: 10, seconds: 8, runs: 3 };
const cpuProfDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
const wanProfiles = values['wan-matrix'] ? WAN_PROFILES_FULL : WAN_PROFILES_SMALL;
const wanBudget: WanBudget = values.quick
  ? { iperfRuns: 1, iperfSeconds: 3, ttfbSamples: 5, fetchSamples: 3 }
  : { iperfRuns: 3, iperfSeconds: 4, ttfbSamples: 15, fetchSamples: 7 };
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
const started = Date.now();
const doc: BenchDocument = {
  cluster,
  machine: {
    date: new Date().toISOString(),
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    mem_gib: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    load_avg_start: loadavg().map((x) => Math.round(x * 100) / 100),
    mode: values.quick ? 'quick' : 'full',
    benches,
    runs_per_figure: budget.runs,
    seconds_per_run: budget.seconds,
    idle_connections: idleConnections,
  },
  results: {},
  devnet: {},
  skipped: {},
  notes: {},
};

const cleanup = new Cleanup();
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: cleaning up`);
    await cleanup.run(log);
    process.exit(130);
  });
}

// The bench stops by itself: no new path after its budget (9 minutes for
// the side-by-side figures alone), and a watchdog cleans up and exits should
// anything hang 3 minutes past that, both counted from the
// moment it holds its cluster (waiting for the real cluster's e2e lock is
// not counted: that wait ends when the suite holding it does).
// Each benchmark adds its own share (the full WAN matrix more).
const watchdogMs =
  60_000 *
  ((benches.includes('lan') ? 12 : 0) +
    (benches.includes('pgbench') ? 8 : 0) +
    (benches.includes('wan') ? (values['wan-matrix'] ? 16 : 8) : 0));
const pathDeadlineMs = watchdogMs - 3 * 60_000;
let held = Date.now();
function armWatchdog(): void {
  held = Date.now();
  setTimeout(async () => {
    if (stopping) return;
    stopping = true;
    log(`watchdog: ${watchdogMs / 60_000} minutes passed; cleaning up and exiting`);
    await cleanup.run(log);
    process.exit(124);
  }, watchdogMs).unref();
}

/** clusterVersion asks the API server its version (gitVersion), for the record; '' when it does not say. */
async function clusterVersion(lab: Lab): Promise<string> {
  try {
    const v = JSON.parse(await lab.kubectl(['version', '-o', 'json'])) as { serverVersion?: { gitVersion?: string } };
    return v.serverVersion?.gitVersion ?? '';
  } catch {
    return '';
  }
}

/** The devnet-only figures are taken on the direct transport when it is measured, else on port-forward. */
const devnetExtrasOn: PathName | undefined = paths.includes('devnet-direct')
  ? 'devnet-direct'
  : paths.includes('devnet-portforward')
    ? 'devnet-portforward'
    : undefined;

/** PathRun sets up one path (checked: the laptop's route to the pod goes through the path's own device) and measures it. */
async function onEachPath(
  lab: Lab,
  runnable: PathName[],
  phase: string,
  measure: (path: PathName, c: Cleanup) => Promise<void>,
): Promise<void> {
  for (const path of runnable) {
    if (stopping) return;
    const key = phase ? `${phase}:${path}` : path;
    if (Date.now() - held > pathDeadlineMs) {
      doc.skipped[key] = `not started: the run is past its ${pathDeadlineMs / 60_000}-minute budget`;
      continue;
    }
    const c = new Cleanup();
    cleanup.add(`path ${key}`, () => c.run(log));
    const t0 = Date.now();
    try {
      const before = await lab.routeToPod();
      if (before) throw new Error(`the laptop already routes the pod via ${before} before the path is set up`);
      const dev = await SETUPS[path](lab, c, log);
      const via = await lab.routeToPod();
      if (via !== dev) throw new Error(`the laptop routes the pod via "${via}", expected ${dev}`);
      await lab.waitReachable();
      log(`${key}: measuring (route to the pod via ${via})`);
      await measure(path, c);
    } catch (err) {
      doc.skipped[key] = (err as Error).message.split('\n').slice(0, 3).join(' ');
      log(`${key}: not measured: ${doc.skipped[key]}`);
    } finally {
      await c.run(log);
      log(`${key}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
}

/** lanBench is the side-by-side figures (the run's original benchmark). */
async function lanBench(lab: Lab, runnable: PathName[]): Promise<void> {
  await onEachPath(lab, runnable, '', async (path, c) => {
    doc.results[path] = roundFigures(
      await measurePath(
        lab,
        budget,
        (figure, why) => {
          doc.skipped[`${path}.${figure}`] = why;
        },
        (figure, what) => {
          doc.notes[`${path}.${figure}`] = what;
        },
        cpuProfDir !== undefined,
        (figure, shares) => {
          doc.cpu ??= {};
          const byFigure = doc.cpu[path] ?? {};
          byFigure[figure] = shares;
          doc.cpu[path] = byFigure;
        },
      ),
    );
    if (path === devnetExtrasOn && cpuProfDir === undefined) {
      // A fresh session, so that thousands of connections just closed by the
      // connection-rate runs neither help nor hurt the idle-connection figure.
      await c.run(log);
      const again = new Cleanup();
      cleanup.add(`path ${path} (devnet figures)`, () => again.run(log));
      try {
        await SETUPS[path](lab, again, log);
        await lab.waitReachable();
        log(`${path}: devnet figures (${idleConnections} idle connections, DNS)`);
        doc.devnet = await measureDevnet(lab, budget, idleConnections, (figure, why) => {
          doc.skipped[figure] = why;
        });
      } finally {
        await again.run(log);
      }
    }
  });
  if (!devnetExtrasOn) doc.skipped.devnet = 'no devnet path selected';
}

/** wanBench measures every path over the emulated WAN link, each path set up once and measured at every profile. */
async function wanBench(lab: Lab, runnable: PathName[]): Promise<void> {
  const wan: WanDocument = { profiles: wanProfiles, mtu: 1500, results: {} };
  doc.wan = wan;
  const reshape = await lab.useWanLink(wanProfiles[0] as WanProfile, log);
  await onEachPath(lab, runnable, 'wan', async (path) => {
    for (const profile of wanProfiles) {
      const name = profileName(profile);
      await reshape(profile);
      await lab.waitReachable();
      log(`wan:${path}: ${name}`);
      wan.results[name] ??= {};
      (wan.results[name] as Partial<Record<PathName, WanFigures>>)[path] = await measureWan(
        lab,
        profile,
        wanBudget,
        (figure, why) => {
          doc.skipped[`wan:${path}.${name}.${figure}`] = why;
        },
      );
    }
  });
}

/** pgBench drives PostgreSQL in the benchmark pod with pgbench through every path. */
async function pgBench(lab: Lab, runnable: PathName[]): Promise<void> {
  let server: string;
  try {
    server = await startPostgres(lab, pgShape, log);
  } catch (err) {
    doc.skipped.pgbench = (err as Error).message;
    log(`pgbench: not measured: ${doc.skipped.pgbench}`);
    return;
  }
  const pg: PgbenchDocument = { shape: pgShape, server, results: {} };
  doc.pgbench = pg;
  await onEachPath(lab, runnable, 'pgbench', async (path) => {
    pg.results[path] = await measurePgbench(lab, pgShape, (figure, why) => {
      doc.skipped[`pgbench:${path}.${figure}`] = why;
    });
  });
}

async function main(): Promise<void> {
  await sweepStale(log);
  const tools = await ensureTools(paths, log);
  doc.machine.versions = tools.versions;
  for (const [path, why] of Object.entries(tools.missing)) doc.skipped[path] = why;
  const runnable = paths.filter((p) => !doc.skipped[p]);
  const lab = new Lab(cleanup);
  await lab.open(cluster, log);
  armWatchdog();
  const version = await clusterVersion(lab);
  if (version) doc.machine.cluster_version = version;
  await lab.start(log);
  if (cpuProfDir !== undefined) {
    mkdirSync(cpuProfDir, { recursive: true, mode: 0o777 });
    chmodSync(cpuProfDir, 0o777); // the daemon may run as the invoking user
    lab.laptopEnv.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${cpuProfDir}`;
    log(`devnet profiled into ${cpuProfDir}`);
  }
  // In run order; the WAN bench comes last, since it replaces the laptop's link for the rest of the run.
  if (benches.includes('lan')) await lanBench(lab, runnable);
  if (benches.includes('pgbench') && !stopping) await pgBench(lab, runnable);
  if (benches.includes('wan') && !stopping) await wanBench(lab, runnable);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  log(`failed: ${(err as Error).message ?? err}`);
} finally {
  await cleanup.run(log);
}
if (stopping) process.exit(130);
// Failed before any path was tried (no cluster, a missing common tool): the message says it all.
if (failed && Object.keys(doc.results).length === 0 && Object.keys(doc.skipped).length === 0) process.exit(1);
doc.machine.load_avg_end = loadavg().map((x) => Math.round(x * 100) / 100);
doc.machine.duration_s = Math.round((Date.now() - started) / 1000);
process.stdout.write(`\n${formatHeading(doc)}\n\n${formatTable(doc)}\n`);
const cpuCount = Number(doc.machine.cpus) || cpus().length;
if (doc.cpu) process.stdout.write(`\n${formatCpuTable(doc.cpu, cpuCount)}\n`);
if (doc.pgbench) process.stdout.write(`\n${formatPgbenchTable(doc.pgbench, cpuCount)}\n`);
if (doc.wan) process.stdout.write(`\n${formatWanTable(doc.wan)}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(doc, null, 2)}\n`);
process.exit(failed ? 1 : 0);
