// `devnet gateway install|uninstall|status|manifest`: manage the in-cluster
// gateway without connecting (for admins, GitOps and CI).
import type { Command } from 'commander';

// The kube client is loaded only when a gateway verb runs (it is large).
const gateway = () => import('../cluster/gateway.ts');

import { VERSION } from '../version.ts';
import { kubeFrom, withKubeFlags } from './kube-flags.ts';
import { parseOutput, printData, table } from './output.ts';
import { startProgress } from './progress.ts';

/** registerGateway adds the `gateway` verb group. */
export function registerGateway(program: Command): void {
  const gw = program.command('gateway').description('install, inspect or remove the in-cluster gateway');

  withKubeFlags(gw.command('install').description('install or upgrade the gateway and wait until it is ready')).action(
    async (o) => {
      const { kc, core } = await kubeFrom(o);
      const progress = startProgress(`installing the gateway ${VERSION} in namespace ${o.gatewayNamespace}`);
      try {
        const { installGateway, waitForGateway } = await gateway();
        await installGateway({ kc, core, progress: (m) => progress.step(m) }, o.gatewayNamespace);
        const info = await waitForGateway({ kc, core, progress: (m) => progress.step(m) }, o.gatewayNamespace);
        progress.succeed(`gateway ${info.version} ready: ${info.namespace}/${info.pod}`);
      } catch (err) {
        progress.fail();
        throw err;
      }
    },
  );

  withKubeFlags(gw.command('uninstall').description("remove the gateway's objects")).action(async (o) => {
    const { kc, core } = await kubeFrom(o);
    const { uninstallGateway } = await gateway();
    const removed = await uninstallGateway({ kc, core, progress: () => undefined }, o.gatewayNamespace);
    process.stdout.write(removed.length ? `removed ${removed.join(', ')}\n` : 'the gateway was not installed\n');
  });

  withKubeFlags(gw.command('status').description('show whether the gateway is installed, its version and pods'))
    .option('-o, --output <format>', 'json or yaml for scripts')
    .action(async (o) => {
      const format = parseOutput(o.output);
      const { kc, core } = await kubeFrom(o);
      const { installedVersion } = await gateway();
      const version = await installedVersion({ kc, core, progress: () => undefined }, o.gatewayNamespace);
      const pods = version
        ? (
            await core.listNamespacedPod({
              namespace: o.gatewayNamespace,
              labelSelector: 'app.kubernetes.io/name=devnet-gateway',
            })
          ).items
        : [];
      const data = {
        namespace: o.gatewayNamespace,
        installed: version !== undefined,
        version: version ?? null,
        clientVersion: VERSION,
        upToDate: version === VERSION,
        pods: pods.map((p) => ({
          name: p.metadata?.name ?? '',
          phase: p.status?.phase ?? '',
          ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
          ip: p.status?.podIP ?? '',
        })),
      };
      if (format !== 'table') return printData(data, format);
      if (!data.installed) {
        process.stdout.write(
          `The gateway is not installed in namespace ${o.gatewayNamespace}. \`devnet connect\` installs it, or run \`devnet gateway install\`.\n`,
        );
        return;
      }
      process.stdout.write(
        `Gateway ${data.version} in namespace ${data.namespace}${data.upToDate ? '' : ` (this devnet is ${VERSION}: \`devnet gateway install\` upgrades it)`}\n`,
      );
      process.stdout.write(
        `${table(
          ['POD', 'PHASE', 'READY', 'IP'],
          data.pods.map((p) => [p.name, p.phase, p.ready ? 'yes' : 'no', p.ip]),
        )}\n`,
      );
    });

  gw.command('manifest')
    .description('print the gateway manifests as YAML (for GitOps); the Secret token is left for you to fill')
    .option('--gateway-namespace <ns>', 'namespace of the gateway', 'devnet')
    .action(async (o) => {
      const { renderGatewayYaml } = await import('../cluster/gateway-manifests.ts');
      process.stdout.write(renderGatewayYaml({ namespace: o.gatewayNamespace }));
    });
}
