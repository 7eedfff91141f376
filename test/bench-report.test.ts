// The side-by-side bench's parsers and result shaping (bench/support/report.ts),
// on outputs captured from the real tools.
import test from 'ava';
import { busyTicks, cpuShares, labelOf, statTicks } from '../bench/support/cpu-share.ts';
import { routeArgs } from '../bench/support/paths.ts';
import { formatPgbenchTable, parsePgbench } from '../bench/support/pgbench.ts';
import {
  type BenchDocument,
  formatCpuTable,
  formatHeading,
  formatTable,
  median,
  parseBenches,
  parseCluster,
  parseDnsperf,
  parseIperf3,
  parsePaths,
  parseSockperf,
  percentile,
  roundFigures,
} from '../bench/support/report.ts';
import { formatWanTable, spread } from '../bench/support/wan.ts';

test('--only keeps table order and rejects unknown paths by listing the valid ones', (t) => {
  t.is(parsePaths(undefined).length, 6);
  t.deepEqual(parsePaths('sshuttle, direct'), ['direct', 'sshuttle']);
  t.throws(() => parsePaths('direct,tailscale'), { message: /unknown path "tailscale".*devnet-direct/ });
});

test('--only also picks benchmarks: lan, pgbench, wan; naming none runs them all, naming no path measures every path', (t) => {
  t.deepEqual(parseBenches(undefined), ['lan', 'pgbench', 'wan']);
  t.deepEqual(parseBenches('direct'), ['lan', 'pgbench', 'wan']);
  t.deepEqual(parseBenches('wan,openvpn,lan'), ['lan', 'wan']);
  t.deepEqual(parsePaths('wan'), parsePaths(undefined));
  t.deepEqual(parsePaths('wan,openvpn,devnet-direct'), ['devnet-direct', 'openvpn']);
  t.throws(() => parseBenches('wan,lte'), { message: /unknown path "lte".*benchmarks: lan, pgbench, wan/ });
});

test('--cluster picks k8s or sandbox, defaulting to DEVNET_TEST_CLUSTER (itself k8s by default)', (t) => {
  t.is(parseCluster(undefined, {}), 'k8s');
  t.is(parseCluster(undefined, { DEVNET_TEST_CLUSTER: 'sandbox' }), 'sandbox');
  t.is(parseCluster('sandbox', { DEVNET_TEST_CLUSTER: 'k8s' }), 'sandbox');
  t.is(parseCluster('k8s', { DEVNET_TEST_CLUSTER: 'sandbox' }), 'k8s');
  t.throws(() => parseCluster('kind', {}), { message: /unknown cluster "kind" in --cluster; valid: k8s, sandbox/ });
  t.throws(() => parseCluster(undefined, { DEVNET_TEST_CLUSTER: 'eks' }), { message: /DEVNET_TEST_CLUSTER/ });
});

test('the heading above the table names the cluster the figures were taken on', (t) => {
  const doc: BenchDocument = {
    cluster: 'k8s',
    machine: {
      date: '2026-11-22T10:00:00.000Z',
      mode: 'quick',
      runs_per_figure: 1,
      seconds_per_run: 2,
      load_avg_start: [1.5, 1, 0.5],
      load_avg_end: [2, 1, 0.5],
      duration_s: 95,
      cluster_version: 'v1.34.4',
    },
    results: {},
    devnet: {},
    skipped: {},
    notes: {},
  };
  t.is(
    formatHeading(doc),
    'devnet side-by-side bench on k8s (the real Kubernetes of test/k8s, v1.34.4), 2026-11-22T10:00:00.000Z, ' +
      'quick (1 × 2 s per figure), load 1.5 1 0.5 → 2 1 0.5, 95 s',
  );
  const sandbox = { ...doc, cluster: 'sandbox' as const, machine: { ...doc.machine, cluster_version: undefined } };
  t.regex(formatHeading(sandbox), /^devnet side-by-side bench on sandbox \(devnet's own imitation cluster\), 2026/);
});

test('median and nearest-rank percentile', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 2, 3]), 2.5);
  t.is(median([]), undefined);
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(percentile(xs, 50), 50);
  t.is(percentile(xs, 99), 99);
  t.is(percentile([7], 99), 7);
});

test('iperf3 -J: the receiver’s rate; an iperf3 error is an error', (t) => {
  const out = JSON.stringify({
    end: {
      sum_sent: { bits_per_second: 2.1e9, retransmits: 3 },
      sum_received: { bits_per_second: 2.0e9 },
    },
  });
  t.is(parseIperf3(out), 2);
  t.throws(() => parseIperf3('{"error":"unable to connect to server: Connection refused"}'), {
    message: /Connection refused/,
  });
  t.throws(() => parseIperf3('{"end":{}}'), { message: /no sum_received/ });
});

