// Where devnet keeps its sockets, journal and logs. Overridable for tests
// (DEVNET_RUN_DIR, DEVNET_STATE_DIR) so a test's devnet never meets a
// developer's.
import { join } from 'node:path';

/** DevnetPaths are the files of one machine's devnet session for one user. */
export interface DevnetPaths {
  /** runDir holds the helper's socket and one private folder per user. */
  runDir: string;
  /** userDir (mode 0700, owned by the user) holds the daemon's sockets and log. */
  userDir: string;
  daemonSocket: string;
  /** tunFdSocket is where the daemon receives the TUN descriptor from the helper. */
  tunFdSocket: string;
  helperSocket: string;
  daemonLog: string;
  helperLog: string;
  /** stateDir survives reboots' absence of /run: the helper's undo journal lives here. */
  stateDir: string;
  helperJournal: string;
}

/** devnetPaths computes the paths for a user id. */
export function devnetPaths(uid: number, env: NodeJS.ProcessEnv = process.env): DevnetPaths {
  const runDir = env.DEVNET_RUN_DIR || '/run/devnet';
  const stateDir = env.DEVNET_STATE_DIR || '/var/lib/devnet';
  const userDir = join(runDir, `user-${uid}`);
  return {
    runDir,
    userDir,
    daemonSocket: join(userDir, 'daemon.sock'),
    tunFdSocket: join(userDir, 'tun-fd.sock'),
    helperSocket: join(runDir, 'helper.sock'),
    daemonLog: join(userDir, 'daemon.log'),
    helperLog: join(runDir, 'helper.log'),
    stateDir,
    helperJournal: join(stateDir, 'helper.journal'),
  };
}
