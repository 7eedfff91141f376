// `devnet intercept SVC --port LOCAL[:SVCPORT]... [-- CMD ARGS...]`: send a
// Service's cluster traffic to a process on this machine — for everyone, only
// for HTTP requests carrying some headers (--header), or a copy of it while
// the pods keep answering (--mirror) — with the pod's volumes under a local
// directory (--mount, on by default). With a command, run it with the pod's
// environment and leave the intercept when it ends (unless --keep).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { InterceptParams } from '../control/daemon-protocol.ts';
import { DevnetError } from '../errors.ts';
import { type EnvSyntax, formatEnv } from '../intercept/env.ts';
import type { InterceptInfo, VolumeReport } from '../intercept/laptop.ts';
import { type MountResult, mountClaims } from '../intercept/sshfs.ts';
import { runCommand } from './intercept-run.ts';
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

/** parseMount reads --mount: absent or bare = a fresh temporary directory, false = off, else that directory. */
export function parseMount(v: string | boolean | undefined): { dir: string | undefined; on: boolean } {
  if (v === undefined || v === true || v === 'true') return { dir: undefined, on: true };
  if (v === false || v === 'false') return { dir: undefined, on: false };
  return { dir: resolve(v), on: true };
}

/** reachLine tells people how to send traffic to an intercept. */
export function reachLine(i: InterceptInfo): string {
  const url = (port: number) => `http://${i.service}.${i.namespace}${port === 80 ? '' : `:${port}`}/`;
  const where = i.ports.map((p) => `${p.servicePort}→127.0.0.1:${p.local}`).join(', ');
  const first = i.ports[0]?.servicePort ?? 80;
  if (i.mode === 'global')
    return `All traffic for ${i.namespace}/${i.service} (${where}) now reaches this machine; other ports still reach the pods.\n  curl ${url(first)}`;
  if (i.mode === 'mirror')
    return `The pods of ${i.namespace}/${i.service} keep answering; a copy of each request (${where}) now reaches this machine.\n  curl ${url(first)}`;
  const h = Object.entries(i.headers)
    .map(([k, v]) => `-H '${k}: ${v}'`)
    .join(' ');
  return `Requests to ${i.namespace}/${i.service} (${where}) with ${Object.entries(i.headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} now reach this machine; all others go to the Service's pods as before.\n  curl ${h} ${url(first)}`;
}

/** volumeLines describes where each of the pod's volumes is (or why it is not). */
export function volumeLines(dir: string, volumes: VolumeReport[], mounts: MountResult): string[] {
  const out: string[] = [];
  for (const v of volumes) {
    const path = join(dir, v.mountPath);
    const failed = mounts.failed.find((f) => f.path === path);
    if (v.how === 'none') out.push(`  ${v.mountPath} (${v.source}): not available: ${v.reason}`);
    else if (failed) out.push(`  ${v.mountPath} (${v.source}): not mounted: ${failed.why}`);
    else out.push(`  ${v.mountPath} (${v.source})${v.problems?.length ? `: ${v.problems.join('; ')}` : ''}`);
  }
  return out;
}

