// The sandbox's kubeconfig: a standalone file with two contexts (admin,
// current; and the restricted developer, namespace dev), and a kind-style
// merge into the user's kubeconfig that replaces only our own entries and
// sets current-context only when there was none. Pure functions over
// parsed documents, plus small file helpers that write atomically (0600).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { defaultKubeconfigFile, kubeconfigSources } from '../cluster/kubeconfig.ts';
import { CONTEXT_ADMIN, CONTEXT_DEV } from './constants.ts';

/** SandboxCredentials are what the kubeconfig needs from the API server. */
export interface SandboxCredentials {
  url: string;
  caCertPem: string;
  tokens: { admin: string; dev: string };
}

type Named = { name: string; [k: string]: unknown };
/** KubeconfigDoc is a parsed kubeconfig (only the parts we touch are typed). */
export interface KubeconfigDoc {
  apiVersion?: string;
  kind?: string;
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
  'current-context'?: string;
  [k: string]: unknown;
}

const CLUSTER = 'devnet-sandbox';
const USER_ADMIN = 'devnet-sandbox-admin';
const USER_DEV = 'devnet-sandbox-dev';

/** sandboxKubeconfig builds the standalone kubeconfig document. */
export function sandboxKubeconfig(c: SandboxCredentials): KubeconfigDoc {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: CLUSTER,
        cluster: { server: c.url, 'certificate-authority-data': Buffer.from(c.caCertPem).toString('base64') },
      },
    ],
    users: [
      { name: USER_ADMIN, user: { token: c.tokens.admin } },
      { name: USER_DEV, user: { token: c.tokens.dev } },
    ],
    contexts: [
      { name: CONTEXT_ADMIN, context: { cluster: CLUSTER, user: USER_ADMIN } },
      { name: CONTEXT_DEV, context: { cluster: CLUSTER, user: USER_DEV, namespace: 'dev' } },
    ],
    'current-context': CONTEXT_ADMIN,
    preferences: {},
  };
}

function replaceNamed(list: Named[] | undefined, ours: Named[] | undefined): Named[] {
  const names = new Set((ours ?? []).map((x) => x.name));
  return [...(list ?? []).filter((x) => !names.has(x?.name)), ...(ours ?? [])];
}

/** mergeKubeconfig merges our entries into a user's kubeconfig; it never touches other entries and sets current-context only if unset. */
export function mergeKubeconfig(user: KubeconfigDoc | undefined, ours: KubeconfigDoc): KubeconfigDoc {
  const base: KubeconfigDoc =
    user && typeof user === 'object' ? { ...user } : { apiVersion: 'v1', kind: 'Config', preferences: {} };
  base.apiVersion ??= 'v1';
  base.kind ??= 'Config';
  base.clusters = replaceNamed(base.clusters, ours.clusters);
  base.users = replaceNamed(base.users, ours.users);
  base.contexts = replaceNamed(base.contexts, ours.contexts);
  if (!base['current-context']) base['current-context'] = CONTEXT_ADMIN;
  return base;
}

/** unmergeKubeconfig removes our entries; a current-context of ours becomes empty, as `kind delete cluster` does. */
export function unmergeKubeconfig(user: KubeconfigDoc): KubeconfigDoc {
  const drop = (list: Named[] | undefined, names: string[]) => (list ?? []).filter((x) => !names.includes(x?.name));
  const out: KubeconfigDoc = {
    ...user,
    clusters: drop(user.clusters, [CLUSTER]),
    users: drop(user.users, [USER_ADMIN, USER_DEV]),
    contexts: drop(user.contexts, [CONTEXT_ADMIN, CONTEXT_DEV]),
  };
  if (out['current-context'] === CONTEXT_ADMIN || out['current-context'] === CONTEXT_DEV) out['current-context'] = '';
  return out;
}

/** userKubeconfigPath is the file kubectl writes new entries to (src/cluster/kubeconfig.ts): the first existing file of $KUBECONFIG, else its first, else ~/.kube/config. */
export function userKubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return defaultKubeconfigFile(kubeconfigSources({}, env, homedir()));
}

/** readKubeconfig parses a kubeconfig file; a missing file is undefined, an unparsable one an error. */
export function readKubeconfig(path: string): KubeconfigDoc | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const doc = parse(text) as KubeconfigDoc | null;
  if (doc !== null && typeof doc !== 'object') throw new Error(`${path} is not a kubeconfig`);
  return doc ?? undefined;
}

/** writeKubeconfig writes a kubeconfig atomically with mode 0600. */
export function writeKubeconfig(path: string, doc: KubeconfigDoc): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.devnet-${process.pid}.tmp`;
  writeFileSync(tmp, stringify(doc), { mode: 0o600 });
  renameSync(tmp, path);
}
