// The kubeconfig flags shared by verbs that talk to the cluster directly.
import type { Command } from 'commander';

/** withKubeFlags adds --context, --kubeconfig and --gateway-namespace to a command. */
export function withKubeFlags(cmd: Command): Command {
  return cmd
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--gateway-namespace <ns>', 'namespace of the gateway', 'devnet');
}

/** kubeFrom loads the kubeconfig the flags name (kubectl's rules), checks the server answers and makes a core client; the (large) client loads on first use. */
export async function kubeFrom(o: { context?: string; kubeconfig?: string; namespace?: string }) {
  const [{ CoreV1Api }, { connectKube }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../cluster/kube.ts'),
  ]);
  const loaded = await connectKube({
    ...(o.context ? { context: o.context } : {}),
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
    ...(o.namespace ? { namespace: o.namespace } : {}),
  });
  return { kc: loaded.kc, core: loaded.kc.makeApiClient(CoreV1Api), namespace: loaded.namespace };
}
