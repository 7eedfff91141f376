// The root helper's entry point. It is the only part of devnet that runs as
// root (ARCHITECTURE.md decision 14), and it only changes the machine's
// network configuration, journaling every change first.
//
//   helper configure --journal FILE --spec JSON   make the TUN, addresses and routes;
//                                                print {"ready":true,...}; undo all on
//                                                SIGTERM/SIGINT or when stdin closes
//   helper recover --journal FILE                 undo what a dead process left behind
//   helper serve --journal FILE --socket PATH --uid U --gid G --user-dir DIR
//                [--policy FILE] [--allow-conflict CIDR]...
//                                                serve a user daemon (service.ts); print
//                                                {"ready":true} once listening
//
// Only the root CLI starts the helper, so its arguments are trusted: they
// carry what the user typed after `sudo devnet connect` (--allow-conflict)
// and the paths root chose. The daemon never gets to say any of it.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { checkRootControlled } from '../control/owned-files.linux.ts';
import { TUN_FD_SOCKET } from '../control/paths.ts';
import { asDevnetError, DevnetError } from '../errors.ts';
import { FileJournal, recover } from '../journal/journal.ts';
import { machineUndoEnv as undoEnv } from '../journal/machine.ts';
import { execArgv } from './exec.ts';
import { configureTun, type TunSpec } from './network.linux.ts';
import { DEFAULT_POLICY, type HelperPolicy, parsePolicy } from './policy.ts';
import { isOwnerAlive, processStartTime } from './process.linux.ts';
import { startHelperService } from './service.ts';

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

/** ServeArgs are the helper's command line for `serve`. */
interface ServeArgs {
  journalPath: string;
  socketPath: string;
  uid: number;
  gid: number;
  userDir: string;
  policyPath: string;
  allowConflicts: string[];
  resolvConf: string | undefined;
}

// loadPolicy reads the administrator's policy: a missing file means the
// defaults; a file anyone but root could have written is refused.
function loadPolicy(path: string): HelperPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_POLICY;
    throw err;
  }
  checkRootControlled(path, 'the devnet policy');
  return parsePolicy(text, path);
}

async function serve(a: ServeArgs): Promise<void> {
  const { journalPath, socketPath, uid, gid } = a;
  const policy = loadPolicy(a.policyPath);
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
    fdSocket: join(a.userDir, TUN_FD_SOCKET),
    policy,
    policyPath: a.policyPath,
    allowConflicts: a.allowConflicts,
    journal,
    undoEnv,
    logger,
    ...(a.resolvConf ? { resolvConfPath: a.resolvConf } : {}),
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
      'user-dir': { type: 'string' },
      policy: { type: 'string' },
      'allow-conflict': { type: 'string', multiple: true },
    },
  });
  const verb = positionals[0];
  if (!values.journal) throw new Error('--journal FILE is required');
  if (verb === 'configure') {
    if (!values.spec) throw new Error('--spec JSON is required');
    await configure(values.journal, values.spec);
  } else if (verb === 'serve') {
    if (!values.socket || values.uid === undefined || !values['user-dir'])
      throw new DevnetError('internal', '--socket PATH, --uid U and --user-dir DIR are required');
    const uid = Number(values.uid);
    await serve({
      journalPath: values.journal,
      socketPath: values.socket,
      uid,
      gid: Number(values.gid ?? uid),
      userDir: values['user-dir'],
      policyPath: values.policy ?? '/etc/devnet/policy.json',
      allowConflicts: values['allow-conflict'] ?? [],
      resolvConf: values['resolv-conf'],
    });
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