/** registerIntercept adds the `intercept` verb. */
export function registerIntercept(program: Command): void {
  program
    .command('intercept')
    .description("send a Service's cluster traffic to local ports (for everyone, per HTTP header, or a copy)")
    .argument('<service>', 'the Service to intercept')
    .argument('[command...]', 'after --: a command to run with the pod’s environment; the intercept ends with it')
    .requiredOption(
      '-p, --port <local[:svcport]>',
      'local port, and which Service port (number or name); repeat for several',
      collect,
      [],
    )
    .option('-n, --namespace <ns>', 'the Service’s namespace (default: the connected one)')
    .option('--name <name>', 'name of the intercept (default: the Service’s name)')
    .option('--header <k=v>', 'only HTTP requests with this header (repeatable: all must match)', collect, [])
    .option('--mirror', 'the pods keep answering; this machine gets a copy of each request')
    .option('--mount [dir]', 'put the pod’s volumes under DIR (default: a new temporary directory; false: off)')
    .option('--keep', 'with a command: keep the intercept when the command ends')
    // -E: Node exits before devnet runs when `--env-file` names a missing file anywhere in argv (nodejs/node#54232).
    .option('-E, --env-file <file>', "write the environment of the Service's pod to FILE")
    .option('--env-syntax <syntax>', 'sh, docker (for docker --env-file) or json', 'sh')
    .option('-o, --output <format>', 'json or yaml for scripts')
    .action(async (service: string, command: string[], o) => {
      const format = parseOutput(o.output);
      const syntax = o.envSyntax as EnvSyntax;
      if (!['sh', 'docker', 'json'].includes(syntax))
        throw new DevnetError('user', `--env-syntax "${syntax}" is not sh, docker or json`);
      const mount = parseMount(o.mount);
      const running = command.length > 0;
      if (running && !process.argv.includes('--'))
        throw new DevnetError('user', `unexpected argument "${command[0]}"`, {
          hint: `To run a command with the pod's environment, put it after --: devnet intercept ${service} --port ... -- ${command.join(' ')}`,
        });
      const dir = mount.on ? (mount.dir ?? mkdtempSync(join(tmpdir(), `devnet-${service}-`))) : undefined;
      const params: InterceptParams = {
        service,
        ports: o.port,
        headers: parseHeaders(o.header),
        ...(o.mirror ? { mirror: true } : {}),
        ...(o.namespace ? { namespace: o.namespace } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.envFile || running ? { env: true } : {}),
        ...(dir ? { mount: { dir, created: mount.dir === undefined } } : {}),
        // Without --keep, a command's intercept also ends if this process dies.
        ...(running && !o.keep ? { leaveWithCaller: true } : {}),
      };
      // With a command, its output is the only thing on stdout.
      const say = (s: string) => (running ? process.stderr : process.stdout).write(s);
      const client = await connectDaemon(pathsFor());
      const progress = startProgress(`intercepting ${service}`);
      let info: InterceptInfo;
      try {
        info = await client.call('intercept', params, (m) => progress.step(m));
        progress.succeed(`intercept ${info.name} is active (${info.mode}, engaged in ${info.engagedMs} ms)`);
      } catch (err) {
        progress.fail();
        client.close();
        throw err;
      }
      for (const n of info.notes ?? []) process.stderr.write(`${n}\n`);
      for (const w of info.warnings) process.stderr.write(`warning: ${w}\n`);
      if (o.envFile && !info.env) {
        client.close();
        throw new DevnetError(
          'cluster',
          `no pod of ${service} to read the environment from; ${o.envFile} not written`,
          {
            hint: `The intercept is active; start the workload and intercept again, or \`devnet leave ${info.name}\`.`,
          },
        );
      }
      if (o.envFile && info.env) {
        const { text, skipped } = formatEnv(info.env.vars, syntax);
        writeFileSync(o.envFile, text, { mode: 0o600 }); // it may hold Secrets
        process.stderr.write(
          `wrote the environment of ${info.env.pod} (container ${info.env.container}) to ${o.envFile}\n`,
        );
        for (const w of [...info.env.warnings, ...skipped.map((k) => `${k}: cannot be written in ${syntax} syntax`)])
          process.stderr.write(`  warning: ${w}\n`);
      }
      let mounts: MountResult = { mounted: [], failed: [] };
      if (dir && info.volumes) {
        if (info.sftp) mounts = await mountClaims(dir, info.volumes, info.sftp, !running || !!o.keep);
        process.stderr.write(`The pod's volumes are under ${dir} (DEVNET_ROOT):\n`);
        const lines = volumeLines(dir, info.volumes, mounts);
        process.stderr.write(lines.length > 0 ? `${lines.join('\n')}\n` : '  (the container mounts none)\n');
      }
      if (!running) {
        client.close();
        // The volume token stays out of scripts' output (it reads the claims).
        if (format !== 'table') printData({ ...info, sftp: undefined }, format);
        else say(`${reachLine(info)}\n  devnet leave ${info.name}   # to stop\n`);
        return;
      }
      const code = await runCommand({
        command,
        env: { ...(info.env?.vars ?? {}), ...(dir ? { DEVNET_ROOT: dir } : {}) },
        mounts: o.keep ? [] : mounts.mounted,
        leave: o.keep
          ? undefined
          : async () => {
              await client.call('leave', { name: info.name, namespace: info.namespace });
            },
      });
      client.close();
      if (o.keep) process.stderr.write(`The intercept stays: devnet leave ${info.name}   # to stop\n`);
      process.exitCode = code;
    });
}
