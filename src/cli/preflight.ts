// `devnet preflight [--for demo|sandbox|connect] [--check]`: name every
// system tool a use of devnet needs and this machine lacks; as root on
// Debian and Ubuntu install them (apt-get --no-install-recommends) and build
// the TUN addon if no prebuilt one fits; elsewhere print the exact install
// command and change nothing (src/preflight).
import type { Command } from 'commander';
import { DevnetError } from '../errors.ts';

const USES = ['demo', 'sandbox', 'connect'] as const;

/** registerPreflight adds the `preflight` verb. */
export function registerPreflight(program: Command): void {
  program
    .command('preflight')
    .description('check (and on Debian/Ubuntu as root, install) the system tools devnet needs')
    .option('--for <use>', 'demo, sandbox or connect', 'demo')
    .option('--check', 'only check: never install anything')
    .action(async (o: { for: string; check?: boolean }) => {
      const use = USES.find((u) => u === o.for);
      if (!use) throw new DevnetError('user', `unknown use "${o.for}"`, { hint: `Use one of ${USES.join(', ')}.` });
      const { preflight, systemDeps } = await import('../preflight/index.ts');
      const plan = await preflight(use, systemDeps, { install: !o.check });
      process.stdout.write(
        plan.action === 'ok'
          ? `devnet preflight: everything the ${use} needs is installed\n`
          : `devnet preflight: installed what the ${use} needs\n`,
      );
    });
}
