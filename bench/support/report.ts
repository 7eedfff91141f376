// The side-by-side bench's results: parsers for the tools' outputs, the JSON
// document `npm run bench -- --json FILE` writes, and the stdout heading and
// table. Pure functions, unit-tested in test/bench-report.test.ts.
import { type ClusterKind, clusterKind } from '../../test/support/k8s.ts';
import { type CpuShares, formatShares } from './cpu-share.ts';
import type { PgbenchDocument } from './pgbench.ts';
import type { WanDocument } from './wan.ts';

/** PATHS are the measured paths, in table order. */
export const PATHS = ['direct', 'devnet-portforward', 'devnet-direct', 'openvpn', 'wireguard-go', 'sshuttle'] as const;
/** PathName is one measured path. */
export type PathName = (typeof PATHS)[number];

/** PathFigures are one path's medians; a figure that could not be taken is absent. */
export interface PathFigures {
  tcp_up_gbps?: number;
  tcp_down_gbps?: number;
  rtt_p50_us?: number;
  rtt_p99_us?: number;
  conn_per_s?: number;
}

/** DevnetFigures are the figures only devnet has. */
export interface DevnetFigures {
  idle_conn_kib?: number;
  dns_cached_p50_us?: number;
  dns_qps?: number;
}

/** BenchDocument is what --json writes. */
export interface BenchDocument {
  /** cluster is the kind of cluster the pod ran on (`--cluster`). */
  cluster: ClusterKind;
  machine: Record<string, unknown>;
  results: Partial<Record<PathName, PathFigures>>;
  devnet: DevnetFigures;
  /** skipped says why a path (or a figure, as "path.figure") was not measured. */
  skipped: Record<string, string>;
  /** notes record retried or failed runs behind a figure that was measured ("path.figure"). */
  notes: Record<string, string>;
  /** wan is the WAN bench's figures (bench/support/wan.ts), when it ran. */
  wan?: WanDocument;
  /** pgbench is the real-application bench's figures (bench/support/pgbench.ts), when it ran. */
  pgbench?: PgbenchDocument;
  /**
   * cpu is where each figure's CPU time went: percent of one CPU by process
   * while the figure's runs lasted (bench/support/cpu-share.ts), keyed by
   * path and by the figure's first key (tcp_up_gbps, tcp_down_gbps, rtt_p50_us, conn_per_s).
   */
  cpu?: Partial<Record<PathName, Record<string, CpuShares>>>;
}

/** formatCpuTable writes where each figure's CPU time went, a line per path and figure. */
export function formatCpuTable(cpu: NonNullable<BenchDocument['cpu']>, cpus: number): string {
  const out = [
    `CPU while each figure was measured (percent of one CPU, over all its runs; the machine has ${cpus * 100}%)`,
    '',
  ];
  for (const [path, figures] of Object.entries(cpu)) {
    for (const [figure, shares] of Object.entries(figures ?? {})) {
      out.push(`- ${path}, ${CPU_FIGURES[figure] ?? figure}: ${formatShares(shares)}`);
    }
  }
  return out.join('\n');
}

/** CPU_FIGURES name the figures whose CPU formatCpuTable reports. */
const CPU_FIGURES: Record<string, string> = {
  tcp_up_gbps: 'upload',
  tcp_down_gbps: 'download',
  rtt_p50_us: 'request/response',
  conn_per_s: 'new connections',
};

/** BENCHES are the benchmarks one run can take, in run order: `lan` (the side-by-side figures), `wan`, `pgbench`. */
export const BENCHES = ['lan', 'pgbench', 'wan'] as const;
/** BenchName is one benchmark of the run. */
export type BenchName = (typeof BENCHES)[number];

/** onlyNames splits `--only a,b`; unknown names are an error naming the valid ones. */
function onlyNames(only: string | undefined): string[] {
  const names = (only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(PATHS as readonly string[]).includes(n) && !(BENCHES as readonly string[]).includes(n)) {
      throw new Error(`unknown path "${n}" in --only; valid: ${PATHS.join(', ')}; benchmarks: ${BENCHES.join(', ')}`);
    }
  }
  return names;
}

/** parsePaths reads the paths of `--only a,b` (all when it names none), in table order. */
export function parsePaths(only: string | undefined): PathName[] {
  const names = onlyNames(only);
  if (!names.some((n) => (PATHS as readonly string[]).includes(n))) return [...PATHS];
  return PATHS.filter((p) => names.includes(p));
}

/** parseBenches reads the benchmarks of `--only a,b` (all when it names none), in run order. */
export function parseBenches(only: string | undefined): BenchName[] {
  const names = onlyNames(only);
  if (!names.some((n) => (BENCHES as readonly string[]).includes(n))) return [...BENCHES];
  return BENCHES.filter((b) => names.includes(b));
}

/** parseCluster reads `--cluster k8s|sandbox`; without it, DEVNET_TEST_CLUSTER decides (k8s by default). */
export function parseCluster(flag: string | undefined, env: NodeJS.ProcessEnv): ClusterKind {
  if (flag === undefined) return clusterKind(env);
  if (flag !== 'k8s' && flag !== 'sandbox')
    throw new Error(`unknown cluster "${flag}" in --cluster; valid: k8s, sandbox`);
  return flag;
}

/** CLUSTER_TITLES say in words what each cluster kind is. */
const CLUSTER_TITLES: Record<ClusterKind, string> = {
  k8s: 'the real Kubernetes of test/k8s',
  sandbox: "devnet's own imitation cluster",
};

