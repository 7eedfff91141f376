// Pure compilation of what devnet asks of the system resolver, for every
// mode and OS, so Linux CI tests them all: the split-DNS domains for a
// cluster snapshot, the resolv.conf devnet writes, the resolvectl commands
// for systemd-resolved, and the macOS /etc/resolver files. Parsers for what
// the system says (resolv.conf, `resolvectl dns`) live here too.
import { isIPv4, isIPv6 } from 'node:net';
import { DevnetError } from '../../errors.ts';
import { type DnsEndpoint, endpointLabel } from '../forwarder.ts';
import { type ClusterSnapshot, normaliseName } from '../snapshot.ts';
import { type BaseConfig, MARKER, type OSConfig } from './types.ts';

/** MAX_SERVICE_DOMAINS is how many per-Service routing domains devnet installs before routing whole namespaces instead. */
export const MAX_SERVICE_DOMAINS = 512;

/** reverseZones lists the in-addr.arpa / ip6.arpa zones that exactly cover a CIDR, at octet / nibble boundaries (RFC 2317 style). */
export function reverseZones(cidr: string): string[] {
  const [addr, lenText] = cidr.split('/');
  const len = Number(lenText);
  if (addr === undefined || !Number.isInteger(len)) return [];
  if (isIPv4(addr) && len >= 0 && len <= 32) {
    const octets = addr.split('.').map(Number);
    const whole = Math.floor(len / 8);
    const spare = len % 8;
    const fixed = octets.slice(0, whole);
    if (spare === 0 || whole === 4)
      return [[...fixed].reverse().join('.')].map((z) => (z ? `${z}.in-addr.arpa` : 'in-addr.arpa'));
    const base = (octets[whole] as number) & (0xff << (8 - spare)) & 0xff;
    const out: string[] = [];
    for (let v = base; v < base + (1 << (8 - spare)); v++)
      out.push(`${[...fixed, v].reverse().join('.')}.in-addr.arpa`);
    return out;
  }
  if (isIPv6(addr) && len >= 0 && len <= 128) {
    const halves = addr.split('::');
    const head = halves[0] ? halves[0].split(':') : [];
    const tail = halves[1] ? halves[1].split(':') : [];
    const groups = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail];
    const nibbles = groups.flatMap((g) => g.padStart(4, '0').split(''));
    const whole = Math.floor(len / 4);
    const spare = len % 4;
    const fixed = nibbles.slice(0, whole);
    if (spare === 0) return [`${[...fixed].reverse().join('.')}.ip6.arpa`.replace(/^\./, '')];
    const base = Number.parseInt(nibbles[whole] as string, 16) & (0xf << (4 - spare)) & 0xf;
    const out: string[] = [];
    for (let v = base; v < base + (1 << (4 - spare)); v++)
      out.push(`${[...fixed, v.toString(16)].reverse().join('.')}.ip6.arpa`);
    return out;
  }
  return [];
}

/**
 * osConfigFor computes what the system resolver must send to devnet: the
 * cluster domain, the reverse zones of the cluster CIDRs, `<ns>.svc` for every
 * namespace, and `<svc>.<ns>` for every Service — per Service, not per
 * namespace, so a namespace named like a TLD (`dev`) routes only its own
 * Services' names to devnet (telepresence#2395). Past MAX_SERVICE_DOMAINS
 * Services it routes whole namespaces; devnet then forwards names that are
 * not in the cluster to the system's servers, so they still resolve.
 */
export function osConfigFor(snapshot: ClusterSnapshot, nameservers: DnsEndpoint[]): OSConfig {
  const domain = normaliseName(snapshot.clusterDomain);
  const match = new Set<string>([domain]);
  for (const c of [...snapshot.serviceCIDRs, ...snapshot.podCIDRs]) for (const z of reverseZones(c)) match.add(z);
  for (const ns of snapshot.namespaces) match.add(`${ns.toLowerCase()}.svc`);
  if (snapshot.services.length <= MAX_SERVICE_DOMAINS) {
    for (const s of snapshot.services) match.add(`${s.name}.${s.namespace}`.toLowerCase());
  } else {
    for (const ns of snapshot.namespaces) match.add(ns.toLowerCase());
  }
  return {
    nameservers,
    searchDomains: [`${snapshot.namespace.toLowerCase()}.svc.${domain}`],
    matchDomains: [...match],
  };
}

/** ResolvConf is what a resolv.conf says (resolv.conf(5)). */
export interface ResolvConf {
  nameservers: string[];
  search: string[];
  /** other holds `options` and `sortlist` lines verbatim. */
  other: string[];
  /** writtenByDevnet is true when the file is one devnet wrote (a leftover from a crash). */
  writtenByDevnet: boolean;
}

