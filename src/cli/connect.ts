// `devnet connect`: make this machine a member of the cluster's network.

import type { Command } from 'commander';
import { kubeconfigSources } from '../cluster/kubeconfig.ts';
import type { ConnectParams } from '../control/daemon-protocol.ts';
import { parseDnsMode } from '../dns/os/index.ts';
import { DevnetError } from '../errors.ts';
import { daemonIfRunning, invoker, isRoot, launchSession, pathsFor, repairStale } from './launch.ts';
import { parseOutput, printData } from './output.ts';
import { startProgress } from './progress.ts';
import { printStatus } from './status.ts';

const collect = (v: string, prev: string[]) => [...prev, v];

/** registerConnect adds the `connect` verb. */
export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description("route the cluster's pod and service addresses and names to this machine")
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('-n, --namespace <ns>', 'namespace that short names resolve in (default: the context’s)')
    .option('--gateway-namespace <ns>', 'namespace of the gateway', 'devnet')
    .option(
      '--transport <kind>',
      'portforward (through the API server) or direct (TCP to --direct-address)',
      'portforward',
    )
    .option('--direct-address <host:port>', "the gateway's direct listener, for --transport direct")
    .option('--also-proxy <cidr>', 'also route this range into the cluster (repeatable)', collect, [])
    .option('--never-proxy <cidr>', 'never route this range into the cluster (repeatable)', collect, [])
    .option(
      '--allow-conflict <cidr>',
      'route this cluster range even where a local route overlaps it (repeatable)',
      collect,
      [],
    )
    .option('--dns-mode <mode>', 'auto, resolved, resolvconf or none', 'auto')
    .option('-o, --output <format>', 'json or yaml for scripts')
    .action(async (o) => {
      const format = parseOutput(o.output);
      if (o.transport !== 'portforward' && o.transport !== 'direct') {
        throw new DevnetError('user', `unknown transport "${o.transport}"`, { hint: 'Use portforward or direct.' });
      }
      if (!isRoot()) {
        throw new DevnetError('user', 'devnet connect needs root to create its network device and routes', {
          hint: 'Run it with sudo: `sudo devnet connect`. Only a small helper keeps root; the rest runs as you.',
        });
      }
      const { preflight, systemDeps } = await import('../preflight/index.ts');
      await preflight('connect', systemDeps, { install: false });
      const who = invoker();
      const paths = pathsFor(who);
      const existing = await daemonIfRunning(paths, who);
      if (existing) {
        const st = await existing.call('status', null);
        existing.close();
        if ('context' in st) {
          throw new DevnetError('user', `already connected to ${st.context}`, {
            hint: 'Run `devnet quit` first to connect elsewhere.',
          });
        }
      }
      const note = await repairStale(paths);
      if (note) process.stderr.write(`${note}\n`);
      // kubectl's choice of files, for the invoking user (sudo's HOME is root's); the daemon reads them as that user.
      const sources = kubeconfigSources(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}, process.env, who.home);
      const params: ConnectParams = {
        ...(sources.explicit ? { kubeconfig: sources.explicit } : { kubeconfigFiles: sources.files }),
        ...(o.context ? { context: o.context } : {}),
        ...(o.namespace ? { namespace: o.namespace } : {}),
        gatewayNamespace: o.gatewayNamespace,
        transport: o.transport,
        ...(o.directAddress ? { directAddress: o.directAddress } : {}),
        alsoProxy: o.alsoProxy,
        neverProxy: o.neverProxy,
        allowConflict: o.allowConflict,
        dnsMode: parseDnsMode(o.dnsMode),
      };
      const progress = startProgress('starting devnet');
      let client: Awaited<ReturnType<typeof launchSession>> | undefined;
      try {
        client = await launchSession(who, paths, process.env, { allowConflicts: o.allowConflict });
        const status = await client.call('connect', params, (m) => progress.step(m));
        progress.succeed(`connected to ${status.context} (namespace ${status.namespace})`);
        for (const n of status.notes ?? []) process.stderr.write(`${n}\n`);
        if (format === 'table') printStatus(status);
        else printData(status, format);
      } catch (err) {
        progress.fail();
        await client?.call('quit', null).catch(() => undefined);
        throw err;
      } finally {
        client?.close();
      }
    });
}
