// A container's securityContext, enforced on the programs the sandbox runs
// (the parts a container runtime enforces and devnet's gateway relies on):
// runAsUser/runAsGroup (container over pod), runAsNonRoot (an image here
// runs as root unless told otherwise, so it needs an explicit non-zero
// runAsUser), allowPrivilegeEscalation: false (no_new_privs), dropped
// capabilities, and readOnlyRootFilesystem (the root mount re-mounted
// read-only in a mount namespace of the container's own). Built-in demo
// servers run inside the pod runner and are not confined.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ConfigError } from './pod-env.ts';

/** ContainerSecurity is what the runner enforces for one container. */
export interface ContainerSecurity {
  uid?: number;
  gid?: number;
  noNewPrivs?: boolean;
  dropAllCapabilities?: boolean;
  readOnlyRootFilesystem?: boolean;
}

/** containerSecurity merges the pod's and the container's securityContext; it throws ConfigError when runAsNonRoot cannot hold. */
export function containerSecurity(pod: V1Pod, c: V1Container): ContainerSecurity {
  const ps = pod.spec?.securityContext ?? {};
  const cs = c.securityContext ?? {};
  const uid = cs.runAsUser ?? ps.runAsUser;
  const gid = cs.runAsGroup ?? ps.runAsGroup;
  if ((cs.runAsNonRoot ?? ps.runAsNonRoot) && !uid) {
    throw new ConfigError(
      uid === 0
        ? "container's runAsUser breaks non-root policy"
        : 'container has runAsNonRoot and image will run as root (set runAsUser: images in the devnet sandbox run as root)',
    );
  }
  const sec: ContainerSecurity = {};
  if (uid !== undefined) sec.uid = uid;
  if (gid !== undefined) sec.gid = gid;
  if (cs.allowPrivilegeEscalation === false) sec.noNewPrivs = true;
  if (cs.capabilities?.drop?.includes('ALL')) sec.dropAllCapabilities = true;
  if (cs.readOnlyRootFilesystem) sec.readOnlyRootFilesystem = true;
  return sec;
}

/**
 * podViewArgv wraps a program so it starts with the pod's own
 * /etc/resolv.conf, bound afresh in a mount namespace of its own (util-linux
 * unshare). The runner's namespace got that bind from `ip netns exec` once,
 * but it does not last: when the host replaces its /etc/resolv.conf (rename,
 * as devnet connect, NetworkManager or resolvconf do), the kernel detaches
 * every mount on the old file in all namespaces, and the pod would see the
 * host's resolver from then on.
 */
export function podViewArgv(resolvConf: string, argv: string[]): string[] {
  return [
    'unshare',
    '--mount',
    '--propagation',
    'slave',
    'sh',
    '-c',
    // sh exports PWD; a command run in a container (kubectl exec) does not see one.
    'mount --bind "$1" /etc/resolv.conf && shift && unset PWD && exec "$@"',
    'sh',
    resolvConf,
    ...argv,
  ];
}

/** confinedArgv wraps a program's argv so it starts with its security settings applied (util-linux setpriv and unshare). */
export function confinedArgv(argv: string[], sec: ContainerSecurity): string[] {
  const priv: string[] = [];
  if (sec.uid !== undefined) priv.push(`--reuid=${sec.uid}`);
  if (sec.uid !== undefined || sec.gid !== undefined) priv.push(`--regid=${sec.gid ?? 0}`, '--clear-groups');
  if (sec.noNewPrivs) priv.push('--no-new-privs');
  if (sec.dropAllCapabilities) priv.push('--inh-caps=-all', '--bounding-set=-all');
  const inner = priv.length > 0 ? ['setpriv', ...priv, '--', ...argv] : argv;
  if (!sec.readOnlyRootFilesystem) return inner;
  return [
    'unshare',
    '--mount',
    '--propagation',
    'slave',
    'sh',
    '-c',
    'mount -o remount,bind,ro / && exec "$@"',
    'sh',
    ...inner,
  ];
}
