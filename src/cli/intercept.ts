// `devnet intercept SVC --port LOCAL[:SVCPORT]`: send a Service's cluster
// traffic to a process on this machine, for everyone or (with --header)
// only for HTTP requests carrying those headers.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { InterceptParams } from '../control/daemon-protocol.ts';
import { DevnetError } from '../errors.ts';
import { type EnvSyntax, formatEnv } from '../intercept/env.ts';
import type { InterceptInfo } from '../intercept/laptop.ts';
import { connectDaemon, pathsFor } from './launch.ts';
import { parseOutput, printData } from './output.ts';
import { startProgress } from './progress.ts';

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** parseHeaders turns repeated K=V (or "K: V") flags into a header map. */
export function parseHeaders(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(h);
    if (!m) throw new DevnetError('user', `--header "${h}" is not K=V`, { hint: 'e.g. --header x-dev=alice' });
    out[(m[1] as string).toLowerCase()] = m[2] as string;
  }
  return out;
}

/** reachLine tells people how to send traffic to an intercept. */
export function reachLine(i: InterceptInfo): string {
  const port = i.ports[0]?.servicePort ?? 80;
  const url = `http://${i.service}.${i.namespace}${port === 80 ? '' : `:${port}`}/`;
  if (i.mode === 'global')
    return `All traffic for ${i.namespace}/${i.service}:${port} now reaches 127.0.0.1:${i.ports[0]?.local} here.\n  curl ${url}`;
  const h = Object.entries(i.headers)
    .map(([k, v]) => `-H '${k}: ${v}'`)
    .join(' ');
  return `Requests to ${i.namespace}/${i.service}:${port} with ${Object.entries(i.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join(
      ', ',
    )} now reach 127.0.0.1:${i.ports[0]?.local} here; all others go to the Service's pods as before.\n  curl ${h} ${url}`;
}

/** registerIntercept adds the `intercept` verb. */
export function registerIntercept(program: Command): void {
  program
    .command('intercept')
    .description("send a Service's cluster traffic to a local port (for everyone, or per HTTP header)")
    .argument('<service>', 'the Service to intercept')
    .requiredOption('-p, --port <local[:svcport]>', 'local port, and which Service port if it has several')
    .option('-n, --namespace <ns>', 'the Service’s namespace (default: the connected one)')
    .option('--name <name>', 'name of the intercept (default: the Service’s name)')
    .option('--header <k=v>', 'only HTTP requests with this header (repeatable: all must match)', collect, [])
    // -E: Node exits before devnet runs when `--env-file` names a missing file anywhere in argv (nodejs/node#54232).
    .option('-E, --env-file <file>', "write the environment of the Service's pod to FILE")
    .option('--env-syntax <syntax>', 'sh, docker (for docker --env-file) or json', 'sh')
    .option('-o, --output <format>', 'json or yaml for scripts')
    .action(async (service: string, o) => {
      const format = parseOutput(o.output);
      const syntax = o.envSyntax as EnvSyntax;
      if (!['sh', 'docker', 'json'].includes(syntax))
        throw new DevnetError('user', `--env-syntax "${syntax}" is not sh, docker or json`);
      const params: InterceptParams = {
        service,
        port: o.port,
        headers: parseHeaders(o.header),
        ...(o.namespace ? { namespace: o.namespace } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.envFile ? { env: true } : {}),
      };
      const client = await connectDaemon(pathsFor());
      const progress = startProgress(`intercepting ${service}`);
      try {
        const info = await client.call('intercept', params, (m) => progress.step(m));
        progress.succeed(`intercept ${info.name} is active (${info.mode}, engaged in ${info.engagedMs} ms)`);
        if (o.envFile && info.env) {
          const { text, skipped } = formatEnv(info.env.vars, syntax);
          writeFileSync(o.envFile, text, { mode: 0o600 }); // it may hold Secrets
          process.stderr.write(
            `wrote the environment of ${info.env.pod} (container ${info.env.container}) to ${o.envFile}\n`,
          );
          for (const w of [...info.env.warnings, ...skipped.map((k) => `${k}: cannot be written in ${syntax} syntax`)])
            process.stderr.write(`  warning: ${w}\n`);
        }
        if (format !== 'table') printData(info, format);
        else process.stdout.write(`${reachLine(info)}\n  devnet leave ${info.name}   # to stop\n`);
      } catch (err) {
        progress.fail();
        throw err;
      } finally {
        client.close();
      }
    });
}
