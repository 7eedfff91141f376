// Prober for the intercept benchmark, run inside a cluster pod: GETs URL
// every INTERVAL ms (each on a new connection, as a fresh client would)
// until the body starts with PREFIX or TIMEOUT ms pass, then prints the
// wall-clock time (Date.now()) of the first such answer, or -1.
// Usage: first-hit.ts URL PREFIX [NAME:VALUE] (every 20 ms, for at most 30 s)
import { get } from 'node:http';

const [url = '', prefix = '', header] = process.argv.slice(2);
const headers: Record<string, string> = {};
if (header) headers[header.slice(0, header.indexOf(':'))] = header.slice(header.indexOf(':') + 1).trim();
const interval = 20;
const deadline = Date.now() + 30_000;

function probe(): Promise<string> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 2000, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
    req.on('timeout', () => req.destroy());
  });
}

process.stdout.write('ready\n');
while (Date.now() < deadline) {
  if ((await probe()).startsWith(prefix)) {
    process.stdout.write(`${Date.now()}\n`);
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, interval));
}
process.stdout.write('-1\n');
