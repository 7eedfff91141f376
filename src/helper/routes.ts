// Route planning (compute, then apply): which prefixes to route into the TUN,
// given the cluster's ranges, the user's --also-proxy / --never-proxy /
// --allow-conflict flags, and the machine's current routing table. A cluster
// range that overlaps a local non-default route (a VPN, a Docker bridge, the
// LAN) is refused, naming both — the trap users of other tools fall into
// (USERS.md: telepresence#3339, #3767, #3141, #3249; kubevpn#380).
import { type Cidr, contains, mergeCidrs, overlaps, parseCidr, subtract } from '../cidr.ts';
import { DevnetError } from '../errors.ts';

/** LocalRoute is one entry of the machine's routing table, as `ip -j route` reports it. */
export interface LocalRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  type?: string;
  protocol?: string;
  metric?: number;
}

/** WantedRange is a prefix devnet would route, and why (shown in messages). */
export interface WantedRange {
  cidr: string;
  why: string;
}

/** RoutePlanInput is everything planRoutes decides from. */
export interface RoutePlanInput {
  cluster: WantedRange[];
  alsoProxy: string[];
  neverProxy: string[];
  allowConflicts: string[];
  local: LocalRoute[];
  /** tunName is devnet's own device; its routes never conflict. */
  tunName: string;
}

/** RouteConflict is a wanted prefix that overlaps a local route. */
export interface RouteConflict {
  wanted: WantedRange;
  local: LocalRoute;
}

/** RoutePlan is the result: routes to add, or conflicts to report. */
export interface RoutePlan {
  routes: string[];
  conflicts: RouteConflict[];
}

// Route types that exist to stop traffic, not to carry it: the sandbox's
// last-resort `unreachable` routes are exactly what devnet's routes override.
const NON_CARRYING = new Set(['unreachable', 'blackhole', 'prohibit', 'throw']);

/** parseIpRouteJson reads the output of `ip -j route show` (IPv4 or IPv6); bad input yields []. */
export function parseIpRouteJson(json: string): LocalRoute[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: LocalRoute[] = [];
  for (const r of v) {
    if (typeof r !== 'object' || r === null || typeof (r as { dst?: unknown }).dst !== 'string') continue;
    const o = r as Record<string, unknown>;
    out.push({
      dst: o.dst as string,
      ...(typeof o.dev === 'string' ? { dev: o.dev } : {}),
      ...(typeof o.gateway === 'string' ? { gateway: o.gateway } : {}),
      ...(typeof o.type === 'string' ? { type: o.type } : {}),
      ...(typeof o.protocol === 'string' ? { protocol: o.protocol } : {}),
      ...(typeof o.metric === 'number' ? { metric: o.metric } : {}),
    });
  }
  return out;
}

/** describeRoute renders a local route the way `ip route` prints it. */
export function describeRoute(r: LocalRoute): string {
  return [
    r.type && r.type !== 'unicast' ? r.type : '',
    r.dst,
    r.gateway ? `via ${r.gateway}` : '',
    r.dev ? `dev ${r.dev}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function must(s: string, flag: string): Cidr {
  const c = parseCidr(s);
  if (!c)
    throw new DevnetError('user', `${flag} ${s} is not a CIDR`, { hint: 'Use a prefix like 10.0.0.0/8 or fd00::/64.' });
  return c;
}

/** planRoutes computes the prefixes to route into the TUN, and the conflicts that block it. */
export function planRoutes(input: RoutePlanInput): RoutePlan {
  const wanted: { cidr: Cidr; why: WantedRange }[] = [];
  for (const w of input.cluster) {
    const c = parseCidr(w.cidr);
    if (c) wanted.push({ cidr: c, why: w });
  }
  for (const s of input.alsoProxy)
    wanted.push({ cidr: must(s, '--also-proxy'), why: { cidr: s, why: '--also-proxy' } });
  const never = input.neverProxy.map((s) => must(s, '--never-proxy'));
  const allowed = input.allowConflicts.map((s) => must(s, '--allow-conflict'));

  let pieces = wanted;
  for (const hole of never) {
    pieces = pieces.flatMap((p) => subtract(p.cidr, hole).map((cidr) => ({ cidr, why: p.why })));
  }

  const conflicts: RouteConflict[] = [];
  for (const p of pieces) {
    if (allowed.some((a) => contains(a, p.cidr) || contains(p.cidr, a))) continue;
    for (const local of overlappingRoutes(p.cidr, input.local, input.tunName)) conflicts.push({ wanted: p.why, local });
  }
  return { routes: mergeCidrs(pieces.map((p) => p.cidr)).map((c) => c.text), conflicts };
}

/**
 * overlappingRoutes lists the machine's routes that carry traffic for some
 * address of cidr: default routes, devnet's own device and routes that only
 * stop traffic (unreachable, blackhole, ...) never count.
 */
export function overlappingRoutes(cidr: Cidr, local: readonly LocalRoute[], tunName: string): LocalRoute[] {
  return local.filter((r) => {
    if (r.dst === 'default' || r.dev === tunName || NON_CARRYING.has(r.type ?? '')) return false;
    const rc = parseCidr(r.dst);
    return rc !== undefined && rc.prefix !== 0 && overlaps(rc, cidr);
  });
}

/** conflictError is the user-facing refusal for route conflicts, naming both routes and the flags. */
export function conflictError(conflicts: RouteConflict[]): DevnetError {
  const lines = conflicts.map(
    (c) => `  the cluster's ${c.wanted.why} ${c.wanted.cidr} overlaps your route "${describeRoute(c.local)}"`,
  );
  const first = conflicts[0] as RouteConflict;
  return new DevnetError(
    'config',
    `devnet will not route addresses another network on this machine already uses:\n${lines.join('\n')}`,
    {
      hint:
        `Routing them to the cluster would cut that network off. Leave a range alone with --never-proxy CIDR ` +
        `(e.g. --never-proxy ${first.local.dst}), or take it over anyway with --allow-conflict ${first.wanted.cidr}.`,
    },
  );
}