const SOCKPERF = `sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=0.450 sec; SentMessages=11545; ReceivedMessages=11545
sockperf: ====> avg-rtt=38.908 (std-dev=684.619)
sockperf: ---> <MAX> observation = 70128.079
sockperf: ---> percentile 99.999 = 70128.079
sockperf: ---> percentile 99.000 =  584.998
sockperf: ---> percentile 90.000 =   17.275
sockperf: ---> percentile 50.000 =   14.181
sockperf: ---> <MIN> observation =   13.449`;

test('sockperf --full-rtt: p50 and p99 in µs; a run without percentiles is an error', (t) => {
  t.deepEqual(parseSockperf(SOCKPERF), { p50: 14.181, p99: 584.998 });
  t.throws(() => parseSockperf('sockperf: ERROR: Failed to connect'), { message: /no 50/ });
});

test('dnsperf: rate, counts and -v per-query latencies', (t) => {
  const out = `> NOERROR hello.demo.svc.cluster.local A 0.000120
> NOERROR hello.demo.svc.cluster.local A 0.000080
Statistics:
  Queries sent:         4802
  Queries completed:    4603 (95.86%)
  Queries lost:         199 (4.14%)
  Queries per second:   2297.542483
`;
  const r = parseDnsperf(out);
  t.is(r.qps, 2297.542483);
  t.is(r.completed, 4603);
  t.is(r.lost, 199);
  t.deepEqual(
    r.latenciesUs.map((x) => Math.round(x)),
    [120, 80],
  );
  t.throws(() => parseDnsperf('Error: socket: Address family not supported'), { message: /Queries per second/ });
});

test('the table lists measured paths, says why others were not, and the devnet figures', (t) => {
  const doc: BenchDocument = {
    cluster: 'sandbox',
    machine: {},
    results: {
      direct: roundFigures({
        tcp_up_gbps: 15.33333,
        tcp_down_gbps: 8.5,
        rtt_p50_us: 19.04,
        rtt_p99_us: 60,
        conn_per_s: 5251.4,
      }),
      openvpn: { tcp_up_gbps: 0.18 },
    },
    devnet: { idle_conn_kib: 7.71, dns_cached_p50_us: 165, dns_qps: 27020 },
    skipped: { sshuttle: 'missing sshuttle', 'openvpn.rtt_p50_us': 'sockperf: timeout' },
    notes: { 'direct.conn_per_s': '1 failed attempt(s), median of 3 runs; first: conn-rate: exit 1' },
  };
  t.deepEqual(doc.results.direct, {
    tcp_up_gbps: 15.333,
    tcp_down_gbps: 8.5,
    rtt_p50_us: 19,
    rtt_p99_us: 60,
    conn_per_s: 5251.4,
  });
  const table = formatTable(doc);
  t.regex(table, /\| direct \| 15\.33 \| 8\.50 \| 19 \| 60 \| 5251 \|/);
  t.regex(table, /\| openvpn \| 0\.18 \| – \| – \| – \| – \|/);
  t.regex(table, /\| sshuttle \| not measured: missing sshuttle \|/);
  t.notRegex(table, /wireguard-go/);
  t.regex(table, /7\.7 KiB each/);
  t.regex(table, /not measured: openvpn\.rtt_p50_us: sockperf: timeout/);
  t.regex(table, /note: direct\.conn_per_s: 1 failed attempt/);
});

test("openvpn's route line for each cluster's pod range", (t) => {
  t.is(routeArgs('10.244.0.0/16'), '10.244.0.0 255.255.0.0');
  t.is(routeArgs('10.200.0.0/16'), '10.200.0.0 255.255.0.0');
  t.is(routeArgs('10.200.0.0/24'), '10.200.0.0 255.255.255.0');
  t.is(routeArgs('10.0.0.0/12'), '10.0.0.0 255.240.0.0');
});

test('pgbench: TPS and average latency from its summary; failed transactions counted; no summary is an error', (t) => {
  const out = [
    'pgbench (15.18 (Debian 15.18-0+deb12u1))',
    'transaction type: <builtin: TPC-B (sort of)>',
    'scaling factor: 10',
    'query mode: simple',
    'number of clients: 8',
    'number of threads: 2',
    'maximum number of tries: 1',
    'duration: 4 s',
    'number of transactions actually processed: 5880',
    'number of failed transactions: 0 (0.000%)',
    'latency average = 5.443 ms',
    'average connection time = 1.913 ms',
    'tps = 1469.812345 (including reconnection times)',
  ].join('\n');
  t.deepEqual(parsePgbench(out), { tps: 1469.812345, latencyMs: 5.443, failed: 0, txns: 5880 });
  t.is(parsePgbench(out.replace('failed transactions: 0', 'failed transactions: 3')).failed, 3);
  t.throws(() => parsePgbench('pgbench: error: connection to server failed'), { message: /no tps or latency/ });
});

