import type { V1Container, V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import { ConfigError } from './pod-env.ts';
import { confinedArgv, containerSecurity } from './security.ts';

const pod = (sc: object): V1Pod => ({ spec: { securityContext: sc, containers: [] } });
const c = (sc: object = {}): V1Container => ({ name: 'c', securityContext: sc });

test('the container securityContext overrides the pod one', (t) => {
  t.deepEqual(containerSecurity(pod({ runAsUser: 1000, runAsGroup: 1000 }), c({ runAsUser: 2000 })), {
    uid: 2000,
    gid: 1000,
  });
});

test('runAsNonRoot needs an explicit non-zero runAsUser', (t) => {
  t.throws(() => containerSecurity(pod({ runAsNonRoot: true }), c()), {
    instanceOf: ConfigError,
    message: /runAsNonRoot and image will run as root/,
  });
  t.throws(() => containerSecurity(pod({ runAsNonRoot: true, runAsUser: 0 }), c()), { instanceOf: ConfigError });
  t.notThrows(() => containerSecurity(pod({ runAsNonRoot: true, runAsUser: 65532 }), c()));
});

test('the gateway-style context runs the program unprivileged on a read-only root', (t) => {
  const sec = containerSecurity(
    pod({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 }),
    c({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }),
  );
  t.deepEqual(confinedArgv(['node', 'gw.ts'], sec), [
    'unshare',
    '--mount',
    '--propagation',
    'slave',
    'sh',
    '-c',
    'mount -o remount,bind,ro / && exec "$@"',
    'sh',
    'setpriv',
    '--reuid=65532',
    '--regid=65532',
    '--clear-groups',
    '--no-new-privs',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--',
    'node',
    'gw.ts',
  ]);
  t.deepEqual(confinedArgv(['node', 'x'], {}), ['node', 'x']);
});
