// The root helper's entry point. It is the only part of devnet that runs as
// root (ARCHITECTURE.md decision 14), and it only changes the machine's
// network configuration, journaling every change first.
//
//   helper configure --journal FILE --spec JSON   make the TUN, addresses and routes;
//                                                print {"ready":true,...}; undo all on
//                                                SIGTERM/SIGINT or when stdin closes
//   helper recover --journal FILE                 undo what a dead process left behind
//   helper serve --journal FILE --socket PATH --uid U --gid G
//                                                serve a user daemon (service.ts); print
//                                                {"ready":true} once listening
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { asDevnetError } from '../errors.ts';
import { execArgv } from './exec.ts';
import { FileJournal, recover } from './journal.ts';
import { configureTun, type TunSpec } from './network.linux.ts';
import { isOwnerAlive, processStartTime } from './process.linux.ts';
import { startHelperService } from './service.ts';
import { undoEnv } from './undo-env.ts';

function reply(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

async function configure(journalPath: string, specJson: string): Promise<void> {
  const spec = JSON.parse(specJson) as TunSpec;
  const owner = { pid: process.pid, startTime: await processStartTime(process.pid), description: 'devnet helper' };
  const journal = await FileJournal.create(journalPath, owner);
  let tun: { fd: number; name: string };
  try {
    tun = await configureTun(spec, { journal, exec: execArgv });
  } catch (err) {
    await journal.undoAll(undoEnv);
    throw err;
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const failures = await journal.undoAll(undoEnv);
    reply({ stopped: true, failures });
    process.exit(failures.length === 0 ? 0 : 1);
  };
  // Handlers go in before "ready" is printed: a caller may signal the moment it reads it.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  reply({ ready: true, name: tun.name, pid: process.pid });
  process.stdin.resume();
}

async function serve(
  journalPath: string,
  socketPath: string,
  uid: number,
  gid: number,
  resolvConf?: string,
): Promise<void> {
  const logger = pino({ name: 'devnet-helper' }, pino.destination(2));
  await mkdir(dirname(journalPath), { recursive: true, mode: 0o700 });
  const stale = await recover(journalPath, undoEnv, isOwnerAlive);
  if (stale.state === 'owner-alive') {
    throw new Error(`another devnet helper (pid ${stale.owner.pid}) is running; run \`devnet quit\` first`);
  }
  if (stale.state === 'undone')
    logger.info({ steps: stale.steps, failures: stale.failures }, 'undid a crashed session');
  const owner = { pid: process.pid, startTime: await processStartTime(process.pid), description: 'devnet helper' };
  const journal = await FileJournal.create(journalPath, owner);
  const server = await startHelperService({
    socketPath,
    uid,
    gid,
    journal,
    undoEnv,
    logger,
    ...(resolvConf ? { resolvConfPath: resolvConf } : {}),
    onDone: (failures) => {
      server.close();
      process.exit(failures === 0 ? 0 : 1);
    },
  });
  const stop = () => {
    journal.undoAll(undoEnv).then((f) => process.exit(f.length === 0 ? 0 : 1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  reply({ ready: true, pid: process.pid });
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      journal: { type: 'string' },
      spec: { type: 'string' },
      socket: { type: 'string' },
      uid: { type: 'string' },
      gid: { type: 'string' },
      'resolv-conf': { type: 'string' },
    },
  });
  const verb = positionals[0];
  if (!values.journal) throw new Error('--journal FILE is required');
  if (verb === 'configure') {
    if (!values.spec) throw new Error('--spec JSON is required');
    await configure(values.journal, values.spec);
  } else if (verb === 'serve') {
    if (!values.socket || values.uid === undefined) throw new Error('--socket PATH and --uid U are required');
    const uid = Number(values.uid);
    await serve(values.journal, values.socket, uid, Number(values.gid ?? uid), values['resolv-conf']);
  } else if (verb === 'recover') {
    reply(await recover(values.journal, undoEnv, isOwnerAlive));
  } else {
    throw new Error(`unknown helper command ${verb ?? '(none)'}; use configure or recover`);
  }
}

main().catch((err) => {
  const e = asDevnetError(err);
  reply({ error: e.toJSON() });
  process.exit(1);
});
