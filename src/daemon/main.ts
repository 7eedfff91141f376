// The user daemon's entry point: it holds the Kubernetes credentials and all
// traffic, runs as the user who connected, and only wires components
// (ARCHITECTURE.md decision 14). The CLI starts it and talks to it over the
// control socket.
//
//   node src/daemon/main.ts --socket PATH --helper PATH --fd-socket PATH
// prints {"ready":true,"pid":N} once it serves.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { asDevnetError, DevnetError } from '../errors.ts';
import { HelperClient } from '../helper/service.ts';
import { VERSION } from '../version.ts';
import { serveControl } from './control.ts';
import { type ConnectParams, ConnectSession } from './session.ts';

const { values } = parseArgs({
  options: { socket: { type: 'string' }, helper: { type: 'string' }, 'fd-socket': { type: 'string' } },
});
const logger = pino({ name: 'devnet-daemon' }, pino.destination(2));

async function main(): Promise<void> {
  if (!values.socket || !values.helper || !values['fd-socket']) {
    throw new Error('usage: daemon --socket PATH --helper PATH --fd-socket PATH');
  }
  const helper = await HelperClient.connect(values.helper, 15_000);
  let session: ConnectSession | undefined;
  let connecting = false;
  let quitting = false;

  const quit = async (why: string) => {
    if (quitting) return;
    quitting = true;
    logger.info({ why }, 'quitting');
    await session?.close();
    await helper.call('teardown').catch((err: Error) => logger.warn({ err: err.message }, 'helper teardown failed'));
    helper.close();
    setImmediate(() => process.exit(0));
  };
  helper.onLost(() => {
    if (!quitting) {
      logger.error('the root helper went away; taking the session down');
      quitting = true;
      session?.close().finally(() => process.exit(1));
      if (!session) process.exit(1);
    }
  });

  await serveControl(
    {
      connect: async (params, progress) => {
        if (session) throw new DevnetError('user', 'already connected', { hint: 'Run `devnet quit` first.' });
        if (connecting) throw new DevnetError('user', 'a connect is already in progress');
        connecting = true;
        try {
          session = await ConnectSession.start((params ?? {}) as ConnectParams, {
            helper,
            fdSocket: values['fd-socket'] as string,
            logger,
            progress,
          });
        } finally {
          connecting = false;
        }
        return session.status();
      },
      status: async () => session?.status() ?? { connected: false },
      dnsContext: async () => session?.dnsContext() ?? null,
      version: async () => ({ version: VERSION, gateway: session?.status().gateway?.version ?? null }),
      quit: async () => {
        setImmediate(() => void quit('devnet quit'));
        return { quitting: true };
      },
    },
    { path: values.socket, logger },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void quit(sig));
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
}

main().catch((err) => {
  const e = asDevnetError(err);
  process.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
  logger.error({ err: e.message }, 'daemon failed to start');
  process.exit(1);
});
