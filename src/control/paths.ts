// Where devnet keeps its sockets, journal, logs and policy. Overridable for
// tests (DEVNET_RUN_DIR, DEVNET_STATE_DIR, DEVNET_POLICY_FILE) so a test's
// devnet never meets a developer's. Root uses these paths only after
// checking that no unprivileged user controls them (owned-files.linux.ts
// `checkRootControlled`), so an override kept by a lax sudoers rule still
// cannot point root at the user's files.
import { join } from 'node:path';

/** DevnetPaths are the files of one machine's devnet session for one user. */
export interface DevnetPaths {
  /** runDir holds the helper's socket and one private folder per user. */
  runDir: string;
  /** userDir (mode 0700, owned by the user) holds the daemon's sockets and log. */
  userDir: string;
  daemonSocket: string;
  /** tunFdSocket is where the daemon receives the TUN descriptor from the helper (the helper's choice, not the daemon's). */
  tunFdSocket: string;
  helperSocket: string;
  daemonLog: string;
  helperLog: string;
  /** stateDir survives reboots' absence of /run: the helper's undo journal lives here. */
  stateDir: string;
  helperJournal: string;
  /** policyFile is the administrator's policy for the helper (src/helper/policy.ts); missing = the defaults. */
  policyFile: string;
}

/** TUN_FD_SOCKET is the name of the socket, in the user's folder, on which the daemon receives the TUN. */
export const TUN_FD_SOCKET = 'tun-fd.sock';

/** devnetPaths computes the paths for a user id. */
export function devnetPaths(uid: number, env: NodeJS.ProcessEnv = process.env): DevnetPaths {
  const runDir = env.DEVNET_RUN_DIR || '/run/devnet';
  const stateDir = env.DEVNET_STATE_DIR || '/var/lib/devnet';
  const userDir = join(runDir, `user-${uid}`);
  return {
    runDir,
    userDir,
    daemonSocket: join(userDir, 'daemon.sock'),
    tunFdSocket: join(userDir, TUN_FD_SOCKET),
    helperSocket: join(runDir, 'helper.sock'),
    daemonLog: join(userDir, 'daemon.log'),
    helperLog: join(runDir, 'helper.log'),
    stateDir,
    helperJournal: join(stateDir, 'helper.journal'),
    policyFile: env.DEVNET_POLICY_FILE || '/etc/devnet/policy.json',
  };
}
