// A "local dev server" for intercept tests: answers every request with
// `laptop <NAME> <method> <path> x-dev=<header>` and echoes POST bodies.
// Usage: laptop-http.ts PORT NAME (listens on 127.0.0.1).
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const name = process.argv[3] ?? 'laptop';
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (d: Buffer) => chunks.push(d));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    res.end(
      `laptop ${name} ${req.method} ${req.url} x-dev=${req.headers['x-dev'] ?? ''}${body ? ` body=${body}` : ''}\n`,
    );
  });
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
