// `devnet sandbox up|down|status|exec|kubeconfig`: the local sandbox cluster
// (src/sandbox). Output says what was made and how to use it.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { DevnetError } from '../errors.ts';

// The cluster code pulls in the API machinery: load it only when a sandbox verb runs.
const cluster = () => import('../sandbox/cluster.ts');

import {
  CLUSTER_DNS_IP,
  CONTEXT_ADMIN,
  CONTEXT_DEV,
  NODE_NAME,
  NODE_POD_CIDR,
  SERVICE_CIDR,
} from '../sandbox/constants.ts';
import { execTool } from '../sandbox/exec.ts';
import { sandboxPaths } from '../sandbox/paths.ts';
import { kubeconfigFile } from '../sandbox/supervisor-status.ts';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** registerSandbox adds the `sandbox` verb and its subcommands. */
export function registerSandbox(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .description('a local Kubernetes-like cluster in network namespaces, for trying devnet and for tests');

  sandbox
    .command('up')
    .description('create the sandbox cluster (idempotent) and merge its contexts into your kubeconfig')
    .action(async () => {
      const p = sandboxPaths();
      const { preflight, systemDeps } = await import('../preflight/index.ts');
      await preflight('sandbox', systemDeps, { install: false });
      const { up } = await cluster();
      const r = await up(p, execTool);
      out(r.created ? `devnet sandbox is up (${r.seconds.toFixed(1)} s)` : 'devnet sandbox is already up');
      out(`  API server   ${r.status.url} (supervisor pid ${r.status.pid}, logs in ${p.runDir})`);
      out(
        `  node         ${NODE_NAME}: pods ${NODE_POD_CIDR}, services ${SERVICE_CIDR}, cluster DNS ${CLUSTER_DNS_IP}`,
      );
      out(`  kubeconfig   ${r.kubeconfig} (contexts ${CONTEXT_ADMIN}, ${CONTEXT_DEV})`);
      out(
        `               merged into ${r.userKubeconfig}${r.madeCurrent ? `; current context is now ${CONTEXT_ADMIN}` : ''}`,
      );
      out('  demo         demo: hello (http :80), echo (tcp/udp :7), db-0/db-1 (headless, :5432), ext (ExternalName)');
      out('               other: hello; dev: empty, for the developer user');
      out('  safety       10.96.0.0/12 and 10.244.0.0/16 are unreachable from this host except through devnet');
      out('try:');
      out(`  kubectl --context ${CONTEXT_ADMIN} get pods -A`);
      out('  devnet sandbox exec -n demo <hello pod> -- curl -s http://hello.demo');
      out('  devnet sandbox down');
    });

  sandbox
    .command('down')
    .description('remove every namespace, link, route, process and file the sandbox made')
    .action(async () => {
      const { down } = await cluster();
      const problems = await down(sandboxPaths(), execTool);
      if (problems.length > 0) {
        throw new DevnetError('internal', `sandbox removed with problems:\n  ${problems.join('\n  ')}`);
      }
      out('devnet sandbox is down');
    });

  sandbox
    .command('status')
    .description('components with their PIDs and health, nodes and pods')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts: { output: string }) => {
      const { status } = await cluster();
      const s = await status(sandboxPaths(), execTool);
      if (opts.output === 'json') {
        out(JSON.stringify(s, null, 2));
        return;
      }
      if (opts.output !== 'text')
        throw new DevnetError('user', `unknown output format "${opts.output}"`, { hint: 'use -o json or -o text' });
      if (!s.running) {
        out(`sandbox: not running${s.phase ? ` (last phase: ${s.phase}${s.message ? `: ${s.message}` : ''})` : ''}`);
        return;
      }
      out('COMPONENT            PID      HEALTHY  DETAIL');
      for (const c of s.components)
        out(
          `${c.name.padEnd(20)} ${String(c.pid ?? '-').padEnd(8)} ${(c.healthy ? 'yes' : 'no').padEnd(8)} ${c.detail ?? ''}`,
        );
      out('');
      out('NODE                 READY    POD CIDRS');
      for (const n of s.nodes)
        out(`${n.name.padEnd(20)} ${(n.ready ? 'True' : 'False').padEnd(8)} ${n.podCIDRs.join(',')}`);
      out('');
      out('NAMESPACE    POD                              READY  STATUS              IP');
      for (const pod of s.pods) {
        out(
          `${pod.namespace.padEnd(12)} ${pod.name.padEnd(32)} ${pod.ready.padEnd(6)} ${(pod.reason ?? pod.phase).padEnd(19)} ${pod.ip ?? ''}`,
        );
      }
    });

  sandbox
    .command('exec')
    .description("run a command in a pod's network namespace, with the pod's resolv.conf")
    .argument('<pod>', 'pod name')
    .argument('<command...>', 'command and arguments (after --)')
    .option('-n, --namespace <ns>', 'the pod’s namespace', 'default')
    .action(async (pod: string, command: string[], opts: { namespace: string }) => {
      const { execArgv, requireRoot } = await cluster();
      requireRoot();
      const { argv, env } = await execArgv(sandboxPaths(), execTool, opts.namespace, pod, command);
      const [cmd, ...args] = argv;
      const child = spawn(cmd as string, args, { stdio: 'inherit', env });
      const code = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 1)));
      });
      process.exitCode = code;
    });

  sandbox
    .command('kubeconfig')
    .description('print the path of the standalone sandbox kubeconfig')
    .action(() => {
      out(kubeconfigFile(sandboxPaths()));
    });
}
