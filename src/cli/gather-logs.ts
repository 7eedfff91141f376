// `devnet gather-logs [-o FILE]`: one archive for a bug report — helper,
// daemon and gateway logs, `status -o json`, routes, DNS configuration and
// versions (src/diagnostics/gather.ts) — with every credential redacted
// (src/diagnostics/redact.ts) before anything is written.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { machine, release, tmpdir, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { SessionStatus } from '../daemon/session.ts';
import { gather } from '../diagnostics/gather.ts';
import { redact, secretsOf } from '../diagnostics/redact.ts';
import { DevnetError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { withKubeFlags } from './kube-flags.ts';
import { connectDaemon, invoker, pathsFor } from './launch.ts';

const GATEWAY_SELECTOR = 'app.kubernetes.io/name=devnet-gateway';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function runText(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((res) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 10_000, maxBuffer: 8 << 20 }, (err, stdout) =>
      res(err ? undefined : stdout),
    );
  });
}

async function daemonStatus(): Promise<SessionStatus | { connected: false }> {
  const client = await connectDaemon(pathsFor()).catch(() => undefined);
  if (!client) return { connected: false };
  try {
    return (await client.call('status', null)) as SessionStatus | { connected: false };
  } finally {
    client.close();
  }
}

/** registerGatherLogs adds the `gather-logs` verb. */
export function registerGatherLogs(program: Command): void {
  withKubeFlags(
    program
      .command('gather-logs')
      .description('write one archive with logs, status, routes, DNS and versions for a bug report (secrets redacted)')
      .option('-o, --output <file>', 'the archive to write (default: devnet-logs-<time>.tar.gz here)'),
  ).action(async (o) => {
    const out = resolve(o.output ?? `devnet-logs-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`);
    const status = await daemonStatus();
    const context = o.context ?? ('context' in status ? status.context : undefined);
    const gatewayNs = 'gateway' in status && status.gateway ? status.gateway.namespace : o.gatewayNamespace;
    const secrets: string[] = [];
    let view = '(no kubeconfig could be loaded)\n';
    const who = invoker();
    // The cluster part is best effort: an unreachable server or a missing kubeconfig is a note in the archive.
    // Under sudo it is left out: credentials (exec plugins) run as their user, never as root.
    const kube = await (async () => {
      if (process.getuid?.() === 0 && who.uid !== 0) {
        throw new Error('left out under sudo; run `devnet gather-logs` as yourself to include the cluster part');
      }
      const [{ loadTarget }, { probeApiServer }, { CoreV1Api, VersionApi }] = await Promise.all([
        import('../cluster/kube.ts'),
        import('../cluster/reach.ts'),
        import('@kubernetes/client-node'),
      ]);
      const loaded = loadTarget({
        ...(context ? { context } : {}),
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
      });
      const user = (loaded.view.users as { user?: Record<string, unknown> }[])[0]?.user;
      secrets.push(...secretsOf(user));
      view = stringify(loaded.view);
      await probeApiServer(loaded.kc, { server: loaded.server, context: loaded.context });
      return { core: loaded.kc.makeApiClient(CoreV1Api), version: loaded.kc.makeApiClient(VersionApi) };
    })().catch((err: Error) => err);
    if (!(kube instanceof Error)) {
      // The gateway's session token, so that it is redacted wherever a log might show it.
      const token = await kube.core
        .readNamespacedSecret({ name: 'devnet-gateway-token', namespace: gatewayNs })
        .then((s) => (s.data?.token ? Buffer.from(s.data.token, 'base64').toString('utf8') : undefined))
        .catch(() => undefined);
      if (token) secrets.push(token);
    }
    const unreachable = async () => {
      throw kube as Error;
    };
    const paths = pathsFor(who);
    // The sandbox's logs, where it runs (its default run dir, as src/sandbox/paths.ts; the CLI verbs do not import the sandbox).
    const sandboxRun = process.env.DEVNET_SANDBOX_RUN || '/run/devnet-sandbox';
    const files = await gather({
      readFile: readText,
      run: runText,
      status: async () => status,
      gatewayLogs:
        kube instanceof Error
          ? unreachable
          : async () => {
              const pods = (
                await kube.core.listNamespacedPod({ namespace: gatewayNs, labelSelector: GATEWAY_SELECTOR })
              ).items;
              const logs: Record<string, string> = {};
              for (const p of pods) {
                const name = p.metadata?.name ?? '';
                logs[name] = await kube.core
                  .readNamespacedPodLog({ name, namespace: gatewayNs, tailLines: 5000 })
                  .catch((err: Error) => `(could not read the log: ${err.message})`);
              }
              return logs;
            },
      serverVersion:
        kube instanceof Error
          ? unreachable
          : async () => {
              const v = await kube.version.getCode();
              return `${v.gitVersion} (${v.platform})`;
            },
      kubeconfig: () => view,
      versions: {
        devnet: VERSION,
        node: process.version,
        platform: `${type()} ${machine()}`,
        kernel: release(),
      },
      paths: {
        helperLog: paths.helperLog,
        daemonLog: paths.daemonLog,
        sandboxLogs: [join(sandboxRun, 'supervisor.log'), join(sandboxRun, 'supervisor.out')],
      },
    });

    const stage = mkdtempSync(join(tmpdir(), 'devnet-logs-'));
    try {
      const names: string[] = [];
      for (const [name, text] of files) {
        const file = join(stage, 'devnet-logs', name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, redact(text, secrets), { mode: 0o600 });
        names.push(join('devnet-logs', name));
      }
      const { create } = await import('tar');
      await create({ gzip: true, file: out, cwd: stage, portable: true }, names).catch((err: Error) => {
        throw new DevnetError('user', `cannot write ${out}: ${err.message}`, {
          hint: 'Pick a folder you can write to with -o FILE.',
        });
      });
      chmodSync(out, 0o600);
      if (process.getuid?.() === 0 && who.uid !== 0) chownSync(out, who.uid, who.gid);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
    process.stdout.write(
      `wrote ${out} (${files.size} files: logs, status, routes, DNS, versions; credentials redacted).\n` +
        'Look inside before you share it (`tar tzf` lists it), then attach it to your bug report.\n',
    );
  });
}
