// `devnet status`: what devnet is connected to and how the tunnel is doing.
import type { Command } from 'commander';
import type { SessionStatus } from '../daemon/session.ts';
import type { InterceptInfo } from '../intercept/laptop.ts';
import { daemonIfRunning, pathsFor, repairStale } from './launch.ts';
import { colour, parseOutput, printData, table } from './output.ts';

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** printStatus renders a connected session for people. */
export function printStatus(s: SessionStatus): void {
  const t = s.tunnel;
  const rows = [
    [
      'Connected',
      s.connected ? colour('green', 'yes') : colour('red', `no (reconnecting: ${t.lastError || 'tunnel down'})`),
    ],
    ['Context', `${s.context} (${s.cluster})`],
    ['Namespace', s.namespace],
    [
      'Gateway',
      s.gateway ? `${s.gateway.namespace}/${s.gateway.pod} ${s.gateway.version} via ${s.gateway.transport}` : '-',
    ],
    ['Device', s.device],
    ['Routes', s.routes.join(', ')],
    ['Service ranges', `${s.serviceRanges.cidrs.join(', ')} (${s.serviceRanges.source})`],
    ['Pod ranges', `${s.podRanges.cidrs.join(', ')} (${s.podRanges.source})`],
    [
      'DNS',
      s.dns
        ? `${s.dns.mode} (${s.dns.reason}); server ${s.dns.servers.map((e) => e.address).join(', ')}; domains ${s.dns.matchDomains.slice(0, 4).join(', ')}${s.dns.matchDomains.length > 4 ? ', …' : ''}`
        : '-',
    ],
    [
      'Tunnel',
      `rtt ${t.rttMs.toFixed(1)} ms, sent ${bytes(t.bytesSent)}, received ${bytes(t.bytesReceived)}, reconnects ${t.reconnects}${t.lastError ? ` (last error: ${t.lastError})` : ''}${t.draining?.sessions ? `, draining ${t.draining.channels} flows of ${t.draining.sessions} old session(s)` : ''}`,
    ],
    [
      'Flows',
      `${s.flows.tcp} TCP, ${s.flows.datagram} UDP/ICMP open; ${s.flows.opened} opened, ${s.flows.rejected} rejected`,
    ],
  ];
  for (const i of (s as SessionStatus & { intercepts?: InterceptInfo[] }).intercepts ?? [])
    rows.push([
      'Intercept',
      `${i.name}: ${i.namespace}/${i.service} ${i.ports.map((p) => `${p.servicePort}→127.0.0.1:${p.local}`).join(',')} ${i.mode}${
        i.mode === 'personal'
          ? ` (${Object.entries(i.headers)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')})`
          : ''
      }, ${i.healthy ? 'healthy' : `unhealthy: ${i.health ?? i.lastError}`}${i.mountDir ? `; volumes under ${i.mountDir}` : ''}`,
    ]);
  process.stdout.write(`${table(['FIELD', 'VALUE'], rows).split('\n').slice(1).join('\n')}\n`);
}

/** registerStatus adds the `status` verb. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the connection, routes, DNS and tunnel')
    .option('-o, --output <format>', 'json or yaml for scripts')
    .action(async (o) => {
      const format = parseOutput(o.output);
      const paths = pathsFor();
      const note = await repairStale(paths);
      if (note) process.stderr.write(`${note}\n`);
      const client = await daemonIfRunning(paths);
      const status = client ? await client.call('status', null) : { connected: false };
      client?.close();
      if (format !== 'table') printData(status, format);
      else if ('context' in status) printStatus(status);
      else process.stdout.write('Not connected. Run `sudo devnet connect`.\n');
    });
}
