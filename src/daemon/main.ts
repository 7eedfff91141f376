// The user daemon's entry point: it holds the Kubernetes credentials and all
// traffic, runs as the user who connected, and only wires components
// (ARCHITECTURE.md decision 14). The CLI starts it and talks to it over the
// control socket.
//
//   node src/daemon/main.ts --socket PATH --helper PATH --fd-socket PATH
// prints {"ready":true,"pid":N} once it serves.
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DAEMON_PROTOCOL } from '../control/daemon-protocol.ts';
import { serveControl } from '../control/transport.ts';
import { asDevnetError, DevnetError } from '../errors.ts';
import { HelperClient } from '../helper/service.ts';
import { LaptopIntercepts } from '../intercept/laptop.ts';
import { VERSION } from '../version.ts';
import { ConnectSession } from './session.ts';

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
  let intercepts: LaptopIntercepts | undefined;
  let connecting = false;
  const connected = (): { session: ConnectSession; intercepts: LaptopIntercepts } => {
    if (!session || !intercepts)
      throw new DevnetError('user', 'devnet is not connected', { hint: 'Run `sudo devnet connect` first.' });
    return { session, intercepts };
  };
  let quitting = false;

  const quit = async (why: string) => {
    if (quitting) return;
    quitting = true;
    logger.info({ why }, 'quitting');
    await intercepts?.removeAll();
    await session?.close();
    await helper
      .call('teardown', null)
      .catch((err: Error) => logger.warn({ err: err.message }, 'helper teardown failed'));
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
    DAEMON_PROTOCOL,
    {
      connect: async (params, progress) => {
        if (session) throw new DevnetError('user', 'already connected', { hint: 'Run `devnet quit` first.' });
        if (connecting) throw new DevnetError('user', 'a connect is already in progress');
        connecting = true;
        let notes: string[] = [];
        try {
          const s = await ConnectSession.start(params, {
            helper,
            fdSocket: values['fd-socket'] as string,
            logger,
            progress,
          });
          session = s;
          const ic = new LaptopIntercepts({
            kube: () => s.kube,
            session: () => s.session,
            gateway: () => {
              const gw = s.gatewayInfo;
              if (!gw) throw new DevnetError('cluster', 'no gateway');
              return gw;
            },
            defaultNamespace: () => s.namespace,
            identity: s.identity,
            owner: s.user.name,
            // One daemon at a time serves this socket's folder on this machine.
            seat: `${hostname()}:${dirname(values.socket as string)}`,
            logger: logger.child({ component: 'intercepts' }),
          });
          intercepts = ic;
          s.onTunnel = (t) => {
            ic.attach(t).catch((err: Error) => logger.warn({ err: err.message }, 're-registering intercepts failed'));
          };
          if (s.session) await ic.attach(s.session);
          notes = await ic.repair().catch((err: Error) => {
            logger.warn({ err: err.message }, 'repairing intercept leftovers failed');
            return [`could not look for intercepts left behind: ${err.message}`];
          });
          for (const n of notes) logger.info({ note: n }, 'intercept repair');
        } finally {
          connecting = false;
        }
        return { ...session.status(), intercepts: intercepts?.status() ?? [], notes };
      },
      status: async () =>
        session ? { ...session.status(), intercepts: intercepts?.status() ?? [] } : { connected: false as const },
      intercept: async (params, progress, peer) => connected().intercepts.add(params, progress, peer),
      leave: async (p) => connected().intercepts.remove(p.name, p.namespace),
      list: async () => connected().intercepts.list(),
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
