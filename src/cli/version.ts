// `devnet version`: the client's version (and, once connected, the gateway's).
import type { Command } from 'commander';
import { VERSION } from '../version.ts';
import { daemonIfRunning, pathsFor } from './launch.ts';

/** registerVersion adds the `version` verb. */
export function registerVersion(program: Command): void {
  program
    .command('version')
    .description("print devnet's version, and the connected gateway's")
    .action(async () => {
      process.stdout.write(`devnet ${VERSION} (node ${process.version})\n`);
      const client = await daemonIfRunning(pathsFor());
      if (!client) return;
      const v = await client.call('version', null).catch(() => ({ gateway: null }));
      client.close();
      if (v.gateway) process.stdout.write(`gateway ${v.gateway}\n`);
    });
}