/** parseResolvConf reads a resolv.conf; the last `search` or `domain` line wins, as in glibc. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], other: [], writtenByDevnet: text.startsWith(MARKER) };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search') out.search = rest;
    else if (key === 'domain' && rest[0]) out.search = [rest[0]];
    else if (key === 'options' || key === 'sortlist') out.other.push(line);
  }
  return out;
}

/** baseConfigFromResolvConf turns a resolv.conf into the servers to forward to (port 53), leaving out devnet's own. */
export function baseConfigFromResolvConf(conf: ResolvConf, own: DnsEndpoint[]): BaseConfig {
  const ours = new Set(own.filter((e) => e.port === 53).map((e) => e.address));
  return {
    nameservers: conf.nameservers
      .map((a) => a.replace(/%.*$/, ''))
      .filter((a) => (isIPv4(a) || isIPv6(a)) && !ours.has(a))
      .map((address) => ({ address, port: 53 })),
    searchDomains: conf.search,
  };
}

/**
 * compileResolvConf writes the resolv.conf for direct mode: devnet's server
 * only (it forwards every non-cluster name to the original servers, listed
 * in the header so a reader knows where names go), devnet's search domain
 * before the original ones, and the original options kept.
 */
export function compileResolvConf(original: ResolvConf, cfg: OSConfig): string {
  for (const n of cfg.nameservers)
    if (n.port !== 53)
      throw new DevnetError('internal', `resolv.conf cannot name a DNS server on port ${n.port} (${endpointLabel(n)})`);
  const search = [...new Set([...cfg.searchDomains, ...original.search])];
  const lines = [
    `${MARKER} for the duration of \`devnet connect\`. devnet answers cluster names and`,
    '# forwards every other name, unchanged, to the servers this file named before:',
    `#   ${original.nameservers.join(' ') || '(none)'}`,
    '# `devnet quit` (or, after a crash, the next devnet run) restores the original byte for byte.',
    ...cfg.nameservers.slice(0, 3).map((n) => `nameserver ${n.address}`),
    ...(search.length > 0 ? [`search ${search.join(' ')}`] : []),
    ...original.other,
  ];
  return `${lines.join('\n')}\n`;
}

/** resolvedServer formats an endpoint for resolvectl (port only when not 53; IPv6 in brackets). */
function resolvedServer(e: DnsEndpoint): string {
  if (e.port === 53) return e.address;
  return isIPv6(e.address) ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/**
 * compileResolvedCommands gives the resolvectl commands that put cfg on a
 * link: its DNS servers, `~domain` routing domains plus the search domains
 * (which route too), and no default route, so no other name ever reaches
 * devnet (systemd-resolved.service(8), "Protocols and Routing").
 */
export function compileResolvedCommands(link: string, cfg: OSConfig): string[][] {
  return [
    ['resolvectl', 'dns', link, ...cfg.nameservers.map(resolvedServer)],
    ['resolvectl', 'domain', link, ...cfg.searchDomains, ...cfg.matchDomains.map((d) => `~${d}`)],
    ['resolvectl', 'default-route', link, 'false'],
  ];
}

/** parseResolvectlDns reads `resolvectl dns` output into the servers of every link but `ownLink` (and the global ones). */
export function parseResolvectlDns(output: string, ownLink: string): DnsEndpoint[] {
  const out: DnsEndpoint[] = [];
  for (const line of output.split('\n')) {
    const m = /^(Global|Link \d+ \(([^)]+)\)):\s*(.*)$/.exec(line.trim());
    if (!m || m[2] === ownLink) continue;
    for (const word of (m[3] ?? '').split(/\s+/)) {
      const v6 = /^\[([^\]]+)\](?::(\d+))?(?:#.*)?$/.exec(word);
      const v4 = /^([\d.]+)(?::(\d+))?(?:#.*)?$/.exec(word);
      const bare = word.replace(/[%#].*$/, '');
      if (v6 && isIPv6(v6[1] as string)) out.push({ address: v6[1] as string, port: Number(v6[2] ?? 53) });
      else if (v4 && isIPv4(v4[1] as string)) out.push({ address: v4[1] as string, port: Number(v4[2] ?? 53) });
      else if (isIPv6(bare)) out.push({ address: bare, port: 53 });
    }
  }
  return out;
}

/** compileMacResolverFiles gives one /etc/resolver/<domain> file per match domain (resolver(5)), keyed by path. */
export function compileMacResolverFiles(dir: string, cfg: OSConfig): Map<string, string> {
  const files = new Map<string, string>();
  const server = cfg.nameservers[0];
  if (!server) return files;
  const body = [
    `${MARKER} for the duration of \`devnet connect\`; \`devnet quit\` removes it.`,
    ...cfg.nameservers.map((n) => `nameserver ${n.address}`),
    `port ${server.port}`,
    'timeout 2',
  ].join('\n');
  for (const d of cfg.matchDomains) files.set(`${dir}/${d}`, `${body}\n`);
  return files;
}
