// New TCP connections per second, as a user's client makes them: connect,
// send one request byte, read the echoed reply, close — `concurrency` loops
// for `seconds`, against an echo server (RFC 862). Run inside the laptop's
// network namespace by bench/side-by-side.ts; prints one JSON line
// {"connections":n,"errors":n,"seconds":s,"per_s":n}. Every connection has
// a 3 s deadline, so the run always ends.
import { connect } from 'node:net';

const [host, portArg, secondsArg, concurrencyArg] = process.argv.slice(2);
const port = Number(portArg);
const seconds = Number(secondsArg ?? 3);
const concurrency = Number(concurrencyArg ?? 16);
if (!host || !(port > 0) || !(seconds > 0) || !(concurrency > 0)) {
  process.stderr.write('usage: conn-rate.ts HOST PORT SECONDS [CONCURRENCY]\n');
  process.exit(2);
}

let connections = 0;
let errors = 0;
let firstError = '';
const started = performance.now();
const deadline = started + seconds * 1000;

/** once makes one connection and resolves when it is closed (true when the reply came back). */
function once(): Promise<boolean> {
  return new Promise((resolve) => {
    let ok = false;
    const s = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => s.destroy(new Error('timeout after 3 s')), 3000);
    s.once('connect', () => s.write('x'));
    s.once('data', () => {
      ok = true;
      s.end();
    });
    s.on('error', (err) => {
      if (!firstError) firstError = err.message;
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(ok);
    });
  });
}

async function loop(): Promise<void> {
  while (performance.now() < deadline) {
    if (await once()) connections++;
    else errors++;
  }
}

await Promise.all(Array.from({ length: concurrency }, loop));
const elapsed = (performance.now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({ connections, errors, seconds: elapsed, per_s: connections / elapsed, firstError })}\n`,
);
