// Where the sandbox keeps its files, and the name prefix of what it makes in
// the kernel. Environment variables override the defaults so tests (and a
// second sandbox) can run beside a developer's own.
import { join } from 'node:path';
import { API_PORT, DEFAULT_PREFIX } from './constants.ts';

/** SandboxPaths locates one sandbox's state, runtime files and kernel object names. */
export interface SandboxPaths {
  /** stateDir keeps what should survive a reboot: CA, tokens, stored objects, kubeconfig. */
  stateDir: string;
  /** runDir keeps what a reboot erases anyway: journal, pid file, logs, sockets. */
  runDir: string;
  /** prefix starts every network namespace name the sandbox creates. */
  prefix: string;
  /** port is the API server's port on 127.0.0.1. */
  port: number;
  /** imageDir holds the staged gateway image (image.ts): outside stateDir and runDir, which only root may enter. */
  imageDir: string;
}

/** sandboxPaths reads DEVNET_SANDBOX_STATE, DEVNET_SANDBOX_RUN, DEVNET_SANDBOX_PREFIX, DEVNET_SANDBOX_PORT and DEVNET_SANDBOX_IMAGE. */
export function sandboxPaths(env: NodeJS.ProcessEnv = process.env): SandboxPaths {
  const prefix = env.DEVNET_SANDBOX_PREFIX || DEFAULT_PREFIX;
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(prefix)) {
    throw new Error(`DEVNET_SANDBOX_PREFIX must be 1-20 lowercase letters, digits or dashes, got "${prefix}"`);
  }
  const port = Number(env.DEVNET_SANDBOX_PORT || API_PORT);
  return {
    stateDir: env.DEVNET_SANDBOX_STATE || '/var/lib/devnet-sandbox',
    runDir: env.DEVNET_SANDBOX_RUN || '/run/devnet-sandbox',
    prefix,
    port,
    imageDir: env.DEVNET_SANDBOX_IMAGE || join('/var/lib/devnet-sandbox-image', prefix),
  };
}

/** runFile names a file in the run dir. */
export function runFile(p: SandboxPaths, name: string): string {
  return join(p.runDir, name);
}

/** podRunDir is where a pod's runtime files live; the API server dials `portforward.sock` there. */
export function podRunDir(p: SandboxPaths, namespace: string, pod: string): string {
  return join(p.runDir, 'pods', namespace, pod);
}

/** volumesDir holds the directories of provisioned PersistentVolumes (state: they outlive pods and reboots). */
export function volumesDir(p: SandboxPaths): string {
  return join(p.stateDir, 'volumes');
}

/** podVolumesDir holds a pod's own volumes (emptyDir, rendered ConfigMaps, Secrets, downward API). */
export function podVolumesDir(p: SandboxPaths, uid: string): string {
  return join(p.stateDir, 'pods', uid);
}

/** nodeNetns is the node network namespace's name. */
export function nodeNetns(p: SandboxPaths): string {
  return `${p.prefix}-node`;
}

/** podNetns names a pod's network namespace from its UID (unique even when a name is reused). */
export function podNetns(p: SandboxPaths, uid: string): string {
  return `${p.prefix}-pod-${uid.replace(/-/g, '').slice(0, 12)}`;
}
