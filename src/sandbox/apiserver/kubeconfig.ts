// Kubeconfig files for the sandbox cluster: cluster `devnet-sandbox`,
// context `devnet-sandbox` (the admin) and `devnet-sandbox-dev` (the
// developer, namespace dev), token authentication against the sandbox CA.
import { stringify } from 'yaml';
import type { Tokens } from './auth.ts';
import { writeFileAtomic } from './files.ts';

/** CLUSTER_NAME is the kubeconfig cluster entry's name. */
export const CLUSTER_NAME = 'devnet-sandbox';
/** ADMIN_CONTEXT is the admin's kubeconfig context. */
export const ADMIN_CONTEXT = 'devnet-sandbox';
/** DEV_CONTEXT is the developer's kubeconfig context (namespace dev). */
export const DEV_CONTEXT = 'devnet-sandbox-dev';

/** KubeconfigOptions describes the server and credentials to write. */
export interface KubeconfigOptions {
  url: string;
  caCertPem: string;
  tokens: Tokens;
  /** currentContext defaults to the admin context. */
  currentContext?: typeof ADMIN_CONTEXT | typeof DEV_CONTEXT;
  /** users restricts which users (and their contexts) are written; both by default. */
  users?: ('admin' | 'dev')[];
}

/** kubeconfigYaml renders a kubeconfig with the sandbox's contexts. */
export function kubeconfigYaml(opts: KubeconfigOptions): string {
  const users = opts.users ?? ['admin', 'dev'];
  const contexts = [];
  const userEntries = [];
  if (users.includes('admin')) {
    contexts.push({ name: ADMIN_CONTEXT, context: { cluster: CLUSTER_NAME, user: 'devnet-sandbox-admin' } });
    userEntries.push({ name: 'devnet-sandbox-admin', user: { token: opts.tokens.admin } });
  }
  if (users.includes('dev')) {
    contexts.push({
      name: DEV_CONTEXT,
      context: { cluster: CLUSTER_NAME, user: 'devnet-sandbox-dev', namespace: 'dev' },
    });
    userEntries.push({ name: 'devnet-sandbox-dev', user: { token: opts.tokens.dev } });
  }
  const current = opts.currentContext ?? (users.includes('admin') ? ADMIN_CONTEXT : DEV_CONTEXT);
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: CLUSTER_NAME,
        cluster: { server: opts.url, 'certificate-authority-data': Buffer.from(opts.caCertPem).toString('base64') },
      },
    ],
    contexts,
    users: userEntries,
    'current-context': current,
    preferences: {},
  });
}

/** writeKubeconfig writes the kubeconfig atomically with mode 0600 (it holds tokens). */
export function writeKubeconfig(path: string, opts: KubeconfigOptions): void {
  writeFileAtomic(path, kubeconfigYaml(opts), 0o600);
}
