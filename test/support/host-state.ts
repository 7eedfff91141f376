// The host state a sandbox must leave as it found it (netns, links, routes,
// nftables), and a comparison that ignores what other tests running at the
// same time make: their namespaces, devnet TUN devices and other sandboxes'
// safety routes (each sandbox prefix has its own metric).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { safetyMetric } from '../../src/sandbox/hostnet.ts';

const run = async (cmd: string, args: string[]) =>
  String((await promisify(execFile)(cmd, args, { encoding: 'utf8' })).stdout);

/** HostState is the host's netns list, link names and flags, routes and nftables ruleset, one entry per line. */
export type HostState = Record<'netns' | 'links' | 'routes' | 'nft', string[]>;

/** hostState reads the host's state. */
export async function hostState(): Promise<HostState> {
  const lines = (s: string) =>
    s
      .split('\n')
      .map((l) => l.trimEnd())
      .filter(Boolean);
  return {
    netns: lines(await run('ip', ['netns', 'list'])),
    // statistics and link-layer details are noise; names, flags and masters are what a sandbox could change
    links: lines(await run('ip', ['-o', 'link'])).map((l) => l.split(/\s+link\//)[0] ?? l),
    routes: lines(await run('ip', ['route'])),
    nft: lines(await run('/usr/sbin/nft', ['list', 'ruleset'])),
  };
}

/** hostChanges lists lines added or removed between two states, ignoring what others running meanwhile own: namespaces without our prefix (a sandbox only ever names its own with it), devnet TUN devices and other sandboxes' safety routes. */
export function hostChanges(before: HostState, after: HostState, prefix: string): string[] {
  const metric = String(safetyMetric(prefix));
  const foreign = (l: string, k: keyof HostState) => {
    if (k === 'netns') return !l.startsWith(`${prefix}-`);
    // devnet's own TUN (another test's session) is never the sandbox's
    if (/^\d+: devnet\w*:|\bdev devnet\w*\b/.test(l)) return true;
    const route = /^unreachable (10\.96\.0\.0\/12|10\.244\.0\.0\/16) metric (\d+)/.exec(l);
    return route !== null && route[2] !== metric;
  };
  const out: string[] = [];
  for (const k of Object.keys(before) as (keyof HostState)[]) {
    const a = new Set(after[k]);
    const b = new Set(before[k]);
    for (const l of a) if (!b.has(l) && !foreign(l, k)) out.push(`${k}: left behind: ${l}`);
    for (const l of b) if (!a.has(l) && !foreign(l, k)) out.push(`${k}: removed: ${l}`);
  }
  return out;
}

/** hostRouteTo says how the host routes an address: 'unreachable', 'devnet' (a devnet TUN, more specific or preferred), or the route line (anything else: a leak). */
export async function hostRouteTo(ip: string): Promise<string> {
  try {
    const out = await run('ip', ['route', 'get', ip]);
    return /\bdev devnet\S*/.test(out) && !/ via /.test(out) ? 'devnet' : out.trim();
  } catch (err) {
    return /unreachable|No route/i.test(String((err as { stderr?: string }).stderr ?? err))
      ? 'unreachable'
      : String(err);
  }
}

/** safetyRoutesPresent reports whether the host holds a sandbox prefix's unreachable routes for both cluster ranges. */
export async function safetyRoutesPresent(prefix: string): Promise<boolean> {
  const out = await run('ip', ['route', 'show', 'type', 'unreachable']);
  const metric = safetyMetric(prefix);
  return [`10.96.0.0/12`, `10.244.0.0/16`].every((cidr) => out.includes(`unreachable ${cidr} metric ${metric}`));
}
