// `devnet version`: the client's version (and, once connected, the gateway's).
import type { Command } from 'commander';
import { VERSION } from '../version.ts';

/** registerVersion adds the `version` verb. */
export function registerVersion(program: Command): void {
  program
    .command('version')
    .description("print devnet's version")
    .action(() => {
      process.stdout.write(`devnet ${VERSION} (node ${process.version})\n`);
    });
}
