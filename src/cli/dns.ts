// `devnet dns test NAME`: explain how a name would be resolved — cluster or
// system, which rule, which names the stub resolver tries. Connected, the
// session's snapshot and mode come from the daemon; offline, `--snapshot
// FILE` (a ClusterSnapshot as JSON) and `--mode` stand in for them. Also
// exports the `--dns-mode` option for `devnet connect` and the DNS lines of
// `devnet status`.
import { readFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { type ExplainContext, explainName, formatExplanation } from '../dns/explain.ts';
import { endpointLabel } from '../dns/forwarder.ts';
import { osConfigFor } from '../dns/os/compile.ts';
import { detectMode, gatherProbes, parseDnsMode } from '../dns/os/index.ts';
import type { DnsStatus } from '../dns/session.ts';
import type { ClusterSnapshot } from '../dns/snapshot.ts';
import { DevnetError } from '../errors.ts';

/** SessionDns fetches the connected session's DNS state from the daemon; undefined when not connected. */
export type SessionDns = () => Promise<ExplainContext | undefined>;

const notConnected: SessionDns = async () => undefined;

/** dnsModeOption is `--dns-mode auto|resolved|resolvconf|macos|none` for `devnet connect` (default auto). */
export function dnsModeOption(): Option {
  return new Option('--dns-mode <mode>', 'how cluster names reach devnet: auto, resolved, resolvconf, macos or none')
    .default('auto')
    .argParser(parseDnsMode);
}

/** formatDnsStatus renders the DNS part of `devnet status`. */
export function formatDnsStatus(s: DnsStatus): string {
  const lines = [
    `DNS mode:      ${s.mode}${s.reason ? ` (${s.reason})` : ''}`,
    `DNS server:    ${s.servers.map(endpointLabel).join(', ') || '-'}`,
    `Upstreams:     ${s.upstreams.map(endpointLabel).join(', ') || '-'}`,
    `Search:        ${s.searchDomains.join(' ') || '-'}`,
    `Routed:        ${s.matchDomains.length} domains${s.matchDomains.length ? ` (${s.matchDomains.slice(0, 4).join(', ')}${s.matchDomains.length > 4 ? ', …' : ''})` : ''}`,
    `Cluster DNS:   ${s.clusterReachable ? 'reachable through the tunnel' : 'tunnel down: cluster names get SERVFAIL'}`,
    `Queries:       ${s.stats.queries} (cache hits ${s.stats.cacheHits}, cluster ${s.stats.clusterQueries}, forwarded ${s.stats.forwarded}, malformed ${s.stats.malformed})`,
  ];
  return `${lines.join('\n')}\n`;
}

async function offlineContext(file: string, mode: string | undefined): Promise<ExplainContext> {
  let snapshot: ClusterSnapshot;
  try {
    snapshot = JSON.parse(await readFile(file, 'utf8')) as ClusterSnapshot;
  } catch (err) {
    throw new DevnetError('user', `cannot read the snapshot ${file}: ${(err as Error).message}`);
  }
  if (typeof snapshot?.clusterDomain !== 'string' || !Array.isArray(snapshot.services))
    throw new DevnetError(
      'user',
      `${file} is not a cluster snapshot (clusterDomain, namespace, namespaces, services…)`,
    );
  // An explicit mode is taken as given (explaining needs no support for it here); auto detects this machine's.
  const requested = parseDnsMode(mode ?? 'auto');
  const chosen = requested === 'auto' ? detectMode('auto', await gatherProbes()).mode : requested;
  return { snapshot, mode: chosen, os: osConfigFor(snapshot, [{ address: '127.0.0.153', port: 53 }]) };
}

/** registerDns adds `dns test NAME`; session fetches the connected session's state (the daemon wires it). */
export function registerDns(program: Command, session: SessionDns = notConnected): void {
  const dns = program.command('dns').description('cluster DNS on this machine');
  dns
    .command('test')
    .argument('<name>', 'the name to explain')
    .description('explain how NAME would be resolved: cluster or system, and by which rule')
    .option('--snapshot <file>', 'explain against a cluster snapshot (JSON) instead of the connected session')
    .option('--mode <mode>', 'with --snapshot: the DNS mode to assume (default: detected on this machine)')
    .option('--json', 'print the explanation as JSON')
    .action(async (name: string, opts: { snapshot?: string; mode?: string; json?: boolean }) => {
      const ctx = opts.snapshot ? await offlineContext(opts.snapshot, opts.mode) : await session();
      if (!ctx)
        throw new DevnetError('user', 'not connected', {
          hint: 'run `devnet connect` first, or pass --snapshot FILE to explain against a saved snapshot',
        });
      const e = explainName(name, ctx);
      process.stdout.write(opts.json ? `${JSON.stringify(e, null, 2)}\n` : formatExplanation(e));
    });
}
