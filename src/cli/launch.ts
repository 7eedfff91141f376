// Starting devnet's two background processes for `connect`, and repairing
// what a crashed session left behind. Runs in the CLI as root: the helper
// stays root; the daemon drops to the user who ran sudo. Root never follows
// a path in the user's folder (src/control/owned-files.linux.ts): the
// folder, the daemon's log and the daemon's socket are each checked on a
// descriptor, not by name.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DAEMON_PROTOCOL, type DaemonProtocol } from '../control/daemon-protocol.ts';
import {
  checkRootControlled,
  ensureRootDir,
  ensureUserDir,
  openUserLog,
  userSocket,
} from '../control/owned-files.linux.ts';
import { type DevnetPaths, devnetPaths } from '../control/paths.ts';
import { ControlClient } from '../control/transport.ts';
import { DevnetError } from '../errors.ts';
import { isOwnerAlive } from '../helper/process.linux.ts';
import { recover } from '../journal/journal.ts';
import { machineUndoEnv as undoEnv } from '../journal/machine.ts';
import { DATA_PATH_V8_FLAGS } from '../runtime-flags.ts';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** EXT is the code's extension: .ts in a checkout, .js in a built package (dist/ has no .ts to spawn). */
const EXT = extname(fileURLToPath(import.meta.url));

/** Invoker is the user devnet acts for: the sudo caller, or whoever runs it. */
export interface Invoker {
  uid: number;
  gid: number;
  home: string;
}

/** invoker reads SUDO_UID/SUDO_GID (set by sudo) or the process's own ids. */
export function invoker(env: NodeJS.ProcessEnv = process.env): Invoker {
  const uid = env.SUDO_UID ? Number(env.SUDO_UID) : (process.getuid?.() ?? 0);
  const gid = env.SUDO_GID ? Number(env.SUDO_GID) : (process.getgid?.() ?? 0);
  let home = env.HOME ?? '/root';
  if (env.SUDO_UID) {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    home = line?.split(':')[5] ?? home;
  }
  return { uid, gid, home };
}

/** isRoot reports whether this process may change the network. */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** pathsFor returns the session paths of the invoking user. */
export function pathsFor(who: Invoker = invoker()): DevnetPaths {
  return devnetPaths(who.uid);
}

/** repairStale undoes what a crashed session left (root only); it returns a note for the user, or undefined. */
export async function repairStale(paths: DevnetPaths): Promise<string | undefined> {
  if (!isRoot() || !existsSync(paths.helperJournal)) return undefined;
  checkRootControlled(paths.stateDir, "devnet's state folder");
  const r = await recover(paths.helperJournal, undoEnv, isOwnerAlive);
  if (r.state !== 'undone') return undefined;
  if (r.failures.length > 0) {
    return `devnet found changes left by a crashed session and could not undo all of them: ${r.failures.map((f) => f.error).join('; ')}`;
  }
  return r.steps > 0 ? `devnet undid ${r.steps} network change(s) left by a crashed session` : undefined;
}

const NOT_CONNECTED = 'devnet is not connected';

/**
 * connectDaemon opens the control connection to a running daemon. As root
 * on behalf of another user, it connects only to a socket that user owns,
 * reached without following a symlink.
 */
