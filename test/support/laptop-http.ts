// A "local dev server" for intercept tests: answers every request with
// `laptop <NAME> <method> <path> x-dev=<header>` and echoes POST bodies.
// With LOG, each request's line is also appended to that file (what the
// laptop saw). Usage: laptop-http.ts PORT NAME [LOG] (listens on 127.0.0.1).
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const name = process.argv[3] ?? 'laptop';
const log = process.argv[4];
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (d: Buffer) => chunks.push(d));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const line = `laptop ${name} ${req.method} ${req.url} x-dev=${req.headers['x-dev'] ?? ''}${body ? ` body=${body}` : ''}\n`;
    if (log) appendFileSync(log, line);
    res.end(line);
  });
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
