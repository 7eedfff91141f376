// Holds N idle TCP connections to an echo server (RFC 862): opens them with
// at most 256 handshakes in flight, proves each one end to end with a one-byte
// echo, prints {"open":n,"errors":n,"ms":n} once all are up, then holds them
// until stdin closes (or 60 s pass) and exits. Run inside the laptop's network
// namespace by bench/side-by-side.ts, which meanwhile reads the daemon's memory.
import { connect, type Socket } from 'node:net';

const [host, portArg, countArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg ?? 10_000);
if (!host || !(port > 0) || !(count > 0)) {
  process.stderr.write('usage: idle-conns.ts HOST PORT COUNT\n');
  process.exit(2);
}

const held: Socket[] = [];
let errors = 0;
let firstError = '';
let next = 0;
const started = performance.now();

function open(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => s.destroy(new Error('timeout after 10 s')), 10_000);
    s.once('connect', () => s.write('x'));
    s.once('data', () => {
      clearTimeout(timer);
      held.push(s);
      resolve();
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      if (!firstError) firstError = err.message;
      errors++;
      resolve();
    });
  });
}

async function worker(): Promise<void> {
  while (next < count) {
    next++;
    await open();
  }
}

await Promise.all(Array.from({ length: Math.min(256, count) }, worker));
process.stdout.write(`${JSON.stringify({ open: held.length, errors, ms: performance.now() - started, firstError })}\n`);
const done = () => {
  for (const s of held) s.destroy();
  process.exit(0);
};
process.stdin.on('end', done);
process.stdin.on('close', done);
process.stdin.resume();
setTimeout(done, 60_000).unref();
