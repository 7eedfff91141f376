// The WAN bench (issue 17 item 2): the figures a user on a real network
// feels, taken over the emulated link of bench/wan-forwarder.ts for each
// path and link profile — one-stream TCP throughput each way as a fraction
// of the link rate (iperf3, the first second omitted: slow start), time to
// first byte of a new connection (curl `GET /1`: TCP handshake, request,
// one-byte answer), and the time to fetch 1 MiB over a new connection (curl
// `GET /1m`). Medians with min–max spread; every sample is kept in the JSON.
import { LAB, type Lab } from './lab.ts';
import { median, type PathName, parseIperf3 } from './report.ts';
import { profileName, type WanProfile } from './wan-link.ts';

/** WAN_PROFILES_SMALL is the default matrix: one link, short enough for a CI-sized run. */
export const WAN_PROFILES_SMALL: WanProfile[] = [{ rttMs: 20, rateMbps: 100 }];
/** WAN_PROFILES_FULL is `--wan-matrix`: 20 and 50 ms RTT at 100 Mbit/s and 1 Gbit/s. */
export const WAN_PROFILES_FULL: WanProfile[] = [
  { rttMs: 20, rateMbps: 100 },
  { rttMs: 20, rateMbps: 1000 },
  { rttMs: 50, rateMbps: 100 },
  { rttMs: 50, rateMbps: 1000 },
];

/** Spread is a median with the smallest and largest sample. */
export interface Spread {
  p50: number;
  min: number;
  max: number;
  samples: number[];
}

/** WanFigures are one path's figures over one link profile; a figure that could not be taken is absent. */
export interface WanFigures {
  up_mbps?: Spread;
  down_mbps?: Spread;
  up_link_fraction?: number;
  down_link_fraction?: number;
  ttfb_ms?: Spread;
  fetch_1mib_ms?: Spread;
}

/** WanDocument is the `wan` key of the bench's JSON: results by profile name, then by path. */
export interface WanDocument {
  profiles: WanProfile[];
  mtu: number;
  results: Record<string, Partial<Record<PathName, WanFigures>>>;
}

/** spread summarises samples (undefined when there are none). */
export function spread(xs: number[]): Spread | undefined {
  const p50 = median(xs);
  if (p50 === undefined) return undefined;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(p50), min: r(Math.min(...xs)), max: r(Math.max(...xs)), samples: xs.map(r) };
}

/** WanBudget is how many samples each WAN figure takes. */
export interface WanBudget {
  iperfRuns: number;
  iperfSeconds: number;
  ttfbSamples: number;
  fetchSamples: number;
}

/** measureWan takes one path's figures over the link as it is now shaped. */
export async function measureWan(
  lab: Lab,
  profile: WanProfile,
  b: WanBudget,
  skip: (figure: string, why: string) => void,
): Promise<WanFigures> {
  const f: WanFigures = {};
  const iperf = async (reverse: boolean): Promise<number> => {
    const args = ['-c', lab.podIp, '-p', String(LAB.iperfPort), '-t', String(b.iperfSeconds + 1), '-O', '1'];
    for (let attempt = 0; ; attempt++) {
      const r = await lab.onLaptop(
        'timeout',
        [String(b.iperfSeconds + 20), 'iperf3', ...args, '-J', '--connect-timeout', '5000', ...(reverse ? ['-R'] : [])],
        (b.iperfSeconds + 30) * 1000,
      );
      try {
        return parseIperf3(r.stdout || `{"error":${JSON.stringify(r.stderr.trim() || `exit ${r.code}`)}}`) * 1000;
      } catch (err) {
        if (attempt >= 5 || !/busy/.test((err as Error).message)) throw err;
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
  };
  for (const [key, reverse] of [
    ['up', false],
    ['down', true],
  ] as const) {
    const xs: number[] = [];
    let why = '';
    for (let i = 0; i < b.iperfRuns; i++) {
      try {
        xs.push(await iperf(reverse));
      } catch (err) {
        why = (err as Error).message.split('\n')[0] ?? '';
      }
    }
    const s = spread(xs);
    if (!s) {
      skip(`${key}_mbps`, why || 'no result');
      continue;
    }
    f[`${key}_mbps`] = s;
    f[`${key}_link_fraction`] = Math.round((s.p50 / profile.rateMbps) * 1000) / 1000;
  }
  // curl prints its timers in seconds; a new connection for every sample.
  const curl = async (path: string): Promise<{ ttfb: number; total: number }> => {
    const r = await lab.onLaptop(
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '--max-time',
        '30',
        '-w',
        '%{http_code} %{time_starttransfer} %{time_total} %{size_download}',
        `http://${lab.podIp}:${LAB.httpPort}${path}`,
      ],
      40_000,
    );
    const [code, start, total, size] = r.stdout.trim().split(' ');
    const want = path === '/1m' ? 1 << 20 : 1;
    if (r.code !== 0 || code !== '200' || Number(size) !== want)
      throw new Error(`curl ${path}: exit ${r.code}, HTTP ${code}, ${size} bytes (${r.stderr.trim()})`);
    return { ttfb: Number(start) * 1000, total: Number(total) * 1000 };
  };
  for (const [key, path, n] of [
    ['ttfb_ms', '/1', b.ttfbSamples],
    ['fetch_1mib_ms', '/1m', b.fetchSamples],
  ] as const) {
    const xs: number[] = [];
    let why = '';
    for (let i = 0; i < n; i++) {
      try {
        const t = await curl(path);
        xs.push(key === 'ttfb_ms' ? t.ttfb : t.total);
      } catch (err) {
        why = (err as Error).message;
      }
    }
    const s = spread(xs);
    if (s) f[key] = s;
    else skip(key, why || 'no result');
  }
  return f;
}

/** formatWanTable writes one markdown table per profile, the paths side by side. */
export function formatWanTable(wan: WanDocument): string {
  const out: string[] = [];
  const sp = (s: Spread | undefined, digits = 1) =>
    s ? `${s.p50.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : '—';
  const frac = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(2));
  for (const p of wan.profiles) {
    const name = profileName(p);
    const rows = wan.results[name] ?? {};
    out.push(
      `WAN ${name}: ${p.rttMs} ms RTT, ${p.rateMbps} Mbit/s each way, MTU ${wan.mtu}`,
      '',
      '| path | up Mbit/s | up / link | down Mbit/s | down / link | TTFB ms | 1 MiB fetch ms |',
      '|---|---|---|---|---|---|---|',
    );
    for (const [path, f] of Object.entries(rows)) {
      if (!f) continue;
      out.push(
        `| ${path} | ${sp(f.up_mbps, 0)} | ${frac(f.up_link_fraction)} | ${sp(f.down_mbps, 0)} | ${frac(f.down_link_fraction)} | ${sp(f.ttfb_ms)} | ${sp(f.fetch_1mib_ms)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
