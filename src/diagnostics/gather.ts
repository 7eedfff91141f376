// What `devnet gather-logs` collects for a bug report: devnet's own logs
// (helper, daemon, the sandbox's supervisor when there is one), the
// session's status, the gateway's logs from the cluster, the machine's
// routes and DNS configuration, and versions. Each source is read with what
// is passed in, never fails the whole (a missing piece becomes a note), and
// is bounded in size. The caller redacts (redact.ts) and archives.

/** MAX_LOG_BYTES bounds each log taken into the archive (its end is kept). */
export const MAX_LOG_BYTES = 1 << 20;

/** GatherDeps are the reads gather() makes, passed in. */
export interface GatherDeps {
  /** readFile returns a file's text, or undefined when it cannot be read. */
  readFile(path: string): string | undefined;
  /** run executes a program and returns its output, or undefined when it is missing or fails. */
  run(cmd: string, args: string[]): Promise<string | undefined>;
  /** status is the daemon's status, or undefined when devnet is not connected. */
  status(): Promise<unknown>;
  /** gatewayLogs returns each gateway pod's log by pod name, or a note why it could not. */
  gatewayLogs(): Promise<Record<string, string> | string>;
  /** serverVersion is the API server's version, or a note why it could not be read. */
  serverVersion(): Promise<string>;
  /** kubeconfig is the chosen context as `kubectl config view --minify` would show it (redacted later). */
  kubeconfig(): string;
  versions: { devnet: string; node: string; platform: string; kernel: string };
  paths: { helperLog: string; daemonLog: string; sandboxLogs: string[] };
}

/** tail keeps the last max bytes of a text, starting at a line. */
export function tail(text: string, max = MAX_LOG_BYTES): string {
  if (text.length <= max) return text;
  const cut = text.slice(text.length - max);
  return `[... ${text.length - max} earlier bytes left out ...]\n${cut.slice(cut.indexOf('\n') + 1)}`;
}

const section = (title: string, body: string | undefined) => `## ${title}\n${body?.trimEnd() ?? '(not available)'}\n\n`;

/** gather returns the archive's files by name (before redaction). */
export async function gather(d: GatherDeps): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const log = (name: string, path: string) => {
    const text = d.readFile(path);
    files.set(name, text === undefined ? `(${path} could not be read: not there, or run with sudo)\n` : tail(text));
  };
  log('helper.log', d.paths.helperLog);
  log('daemon.log', d.paths.daemonLog);
  for (const p of d.paths.sandboxLogs) {
    if (d.readFile(p) !== undefined) log(`sandbox/${p.split('/').at(-1)}`, p);
  }

  const [status, gateway, server, ipRoute, ipRoute6, ipRule, ipAddr, resolved, kubectl] = await Promise.all([
    d.status().catch((err: Error) => ({ error: err.message })),
    d.gatewayLogs().catch((err: Error) => `could not read the gateway's logs: ${err.message}`),
    d.serverVersion().catch((err: Error) => `could not read the server's version: ${err.message}`),
    d.run('ip', ['route', 'show', 'table', 'all']),
    d.run('ip', ['-6', 'route', 'show', 'table', 'all']),
    d.run('ip', ['rule']),
    d.run('ip', ['addr']),
    d.run('resolvectl', ['status']),
    d.run('kubectl', ['version', '--client']),
  ]);
  files.set('status.json', `${JSON.stringify(status ?? { connected: false }, null, 2)}\n`);
  if (typeof gateway === 'string') files.set('gateway/README.txt', `${gateway}\n`);
  else if (Object.keys(gateway).length === 0) files.set('gateway/README.txt', 'no gateway pod found\n');
  else for (const [pod, text] of Object.entries(gateway)) files.set(`gateway/${pod}.log`, tail(text));
  files.set(
    'routes.txt',
    section('ip route show table all', ipRoute) +
      section('ip -6 route show table all', ipRoute6) +
      section('ip rule', ipRule) +
      section('ip addr', ipAddr),
  );
  files.set(
    'dns.txt',
    section('/etc/resolv.conf', d.readFile('/etc/resolv.conf')) +
      section('resolvectl status', resolved) +
      section('/etc/nsswitch.conf', d.readFile('/etc/nsswitch.conf')),
  );
  files.set('kubeconfig.yaml', d.kubeconfig());
  files.set(
    'versions.txt',
    section(
      'devnet',
      `devnet ${d.versions.devnet}\nnode ${d.versions.node}\n${d.versions.platform}\nkernel ${d.versions.kernel}`,
    ) +
      section('/etc/os-release', d.readFile('/etc/os-release')) +
      section('kubectl version --client', kubectl) +
      section('API server', server),
  );
  return files;
}
