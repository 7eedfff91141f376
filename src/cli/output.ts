// Output helpers shared by the verbs: -o json|yaml for scripts, aligned
// tables for people, colour only on a terminal and never with NO_COLOR.
import { styleText } from 'node:util';
import { stringify } from 'yaml';
import { DevnetError } from '../errors.ts';

/** OutputFormat is what -o accepts. */
export type OutputFormat = 'table' | 'json' | 'yaml';

/** parseOutput validates -o. */
export function parseOutput(v: string | undefined): OutputFormat {
  if (v === undefined || v === 'table' || v === 'wide') return 'table';
  if (v === 'json' || v === 'yaml') return v;
  throw new DevnetError('user', `unknown output format "${v}"`, { hint: 'Use -o json or -o yaml.' });
}

/** printData writes data as JSON or YAML. */
export function printData(data: unknown, format: 'json' | 'yaml'): void {
  process.stdout.write(format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : stringify(data));
}

/** table renders rows under a header with columns padded like kubectl's. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] as number) + 3)))
      .join('')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** colour styles text for a terminal (and nothing else). */
export function colour(format: Parameters<typeof styleText>[0], text: string): string {
  if (!process.stdout.isTTY || process.env.NO_COLOR) return text;
  return styleText(format, text, { validateStream: false });
}
