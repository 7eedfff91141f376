// devnet's one kubeconfig loader, for every verb, the daemon and the
// sandbox, with kubectl's rules (client-go tools/clientcmd/loader.go):
//
// - `--kubeconfig FILE` alone, which must exist; else every file of
//   $KUBECONFIG (path-list separated, duplicates and empty entries dropped,
//   missing files skipped); else ~/.kube/config.
// - Merging: the first file that names a cluster, user or context wins, whole
//   (a later file's entry of the same name is ignored even where it adds
//   fields); the first non-empty current-context wins.
// - Relative paths (certificate-authority, client-certificate, client-key,
//   tokenFile, and an exec command that contains a `/`) resolve against the
//   directory of the file that defined the entry.
// - `--context` picks the context, `-n`/`--namespace` overrides its
//   namespace, which defaults to "default".
//
// The result is a client-node KubeConfig holding only the chosen context,
// cluster and user (what `kubectl config view --minify` shows), with the
// differences between client-node and client-go bridged here: tokenFile
// (client-node reads only `token-file`, at load), exec plugins' relative
// commands and KUBERNETES_EXEC_INFO, and plain-http servers.
import { readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { DevnetError } from '../errors.ts';

/** KubeconfigSources are the files to read: one explicit file (--kubeconfig), or a precedence list. */
export interface KubeconfigSources {
  explicit?: string;
  files: string[];
}

/** kubeconfigSources applies kubectl's choice of files: --kubeconfig, else $KUBECONFIG's list, else HOME/.kube/config. */
export function kubeconfigSources(
  flags: { kubeconfig?: string },
  env: { KUBECONFIG?: string | undefined },
  home: string,
  cwd = process.cwd(),
): KubeconfigSources {
  if (flags.kubeconfig) return { explicit: resolve(cwd, flags.kubeconfig), files: [] };
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter)
      .filter(Boolean)
      .map((f) => resolve(cwd, f));
    return { files: [...new Set(files)] };
  }
  return { files: [join(home, '.kube', 'config')] };
}

/** defaultKubeconfigFile is where kubectl writes new entries: the explicit file, else the first existing file of the list, else its first. */
export function defaultKubeconfigFile(
  sources: KubeconfigSources,
  exists: (path: string) => boolean = (p) => statSync(p, { throwIfNoEntry: false }) !== undefined,
): string {
  if (sources.explicit) return sources.explicit;
  return sources.files.find(exists) ?? (sources.files[0] as string);
}

type Obj = Record<string, unknown>;

/** NamedEntry is one cluster, user or context of a kubeconfig, with the file that defined it. */
export interface NamedEntry {
  name: string;
  value: Obj;
  origin: string;
}