/** formatHeading is the line above the table: the cluster, when, how long each figure ran, the machine's load. */
export function formatHeading(doc: BenchDocument): string {
  const m = doc.machine;
  const version = typeof m.cluster_version === 'string' ? `, ${m.cluster_version}` : '';
  const load = (l: unknown) => (Array.isArray(l) ? l.join(' ') : '?');
  return (
    `devnet side-by-side bench on ${doc.cluster} (${CLUSTER_TITLES[doc.cluster]}${version}), ${m.date}, ` +
    `${m.mode} (${m.runs_per_figure} × ${m.seconds_per_run} s per figure), ` +
    `load ${load(m.load_avg_start)} → ${load(m.load_avg_end)}, ${m.duration_s} s`
  );
}

/** median of a non-empty list (undefined for an empty one). */
export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** percentile p (0-100) of samples, nearest-rank. */
export function percentile(xs: number[], p: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** parseIperf3 reads `iperf3 -J` output: the receiver's throughput in Gbit/s. */
export function parseIperf3(json: string): number {
  const j = JSON.parse(json) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  const bps = j.end?.sum_received?.bits_per_second;
  if (typeof bps !== 'number') throw new Error('iperf3: no sum_received in its JSON output');
  return bps / 1e9;
}

/**
 * parseSockperf reads the summary of `sockperf ping-pong --full-rtt`: the
 * "percentile 50.000 = X" and "percentile 99.000 = X" lines (µs).
 */
export function parseSockperf(out: string): { p50: number; p99: number } {
  const pick = (p: string) => {
    const m = new RegExp(`percentile ${p} =\\s+([\\d.]+)`).exec(out);
    if (!m) throw new Error(`sockperf: no ${p} percentile in its output`);
    return Number(m[1]);
  };
  return { p50: pick('50\\.000'), p99: pick('99\\.000') };
}

/** DnsperfRun is what one dnsperf run reports. */
export interface DnsperfRun {
  qps: number;
  completed: number;
  lost: number;
  /** latenciesUs are per-query latencies from -v lines. */
  latenciesUs: number[];
}

/** parseDnsperf reads dnsperf's summary and its -v per-query lines ("> NOERROR name A 0.000123"). */
export function parseDnsperf(out: string): DnsperfRun {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  const latenciesUs: number[] = [];
  for (const m of out.matchAll(/^> \S+ .* ([\d.]+)$/gm)) latenciesUs.push(Number(m[1]) * 1e6);
  const r = {
    qps: num(/Queries per second:\s+([\d.]+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    latenciesUs,
  };
  if (Number.isNaN(r.qps)) throw new Error('dnsperf: no "Queries per second" in its output');
  return r;
}

const COLUMNS: [keyof PathFigures, string, (n: number) => string][] = [
  ['tcp_up_gbps', 'up Gbit/s', (n) => n.toFixed(2)],
  ['tcp_down_gbps', 'down Gbit/s', (n) => n.toFixed(2)],
  ['rtt_p50_us', 'RTT p50 µs', (n) => n.toFixed(0)],
  ['rtt_p99_us', 'RTT p99 µs', (n) => n.toFixed(0)],
  ['conn_per_s', 'conn/s', (n) => n.toFixed(0)],
];

/** formatTable renders the results as a Markdown table (stdout and docs/benchmarks.md use the same). */
export function formatTable(doc: BenchDocument): string {
  const lines = [`| path | ${COLUMNS.map((c) => c[1]).join(' | ')} |`, `|---|${COLUMNS.map(() => '---|').join('')}`];
  for (const p of PATHS) {
    const r = doc.results[p];
    if (r) {
      lines.push(`| ${p} | ${COLUMNS.map(([k, , f]) => (r[k] === undefined ? '–' : f(r[k] as number))).join(' | ')} |`);
    } else if (doc.skipped[p]) {
      lines.push(
        `| ${p} | not measured: ${doc.skipped[p]} |${COLUMNS.slice(1)
          .map(() => ' |')
          .join('')}`,
      );
    }
  }
  const d = doc.devnet;
  const extra: string[] = [];
  if (d.idle_conn_kib !== undefined)
    extra.push(`idle connections: ${d.idle_conn_kib.toFixed(1)} KiB each (daemon RSS)`);
  if (d.dns_cached_p50_us !== undefined) extra.push(`DNS cached p50: ${d.dns_cached_p50_us.toFixed(0)} µs`);
  if (d.dns_qps !== undefined) extra.push(`DNS cached queries/s: ${d.dns_qps.toFixed(0)}`);
  const notes = Object.entries(doc.skipped)
    .filter(([k]) => k.includes('.'))
    .map(([k, v]) => `not measured: ${k}: ${v}`);
  const retried = Object.entries(doc.notes).map(([k, v]) => `note: ${k}: ${v}`);
  return [...lines, '', ...(extra.length ? [`devnet: ${extra.join('; ')}`] : []), ...notes, ...retried].join('\n');
}

/** round keeps figures readable in JSON (3 significant decimals for Gbit/s, whole µs and counts otherwise). */
export function roundFigures(f: PathFigures): PathFigures {
  const out: PathFigures = {};
  for (const [k, v] of Object.entries(f) as [keyof PathFigures, number | undefined][]) {
    if (v === undefined || !Number.isFinite(v)) continue;
    out[k] = k.endsWith('gbps') ? Math.round(v * 1000) / 1000 : Math.round(v * 10) / 10;
  }
  return out;
}
