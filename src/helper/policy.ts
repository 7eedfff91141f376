// The helper's policy: what the root helper lets a user daemon — which it
// treats as untrusted (ARCHITECTURE decision 14, docs/security.md) — do to
// the machine. Pure functions over the request, the policy and the machine's
// routing table; the helper calls them on every request, whatever the daemon
// checked before (its checks are for nicer messages, these are the rule).
//
// Routes: each must be a CIDR, not a default route, not broader than the
// policy allows (/8 for IPv4, /32 for IPv6 by default), not in a range that
// must never leave the machine or its link (loopback, link-local, multicast,
// "this network", reserved), and not overlap a route the machine already
// uses (a VPN, a LAN, a Docker bridge) unless the user passed
// `--allow-conflict` for it on the command line of `sudo devnet connect` —
// given to the helper by the root CLI, never by the daemon — and the policy
// allows overrides. DNS: nameservers must be devnet's own DNS address, which
// the helper routes into the user's TUN (so no user can send the machine's
// DNS anywhere else), and every domain must be a DNS name.
import { z } from 'zod';
import { type Cidr, contains, overlaps, parseCidr } from '../cidr.ts';
import { DNS_ADDRESS } from '../control/helper-protocol.ts';
import { describeIssues } from '../control/transport.ts';
import type { DnsMode, OSConfig } from '../dns/os/types.ts';
import { DevnetError } from '../errors.ts';
import { describeRoute, type LocalRoute, overlappingRoutes } from './routes.ts';

/** HelperPolicy is what the administrator allows (the policy file; missing keys take DEFAULT_POLICY's values). */
export interface HelperPolicy {
  /** broadestIPv4Prefix: no IPv4 route shorter than /N. */
  broadestIPv4Prefix: number;
  /** broadestIPv6Prefix: no IPv6 route shorter than /N. */
  broadestIPv6Prefix: number;
  /** allowConflictOverride lets `--allow-conflict CIDR` route over the machine's own routes. */
  allowConflictOverride: boolean;
}

/** DEFAULT_POLICY applies where no policy file exists. */
export const DEFAULT_POLICY: HelperPolicy = {
  broadestIPv4Prefix: 8,
  broadestIPv6Prefix: 32,
  allowConflictOverride: true,
};

const policyFile = z.strictObject({
  broadestIPv4Prefix: z.int().min(1).max(32).optional(),
  broadestIPv6Prefix: z.int().min(1).max(128).optional(),
  allowConflictOverride: z.boolean().optional(),
});

/** parsePolicy reads a policy file's text; anything malformed is a config error naming the file. */
export function parsePolicy(text: string, path: string): HelperPolicy {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DevnetError('config', `the devnet policy ${path} is not JSON: ${(err as Error).message}`);
  }
  const p = policyFile.safeParse(json);
  if (!p.success) throw new DevnetError('config', `the devnet policy ${path} is invalid: ${describeIssues(p.error)}`);
  return { ...DEFAULT_POLICY, ...p.data };
}

/** RESERVED are ranges a route into the TUN may never touch (RFC 6890 special-purpose ranges that must stay local). */
export const RESERVED: readonly { cidr: string; what: string }[] = [
  { cidr: '0.0.0.0/8', what: '"this network"' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
  { cidr: '169.254.0.0/16', what: 'link-local' },
  { cidr: '224.0.0.0/4', what: 'multicast' },
  { cidr: '240.0.0.0/4', what: 'reserved and broadcast' },
  { cidr: '::/127', what: 'unspecified and loopback' },
  { cidr: '::ffff:0:0/96', what: 'IPv4-mapped' },
  { cidr: 'fe80::/10', what: 'link-local' },
  { cidr: 'ff00::/8', what: 'multicast' },
];
const reserved = RESERVED.map((r) => ({ ...r, c: parseCidr(r.cidr) as Cidr }));

/** RouteContext is what checkRoutes decides against. */
export interface RouteContext {
  policy: HelperPolicy;
  /** policyPath names the policy in messages. */
  policyPath: string;
  /** local is the machine's routing table, read by the helper itself. */
  local: readonly LocalRoute[];
  /** allowConflicts are the user's --allow-conflict CIDRs, from the root CLI. */
  allowConflicts: readonly string[];
  tunName: string;
}

function refuse(message: string, hint: string): DevnetError {
  return new DevnetError('user', `the devnet helper refuses to route ${message}`, { hint });
}

/** checkRoute returns the parsed route when the policy allows it, else throws a user error saying why. */
export function checkRoute(dst: string, ctx: RouteContext): Cidr {
  const c = parseCidr(dst);
  if (!c) throw refuse(`${JSON.stringify(dst)}: it is not a CIDR`, 'Give prefixes like 10.96.0.0/12 or fd00::/108.');
  if (c.prefix === 0)
    throw refuse(`${c.text}: it is a default route`, 'devnet routes only the cluster’s ranges, never everything.');
  const broadest = c.family === 4 ? ctx.policy.broadestIPv4Prefix : ctx.policy.broadestIPv6Prefix;
  if (c.prefix < broadest)
    throw refuse(
      `${c.text}: it is broader than /${broadest}`,
      `The policy (${ctx.policyPath}, broadestIPv${c.family}Prefix) allows nothing broader; ask your administrator to change it.`,
    );
  const r = reserved.find((x) => overlaps(x.c, c));
  if (r)
    throw refuse(
      `${c.text}: it overlaps the reserved ${r.what} range ${r.cidr}`,
      'Those addresses never leave this machine or its link.',
    );
  const allowed =
    ctx.policy.allowConflictOverride &&
    ctx.allowConflicts.some((a) => {
      const ac = parseCidr(a);
      return ac !== undefined && (contains(ac, c) || contains(c, ac));
    });
  const clash = allowed ? undefined : overlappingRoutes(c, ctx.local, ctx.tunName)[0];
  if (clash)
    throw refuse(
      `${c.text}: it overlaps the route "${describeRoute(clash)}" this machine already uses`,
      ctx.policy.allowConflictOverride
        ? `If taking it over is what you want, run \`sudo devnet connect --allow-conflict ${c.text}\`.`
        : `The policy (${ctx.policyPath}) does not allow taking over routes.`,
    );
  return c;
}

/** checkDnsConfig allows only devnet's own DNS server as the nameserver (the schema already checked the names). */
export function checkDnsConfig(cfg: OSConfig): void {
  for (const n of cfg.nameservers)
    if (n.address !== DNS_ADDRESS)
      throw new DevnetError(
        'user',
        `the devnet helper refuses DNS server ${n.address}: ${n.address} is not devnet's DNS server ${DNS_ADDRESS}`,
        {
          hint: 'Only devnet’s own server, inside the TUN, may be installed.',
        },
      );
}

/** checkDnsMode allows the modes this platform has. */
export function checkDnsMode(mode: DnsMode, supported: readonly DnsMode[]): void {
  if (!supported.includes(mode))
    throw new DevnetError('user', `the devnet helper refuses DNS mode ${mode} on this system`, {
      hint: `Use one of: ${supported.join(', ')}.`,
    });
}
