// `devnet leave NAME`: undo one of your intercepts at once (the Service gets
// its own selector back before the intercept pod is deleted).
import type { Command } from 'commander';
import { connectDaemon, pathsFor } from './launch.ts';

/** registerLeave adds the `leave` verb. */
export function registerLeave(program: Command): void {
  program
    .command('leave')
    .description('stop an intercept (NAME defaults to the Service’s name)')
    .argument('<name>', 'the intercept’s name')
    .option('-n, --namespace <ns>', 'its namespace, if you have two of that name')
    .action(async (name: string, o) => {
      const client = await connectDaemon(pathsFor());
      try {
        const r = await client.call('leave', {
          name,
          ...(o.namespace ? { namespace: o.namespace } : {}),
        });
        process.stdout.write(
          r.restored
            ? `Left ${name}; the Service has its own selector again.\n`
            : `Left ${name}; other intercepts on that Service remain.\n`,
        );
      } finally {
        client.close();
      }
    });
}
