// Runs the sandbox API server as its own process:
//   node src/sandbox/apiserver/main.ts --state-dir D --run-dir R [--port P] [--host H]
// Prints one JSON line {"url","caCertPath","pid"} on stdout once listening,
// logs (pino, JSON) on stderr, and exits cleanly on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startApiServer } from './server.ts';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    'run-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '16443' },
    'log-level': { type: 'string', default: 'info' },
  },
});
if (!values['state-dir'] || !values['run-dir']) {
  process.stderr.write('usage: main.ts --state-dir DIR --run-dir DIR [--host H] [--port P]\n');
  process.exit(2);
}
const logger = pino({ level: values['log-level'] }, pino.destination(2));
let server: Awaited<ReturnType<typeof startApiServer>>;
try {
  server = await startApiServer({
    stateDir: values['state-dir'],
    runDir: values['run-dir'],
    host: values.host,
    port: Number(values.port),
    logger,
  });
} catch (err) {
  const e = err as NodeJS.ErrnoException & { hint?: string };
  const why = e.code === 'EADDRINUSE' ? `port ${values.port} on ${values.host} is already in use` : e.message;
  process.stderr.write(`sandbox API server: ${why}${e.hint ? ` (${e.hint})` : ''}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ url: server.url, caCertPath: server.caCertPath, pid: process.pid })}\n`);
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    server.close().then(() => process.exit(0));
  });
}