/** MergedKubeconfig is the result of merging kubeconfig files the way kubectl does. */
export interface MergedKubeconfig {
  clusters: Map<string, NamedEntry>;
  users: Map<string, NamedEntry>;
  contexts: Map<string, NamedEntry>;
  currentContext: string;
  /** files lists the files that were read (missing ones are not). */
  files: string[];
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function configError(file: string, why: string): DevnetError {
  return new DevnetError('config', `kubeconfig ${file}: ${why}`, {
    hint: 'Fix or remove that file; `kubectl config view` reads the same files.',
  });
}

/** parseKubeconfig checks a kubeconfig's shape; an empty file is an empty config, as for kubectl. */
export function parseKubeconfig(text: string, file: string): Obj {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw configError(file, `not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc)) throw configError(file, 'not a kubeconfig (expected a mapping at the top)');
  for (const [key, inner] of [
    ['clusters', 'cluster'],
    ['users', 'user'],
    ['contexts', 'context'],
  ] as const) {
    const list = doc[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw configError(file, `${key} is not a list`);
    list.forEach((e, i) => {
      if (!isObj(e) || typeof e.name !== 'string' || !e.name) throw configError(file, `${key}[${i}] has no name`);
      if (e[inner] !== undefined && e[inner] !== null && !isObj(e[inner])) {
        throw configError(file, `${key}[${i}].${inner} is not a mapping`);
      }
    });
  }
  return doc;
}

/** mergeKubeconfigs merges parsed files in precedence order: first definition of a name wins, first non-empty current-context wins. */
export function mergeKubeconfigs(docs: { file: string; doc: Obj }[]): MergedKubeconfig {
  const merged: MergedKubeconfig = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: '',
    files: docs.map((d) => d.file),
  };
  for (const { file, doc } of docs) {
    for (const [key, inner, map] of [
      ['clusters', 'cluster', merged.clusters],
      ['users', 'user', merged.users],
      ['contexts', 'context', merged.contexts],
    ] as const) {
      for (const e of (doc[key] as Obj[] | undefined) ?? []) {
        const name = e.name as string;
        if (!map.has(name)) map.set(name, { name, value: (e[inner] as Obj | undefined) ?? {}, origin: file });
      }
    }
    const current = doc['current-context'];
    if (!merged.currentContext && typeof current === 'string') merged.currentContext = current;
  }
  return merged;
}

/** readKubeconfigs reads the sources (an explicit file must exist; missing list entries are skipped) and merges them. */
export function readKubeconfigs(
  sources: KubeconfigSources,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): MergedKubeconfig {
  const files = sources.explicit ? [sources.explicit] : sources.files;
  const docs: { file: string; doc: Obj }[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !sources.explicit) continue;
      if (code === 'ENOENT') {
        throw new DevnetError('config', `the kubeconfig ${file} given with --kubeconfig does not exist`, {
          hint: 'Check the path, or leave --kubeconfig out to use $KUBECONFIG or ~/.kube/config.',
        });
      }
      throw configError(file, `cannot be read (${(err as Error).message})`);
    }
    docs.push({ file, doc: parseKubeconfig(text, file) });
  }
  return mergeKubeconfigs(docs);
}

/** KubeSelection is what the flags pick inside the merged config. */
export interface KubeSelection {
  context?: string;
  namespace?: string;
}

/** ResolvedKube is the chosen context with its cluster and user, paths made absolute, ready for clients. */
export interface ResolvedKube {
  context: string;
  clusterName: string;
  userName: string;
  server: string;
  namespace: string;
  /** view is the chosen context as `kubectl config view --minify --raw` shows it (paths resolved). */
  view: Obj;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function absolute(origin: string, path: unknown): string | undefined {
  const p = str(path);
  if (!p) return undefined;
  return isAbsolute(p) ? p : join(dirname(origin), p);
}

function describeSources(merged: MergedKubeconfig, sources: KubeconfigSources): string {
  if (merged.files.length > 0) return merged.files.join(', ');
  const tried = sources.explicit ? [sources.explicit] : sources.files;
  return `none found (looked for ${tried.join(', ')})`;
}

/** resolveKube picks the context (flag, else current-context) and resolves its cluster, user and namespace. */
export function resolveKube(
  merged: MergedKubeconfig,
  selection: KubeSelection,
  sources: KubeconfigSources = { files: merged.files },
): ResolvedKube {
  const name = selection.context || merged.currentContext;
  if (!name) {
    const known = [...merged.contexts.keys()];
    throw new DevnetError(
      'config',
      `no context chosen: the kubeconfig (${describeSources(merged, sources)}) has no current-context`,
      {
        hint: known.length
          ? `Pass --context NAME (known: ${known.join(', ')}), or set one with \`kubectl config use-context NAME\`.`
          : "Point KUBECONFIG or --kubeconfig at your cluster's kubeconfig (`kubectl config view` shows what is found).",
      },
    );
  }
  const ctx = merged.contexts.get(name);
  if (!ctx) {
    const known = [...merged.contexts.keys()];
    throw new DevnetError('user', `the kubeconfig has no context named "${name}"`, {
      hint: known.length
        ? `Known contexts: ${known.join(', ')} (from ${describeSources(merged, sources)}).`
        : `No contexts at all in ${describeSources(merged, sources)}.`,
    });
  }
  const clusterName = str(ctx.value.cluster) ?? '';
  const cluster = merged.clusters.get(clusterName);
  if (!cluster || !str(cluster.value.server)) {
    throw new DevnetError(
      'config',
      `context "${name}" names cluster "${clusterName}", which ${cluster ? 'has no server' : 'is not in the kubeconfig'}`,
      {
        hint: 'Fix the context with `kubectl config set-context`, or pick another with --context.',
      },
    );
  }
  const userName = str(ctx.value.user) ?? '';
  const user = merged.users.get(userName);
  const c = { ...cluster.value };
  const ca = absolute(cluster.origin, c['certificate-authority']);
  if (ca) c['certificate-authority'] = ca;
  const u: Obj = { ...(user?.value ?? {}) };
  for (const key of ['client-certificate', 'client-key', 'tokenFile']) {
    const p = user ? absolute(user.origin, u[key]) : undefined;
    if (p) u[key] = p;
  }
  if (user && isObj(u.exec)) {
    const exec = { ...u.exec };
    const command = str(exec.command);
    // client-go resolves an exec command only when it is a path, not a name looked up in PATH.
    if (command?.includes('/') && !isAbsolute(command)) exec.command = join(dirname(user.origin), command);
    u.exec = exec;
  }
  const context: Obj = { ...ctx.value };
  const view: Obj = {
    kind: 'Config',
    apiVersion: 'v1',
    preferences: {},
    clusters: [{ name: clusterName, cluster: c }],
    users: user ? [{ name: userName, user: u }] : [],
    contexts: [{ name, context }],
    'current-context': name,
  };
  return {
    context: name,
    clusterName,
    userName,
    server: str(c.server) as string,
    namespace: selection.namespace || str(context.namespace) || 'default',
    view,
  };
}

