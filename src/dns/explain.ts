// `devnet dns test NAME`: how a name would be resolved, step by step — which
// names the system's stub resolver tries (search list and ndots, as glibc
// does, resolv.conf(5)), whether each one reaches devnet in the current
// mode, and which naming rule then sends it to the cluster or the system.
// Pure: the answer to "why doesn't this resolve" needs no network.
import { type Route, reverseNameToIp, routeName } from './names.ts';
import type { DnsMode, OSConfig } from './os/types.ts';
import { type ClusterSnapshot, indexSnapshot, normaliseName } from './snapshot.ts';

/** ExplainContext is the connected session's DNS state. */
export interface ExplainContext {
  snapshot: ClusterSnapshot;
  mode: DnsMode;
  /** os is what devnet installed into the system resolver. */
  os: OSConfig;
  /** systemSearch is the system's own search list (after devnet's); ndots its ndots option (glibc default 1). */
  systemSearch?: string[];
  ndots?: number;
}

/** ExplainStep is one name the stub resolver would ask, and what happens to it. */
export interface ExplainStep {
  name: string;
  reachesDevnet: boolean;
  /** via says how the name gets to devnet or why it does not. */
  via: string;
  route: Route;
  /** resolvedBy is who answers it: the cluster DNS, devnet forwarding to the system's servers, or the system directly. */
  resolvedBy: 'cluster' | 'devnet-forwarded' | 'system';
  /** inSnapshot says whether a cluster name names a known Service (or ClusterIP): 'no' means NXDOMAIN and the stub moves on. */
  inSnapshot?: 'yes' | 'no' | 'unknown';
}

/** Explanation is the full answer to `devnet dns test NAME`. */
export interface Explanation {
  name: string;
  steps: ExplainStep[];
  /** verdict is 'cluster' when some step is a cluster name the snapshot knows (or may know), else 'system'. */
  verdict: 'cluster' | 'system';
  summary: string;
}

/** knownToCluster says whether a cluster-bound name names a Service, pod hostname, port or ClusterIP in the snapshot. */
function knownToCluster(query: string, index: ReturnType<typeof indexSnapshot>): 'yes' | 'no' | 'unknown' {
  const ip = reverseNameToIp(query);
  if (ip) return index.clusterIPs.has(ip) ? 'yes' : 'unknown';
  const suffix = `.svc.${index.domain}`;
  if (!query.endsWith(suffix)) return 'unknown';
  const labels = query.slice(0, -suffix.length).split('.');
  if (labels.length < 2 || labels.length > 4) return 'no';
  const key = labels.slice(-2).join('.');
  if (!index.services.has(key)) return 'no';
  if (labels.length === 4 && !(labels[0]?.startsWith('_') && labels[1]?.startsWith('_'))) return 'no';
  return labels.length === 2 ? 'yes' : 'unknown';
}

function matchedDomain(name: string, domains: string[]): string | undefined {
  let best: string | undefined;
  for (const d of domains) if ((name === d || name.endsWith(`.${d}`)) && d.length > (best?.length ?? -1)) best = d;
  return best;
}

/** candidates lists the names a glibc-style stub tries, in order (resolv.conf(5): ndots and search). */
export function candidates(name: string, search: string[], ndots: number): string[] {
  if (name.endsWith('.')) return [normaliseName(name)];
  const n = normaliseName(name);
  const dots = n.split('.').length - 1;
  const searched = search.map((s) => `${n}.${normaliseName(s)}`);
  return dots >= ndots ? [n, ...searched] : [...searched, n];
}

/** explainName explains how `name` would be resolved in the given session state. */
export function explainName(name: string, ctx: ExplainContext): Explanation {
  const index = indexSnapshot(ctx.snapshot);
  const split = ctx.mode === 'resolved' || ctx.mode === 'macos';
  const search = [...ctx.os.searchDomains, ...(ctx.systemSearch ?? [])];
  const steps: ExplainStep[] = [];
  for (const candidate of [...new Set(candidates(name, search, ctx.ndots ?? 1))]) {
    const route = routeName(candidate, index);
    let reachesDevnet: boolean;
    let via: string;
    if (ctx.mode === 'none') {
      reachesDevnet = false;
      via = 'DNS mode none: the system resolver does not know devnet (query it directly)';
    } else if (!split) {
      reachesDevnet = true;
      via = 'resolv.conf names devnet only: every name reaches it';
    } else {
      const d = matchedDomain(candidate, [...ctx.os.matchDomains, ...ctx.os.searchDomains]);
      reachesDevnet = d !== undefined;
      via = d
        ? `routing domain ~${d} sends it to devnet`
        : 'no devnet routing domain matches: the system resolver handles it as before';
    }
    const resolvedBy: ExplainStep['resolvedBy'] = !reachesDevnet
      ? 'system'
      : route.to === 'cluster'
        ? 'cluster'
        : 'devnet-forwarded';
    const step: ExplainStep = { name: candidate, reachesDevnet, via, route, resolvedBy };
    if (route.to === 'cluster') step.inSnapshot = knownToCluster(route.query, index);
    steps.push(step);
  }
  // The stub stops at the first answer: a cluster name the snapshot does not
  // know gets NXDOMAIN and the stub moves on. System steps before the
  // cluster one are asked first; only if they have no answer does it count.
  const hit = steps.find((s) => s.resolvedBy === 'cluster' && s.inSnapshot !== 'no');
  const before = hit ? steps.slice(0, steps.indexOf(hit)).filter((s) => s.resolvedBy !== 'cluster') : [];
  const first = before.length > 0 ? ` once the system has no answer for ${before.map((s) => s.name).join(', ')}` : '';
  const summary =
    hit && hit.route.to === 'cluster'
      ? `${name} is a cluster name: ${hit.name} is asked of the cluster DNS as ${hit.route.query}${first} (rule ${hit.route.rule}: ${hit.route.detail})`
      : `${name} is not a cluster name: it resolves through the system's servers exactly as without devnet`;
  return { name, steps, verdict: hit ? 'cluster' : 'system', summary };
}

/** formatExplanation renders an Explanation for the terminal. */
export function formatExplanation(e: Explanation): string {
  const lines = [e.summary, '', 'The stub resolver tries, in order (it stops at the first answer):'];
  e.steps.forEach((s, i) => {
    const who =
      s.resolvedBy === 'cluster'
        ? `cluster DNS, asked for ${s.route.to === 'cluster' ? s.route.query : s.name}${s.inSnapshot === 'no' ? ' (not in the cluster: NXDOMAIN, the stub moves on)' : ''}`
        : s.resolvedBy === 'devnet-forwarded'
          ? "devnet forwards it unchanged to the system's servers"
          : 'system resolver, as before';
    lines.push(
      `  ${i + 1}. ${s.name}`,
      `       ${s.via}`,
      `       rule ${s.route.rule}: ${s.route.detail}`,
      `       → ${who}`,
    );
  });
  return `${lines.join('\n')}\n`;
}