export async function connectDaemon(
  paths: DevnetPaths,
  who: Invoker = invoker(),
): Promise<ControlClient<DaemonProtocol>> {
  const notRunning = NOT_CONNECTED;
  const hint = 'Run `sudo devnet connect`.';
  if (!isRoot() || who.uid === 0) return ControlClient.connect(DAEMON_PROTOCOL, paths.daemonSocket, notRunning, hint);
  let target: ReturnType<typeof userSocket>;
  try {
    target = userSocket(paths.daemonSocket, who.uid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DevnetError('user', notRunning, { hint });
    throw err;
  }
  return ControlClient.connect(DAEMON_PROTOCOL, target, notRunning, hint);
}

/** daemonIfRunning is connectDaemon, or undefined when no daemon runs; a refused socket is still an error. */
export function daemonIfRunning(
  paths: DevnetPaths,
  who: Invoker = invoker(),
): Promise<ControlClient<DaemonProtocol> | undefined> {
  return connectDaemon(paths, who).catch((err: unknown) => {
    if (err instanceof DevnetError && err.message === NOT_CONNECTED) return undefined;
    throw err;
  });
}

async function startProcess(
  argv: string[],
  log: string | number,
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; nodeFlags?: readonly string[] },
) {
  const out = typeof log === 'number' ? log : openUserLog(log, 0, 0);
  try {
    return await spawnReady(argv, out, typeof log === 'number' ? 'the daemon log' : log, opts);
  } finally {
    closeSync(out);
  }
}

async function spawnReady(
  argv: string[],
  out: number,
  log: string,
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; nodeFlags?: readonly string[] },
) {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...argv], {
    detached: true,
    stdio: ['ignore', 'pipe', out],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    env: opts.env ?? process.env,
  });
  const line = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', res);
    child.once('exit', (code) => rej(new DevnetError('internal', `${argv[0]} exited with code ${code}; see ${log}`)));
    setTimeout(
      () => rej(new DevnetError('internal', `${argv[0]} did not start within 15 s; see ${log}`)),
      15_000,
    ).unref();
  });
  child.stdout?.destroy();
  child.unref();
  const msg = JSON.parse(line) as { ready?: boolean; error?: unknown };
  if (!msg.ready) throw DevnetError.fromJSON(msg.error);
  return child.pid as number;
}

/** LaunchOptions are what the user said on the command line that the helper, not the daemon, must know. */
export interface LaunchOptions {
  /** allowConflicts are the user's --allow-conflict CIDRs: the helper allows only these overlaps. */
  allowConflicts: string[];
}

/** helperArgv is the root helper's command line for a user's session (the helper trusts it: only root gives it). */
export function helperArgv(who: Invoker, paths: DevnetPaths, opts: LaunchOptions): string[] {
  return [
    join(SRC, `helper/main${EXT}`),
    'serve',
    '--journal',
    paths.helperJournal,
    '--socket',
    paths.helperSocket,
    '--uid',
    String(who.uid),
    '--gid',
    String(who.gid),
    '--user-dir',
    paths.userDir,
    '--policy',
    paths.policyFile,
    ...opts.allowConflicts.flatMap((c) => ['--allow-conflict', c]),
  ];
}

/** launchSession starts the root helper and the user daemon and returns a client to the daemon. */
export async function launchSession(
  who: Invoker,
  paths: DevnetPaths,
  env: NodeJS.ProcessEnv,
  opts: LaunchOptions,
): Promise<ControlClient<DaemonProtocol>> {
  ensureRootDir(paths.runDir, 0o755, "devnet's run folder");
  ensureRootDir(paths.stateDir, 0o700, "devnet's state folder");
  ensureUserDir(paths.userDir, who.uid, who.gid);
  const daemonLog = openUserLog(paths.daemonLog, who.uid, who.gid);
  const daemonEnv = { ...env, HOME: who.home };
  // Both start at once (each is a Node startup); the daemon waits for the helper's socket.
  await Promise.all([
    startProcess(helperArgv(who, paths, opts), paths.helperLog, {}),
    startProcess(
      [
        join(SRC, `daemon/main${EXT}`),
        '--socket',
        paths.daemonSocket,
        '--helper',
        paths.helperSocket,
        '--fd-socket',
        paths.tunFdSocket,
      ],
      daemonLog,
      {
        ...(who.uid === (process.getuid?.() ?? 0) ? {} : { uid: who.uid, gid: who.gid }),
        env: daemonEnv,
        nodeFlags: DATA_PATH_V8_FLAGS,
      },
    ),
  ]);
  return connectDaemon(paths, who);
}