test('pgbench: the machine’s busy CPU counts user, nice, system, irq and softirq, not idle, iowait or steal', (t) => {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks, proc(5))
  t.is(busyTicks('cpu  100 2 30 5000 40 1 7 900 0 0\ncpu0 50 1 15 2500 20 0 3 450 0 0\n'), 140);
  const row = (tps: number, cpu: number) => ({
    tps: spread([tps]),
    latency_ms: spread([1]),
    cpu_us_per_txn: spread([cpu]),
    cpu_pct: { 'devnet daemon': 70, postgres: 50, other: 10, total: 130 },
  });
  const table = formatPgbenchTable(
    {
      shape: { clients: 8, jobs: 2, scale: 10, seconds: 8, runs: 1 },
      server: 'PostgreSQL 15',
      results: { direct: row(2000, 700), 'devnet-direct': row(1000, 1800) },
    },
    2,
  );
  t.regex(table, /\| direct \| 2000 \(2000–2000\) \| 1\.00× \| 1\.00 \(1\.00–1\.00\) \| 700 \|/);
  t.regex(table, /\| devnet-direct \| 1000 .* \| 0\.50× \| .* \| 1800 \(\+1100\) \|/);
  t.regex(table, /- devnet-direct: devnet daemon 70%, postgres 50%, other 10%, total 130%/);
});

test('CPU shares: utime + stime per process, labelled by role, as percent of one CPU between two readings', (t) => {
  // proc(5): pid (comm) state ppid … utime(14) stime(15); a command may hold spaces and parentheses.
  const stat = '42 (node (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 9876 1000 50';
  t.deepEqual(statTicks(stat), { comm: 'node (x) y', ticks: 300, start: 9876 });
  t.is(statTicks('garbage'), undefined);
  t.is(labelOf('/usr/bin/node /x/src/daemon/main.ts --socket s', 'node'), 'devnet daemon');
  t.is(labelOf('node src/gateway/main.ts --listen 127.0.0.1:8300', 'node'), 'devnet gateway');
  t.is(labelOf('/usr/sbin/openvpn --config c', 'openvpn'), 'openvpn');
  t.is(labelOf('postgres: postgres postgres 10.0.0.1(4242) idle', 'postgres'), 'postgres');
  t.is(labelOf('', 'kworker/1:1H-kblockd'), 'kernel workers');
  t.is(labelOf('/usr/bin/node /x/bench/support/conn-rate.ts 10.0.0.9 7', 'MainThread'), 'node conn-rate.ts');
  const at = (ms: number, busy: number, procs: [number, string, number, number][]) => ({
    atMs: ms,
    busyTicks: busy,
    procs: new Map(procs.map(([pid, label, ticks, start]) => [pid, { label, ticks, start }])),
  });
  const before = at(0, 1000, [
    [1, 'devnet daemon', 500, 10],
    [2, 'postgres', 100, 20],
    [3, 'iperf3', 7, 30],
    [5, 'kernel workers', 9000, 5],
  ]);
  // Two seconds later: the daemon used 1.4 s, postgres 0.6 s over two processes (one new), pid 3 was
  // reused by a new process, and a long-lived kernel worker used 0.1 s (folded into other: under 2 %).
  const after = at(2000, 1300, [
    [1, 'devnet daemon', 640, 10],
    [2, 'postgres', 130, 20],
    [4, 'postgres', 30, 190],
    [3, 'bash', 1, 195],
    [5, 'kernel workers', 9002, 5],
  ]);
  t.deepEqual(cpuShares(before, after), { 'devnet daemon': 70, postgres: 30, other: 50, total: 150 });
  t.deepEqual(cpuShares(before, before), {}, 'no time passed: nothing to say');
  t.is(
    formatCpuTable({ 'devnet-direct': { tcp_up_gbps: { 'devnet gateway': 107, other: 14, total: 121 } } }, 2),
    'CPU while each figure was measured (percent of one CPU, over all its runs; the machine has 200%)\n\n' +
      '- devnet-direct, upload: devnet gateway 107%, other 14%, total 121%',
  );
});

test('WAN figures: a median with its spread, and the tables name each profile and path', (t) => {
  t.deepEqual(spread([3, 1, 2]), { p50: 2, min: 1, max: 3, samples: [3, 1, 2] });
  t.is(spread([]), undefined);
  const table = formatWanTable({
    profiles: [{ rttMs: 20, rateMbps: 100 }],
    mtu: 1500,
    results: {
      '20ms-100M': {
        direct: { down_mbps: { p50: 96, min: 95, max: 97, samples: [95, 96, 97] }, down_link_fraction: 0.96 },
      },
    },
  });
  t.regex(table, /WAN 20ms-100M: 20 ms RTT, 100 Mbit\/s each way, MTU 1500/);
  t.regex(table, /\| direct \| — \| — \| 96 \(95–97\) \| 0\.96 \| — \| — \|/);
});
