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
    i.mode === 'personal'
      ? `personal ${Object.entries(i.headers)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`
      : i.mode,
    i.ports.map((p) => `${p.servicePort}→${p.local}`).join(','),
    `${i.health}${counters(i)}`,
  ]);
}

// What the intercept pod counted: mirror copies and drops, requests that fell back to the pods.
function counters(i: ListedIntercept): string {
  const s = i.stats;
  if (!s) return '';
  const parts: string[] = [];
  if (i.mode === 'mirror')
    parts.push(
      `${s.copied} copied, ${s.dropped} dropped${s.dropped > 0 && s.lastError ? ` (last: ${s.lastError})` : ''}`,
    );
  if (s.fallbacks > 0) parts.push(`${s.fallbacks} sent to the pods while the laptop was down`);
  return parts.length > 0 ? `; ${parts.join('; ')}` : '';
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
