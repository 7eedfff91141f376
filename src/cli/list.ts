// `devnet list`: every intercept on the cluster's intercepted Services, with
// owner, mode, ports and health.
import type { Command } from 'commander';
import type { ListedIntercept } from '../intercept/laptop.ts';
import { connectDaemon, pathsFor } from './launch.ts';
import { parseOutput, printData, table } from './output.ts';

/** listRows renders intercepts for the table. */
export function listRows(items: ListedIntercept[]): string[][] {
  return items.map((i) => [
    `${i.namespace}/${i.service}`,
    i.name,
    `${i.owner}${i.mine ? ' (you)' : ''}`,
    i.mode === 'global'
      ? 'global'
      : `personal ${Object.entries(i.headers)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`,
    i.ports.map((p) => `${p.servicePort}→${p.local}`).join(','),
    i.health,
  ]);
}

/** registerList adds the `list` verb. */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('list intercepts: owner, mode, ports, health')
    .option('-o, --output <format>', 'json or yaml for scripts')
    .action(async (o) => {
      const format = parseOutput(o.output);
      const client = await connectDaemon(pathsFor());
      try {
        const items = await client.call('list', null);
        if (format !== 'table') printData(items, format);
        else if (items.length === 0) process.stdout.write('No intercepts.\n');
        else
          process.stdout.write(`${table(['SERVICE', 'NAME', 'OWNER', 'MODE', 'PORTS', 'HEALTH'], listRows(items))}\n`);
      } finally {
        client.close();
      }
    });
}
