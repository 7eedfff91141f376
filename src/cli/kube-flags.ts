// The kubeconfig flags shared by verbs that talk to the cluster directly.

import { CoreV1Api } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { loadKubeConfig } from '../cluster/kube.ts';

/** withKubeFlags adds --context, --kubeconfig and --gateway-namespace to a command. */
export function withKubeFlags(cmd: Command): Command {
  return cmd
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--gateway-namespace <ns>', 'namespace of the gateway', 'devnet');
}

/** kubeFrom loads the kubeconfig the flags name and makes a core client. */
export function kubeFrom(o: { context?: string; kubeconfig?: string }) {
  const kc = loadKubeConfig({
    ...(o.context ? { context: o.context } : {}),
    ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
  });
  return { kc, core: kc.makeApiClient(CoreV1Api) };
}
