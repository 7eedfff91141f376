// A bounded HTTP/1.1 load generator for the intercept benchmark, run inside
// a cluster pod: CONCURRENCY keep-alive connections send REQUESTS GETs in
// total to URL (optionally with one header) and it prints
// {"rps","p50Ms","p99Ms","errors","sample"}. It stops by itself.
// Usage: http-load.ts URL REQUESTS CONCURRENCY [NAME:VALUE]
import { Agent, request } from 'node:http';

const [url = '', total = '1000', conc = '8', header] = process.argv.slice(2);
const requests = Number(total);
const concurrency = Number(conc);
const headers: Record<string, string> = {};
if (header) {
  const i = header.indexOf(':');
  headers[header.slice(0, i)] = header.slice(i + 1).trim();
}
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const lat: number[] = [];
let errors = 0;
let sample = '';
let issued = 0;

function one(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => {
        lat.push(performance.now() - t0);
        if (!sample) sample = body.trim().slice(0, 60);
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function worker(): Promise<void> {
  while (issued < requests) {
    issued++;
    await one();
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const secs = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const pct = (p: number) => Number((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? Number.NaN).toFixed(2));
process.stdout.write(
  `${JSON.stringify({ rps: Math.round(lat.length / secs), p50Ms: pct(0.5), p99Ms: pct(0.99), errors, sample })}\n`,
);
agent.destroy();
