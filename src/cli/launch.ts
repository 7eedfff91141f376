// Starting devnet's two background processes for `connect`, and repairing
// what a crashed session left behind. Runs in the CLI as root: the helper
// stays root; the daemon drops to the user who ran sudo.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../daemon/control.ts';
import { type DevnetPaths, devnetPaths } from '../daemon/paths.ts';
import { DevnetError } from '../errors.ts';
import { recover } from '../helper/journal.ts';
import { isOwnerAlive } from '../helper/process.linux.ts';
import { undoEnv } from '../helper/undo-env.ts';

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
  const r = await recover(paths.helperJournal, undoEnv, isOwnerAlive);
  if (r.state !== 'undone') return undefined;
  if (r.failures.length > 0) {
    return `devnet found changes left by a crashed session and could not undo all of them: ${r.failures.map((f) => f.error).join('; ')}`;
  }
  return r.steps > 0 ? `devnet undid ${r.steps} network change(s) left by a crashed session` : undefined;
}

/** connectDaemon opens the control connection to a running daemon. */
export function connectDaemon(paths: DevnetPaths): Promise<ControlClient> {
  return ControlClient.connect(paths.daemonSocket, 'devnet is not connected', 'Run `sudo devnet connect`.');
}

async function startProcess(
  argv: string[],
  log: string,
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv },
) {
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, argv, {
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

/** launchSession starts the root helper and the user daemon and returns a client to the daemon. */
export async function launchSession(who: Invoker, paths: DevnetPaths, env: NodeJS.ProcessEnv): Promise<ControlClient> {
  mkdirSync(paths.runDir, { recursive: true, mode: 0o755 });
  mkdirSync(paths.userDir, { recursive: true, mode: 0o700 });
  chownSync(paths.userDir, who.uid, who.gid);
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  const daemonEnv = { ...env, HOME: who.home };
  // Both start at once (each is a Node startup); the daemon waits for the helper's socket.
  await Promise.all([
    startProcess(
      [
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
      ],
      paths.helperLog,
      {},
    ),
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
      paths.daemonLog,
      who.uid === (process.getuid?.() ?? 0) ? { env: daemonEnv } : { uid: who.uid, gid: who.gid, env: daemonEnv },
    ),
  ]);
  return connectDaemon(paths);
}