/** execInfo is the KUBERNETES_EXEC_INFO client-go gives an exec credential plugin (the cluster only with provideClusterInfo). */
export function execInfo(exec: Obj, cluster: Obj): string {
  const spec: Obj = { interactive: false };
  if (exec.provideClusterInfo === true) {
    let caData = str(cluster['certificate-authority-data']);
    const caFile = str(cluster['certificate-authority']);
    if (!caData && caFile) {
      try {
        caData = readFileSync(caFile).toString('base64');
      } catch {
        caData = undefined;
      }
    }
    const ext = isObj(cluster.extensions) ? cluster.extensions : undefined;
    spec.cluster = {
      server: cluster.server,
      ...(str(cluster['tls-server-name']) ? { 'tls-server-name': cluster['tls-server-name'] } : {}),
      ...(cluster['insecure-skip-tls-verify'] === true ? { 'insecure-skip-tls-verify': true } : {}),
      ...(caData ? { 'certificate-authority-data': caData } : {}),
      ...(str(cluster['proxy-url']) ? { 'proxy-url': cluster['proxy-url'] } : {}),
      ...(ext?.['client.authentication.k8s.io/exec'] ? { config: ext['client.authentication.k8s.io/exec'] } : {}),
    };
  }
  return JSON.stringify({ kind: 'ExecCredential', apiVersion: exec.apiVersion, spec });
}

/** clientOptions maps the resolved context to client-node's KubeConfig entries. */
export function clientOptions(r: ResolvedKube): {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext: string;
} {
  const c = ((r.view.clusters as Obj[])[0] as Obj).cluster as Obj;
  const u = (((r.view.users as Obj[])[0] as Obj | undefined)?.user as Obj | undefined) ?? {};
  const server = (str(c.server) as string).replace(/\/$/, '');
  const cluster: Cluster = {
    name: r.clusterName,
    server,
    // client-node refuses plain http unless TLS checks are off; client-go simply speaks http to an http:// server.
    skipTLSVerify: c['insecure-skip-tls-verify'] === true || server.startsWith('http:'),
    ...(str(c['certificate-authority-data']) ? { caData: c['certificate-authority-data'] as string } : {}),
    ...(str(c['certificate-authority']) ? { caFile: c['certificate-authority'] as string } : {}),
    ...(str(c['tls-server-name']) ? { tlsServerName: c['tls-server-name'] as string } : {}),
    ...(str(c['proxy-url']) ? { proxyUrl: c['proxy-url'] as string } : {}),
  };
  const user: { -readonly [K in keyof User]: User[K] } = { name: r.userName || 'user' };
  // client-go sends no credentials to a plain-http server; neither does devnet.
  if (server.startsWith('http:')) {
    return {
      clusters: [cluster],
      users: [user],
      contexts: [{ name: r.context, cluster: r.clusterName, user: user.name, namespace: r.namespace }],
      currentContext: r.context,
    };
  }
  if (str(u.token)) user.token = u.token as string;
  if (str(u['client-certificate-data'])) user.certData = u['client-certificate-data'] as string;
  if (str(u['client-certificate'])) user.certFile = u['client-certificate'] as string;
  if (str(u['client-key-data'])) user.keyData = u['client-key-data'] as string;
  if (str(u['client-key'])) user.keyFile = u['client-key'] as string;
  if (str(u.username)) user.username = u.username as string;
  if (str(u.password)) user.password = u.password as string;
  if (str(u.as)) user.impersonateUser = u.as as string;
  if (isObj(u['auth-provider'])) user.authProvider = u['auth-provider'];
  if (isObj(u.exec)) {
    const env = Array.isArray(u.exec.env) ? (u.exec.env as Obj[]) : [];
    user.exec = { ...u.exec, env: [...env, { name: 'KUBERNETES_EXEC_INFO', value: execInfo(u.exec, c) }] };
  } else if (str(u.tokenFile) && !user.authProvider) {
    // client-go re-reads tokenFile and prefers it to token; client-node's file authenticator does the same.
    user.authProvider = { name: 'tokenFile', config: { tokenFile: u.tokenFile } };
    delete user.token;
  }
  return {
    clusters: [cluster],
    users: [user],
    contexts: [{ name: r.context, cluster: r.clusterName, user: user.name, namespace: r.namespace }],
    currentContext: r.context,
  };
}

/** LoadedKube is a loaded kubeconfig: the client config and what was chosen. */
export interface LoadedKube extends ResolvedKube {
  kc: KubeConfig;
}

/**
 * loadKube is the loader every verb uses: read and merge the sources, pick
 * the context and namespace, and build a client-node KubeConfig. The client
 * library is passed in so that verbs that never reach a cluster do not load it.
 */
export function loadKube(
  sources: KubeconfigSources,
  selection: KubeSelection,
  KubeConfigClass: new () => KubeConfig,
  read?: (path: string) => string,
): LoadedKube {
  const resolved = resolveKube(readKubeconfigs(sources, read), selection, sources);
  const kc = new KubeConfigClass();
  kc.loadFromOptions(clientOptions(resolved));
  return { ...resolved, kc };
}
