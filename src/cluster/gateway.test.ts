import type { V1Pod } from '@kubernetes/client-node';
import test from 'ava';
import { podProblem, problemHint } from './gateway.ts';

function pod(status: V1Pod['status']): V1Pod {
  return { metadata: { name: 'devnet-gateway-1', namespace: 'devnet' }, status };
}

test('a crash loop is described by the last exit and the log tail, not by registries', (t) => {
  const p = pod({
    phase: 'Running',
    containerStatuses: [
      {
        name: 'gateway',
        image: 'ghcr.io/devnet-dev/gateway:0.1.0',
        imageID: '',
        ready: false,
        restartCount: 3,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 8s restarting failed container' } },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            message: "Error: Cannot find module '/app/src/gateway/main.ts'",
          } as never,
        },
      },
    ],
  });
  const problem = podProblem(p);
  t.is(problem?.kind, 'crash');
  t.is(
    problem?.message,
    "container gateway exited with code 1 (Error):\n    Error: Cannot find module '/app/src/gateway/main.ts'",
  );
  const hint = problemHint(problem as never, 'devnet', 'devnet-gateway-1');
  t.regex(hint, /kubectl logs -n devnet devnet-gateway-1 --previous/);
  t.notRegex(hint, /registry/);
});

test('an image pull failure still points at the registry', (t) => {
  const p = pod({
    phase: 'Pending',
    containerStatuses: [
      {
        name: 'gateway',
        image: 'example.com/gw:1',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } },
      },
    ],
  });
  const problem = podProblem(p);
  t.is(problem?.kind, 'image');
  t.regex(problemHint(problem as never, 'devnet', 'devnet-gateway-1'), /image pull secret/);
});

test('a pod that is still starting has no problem', (t) => {
  t.is(podProblem(pod({ phase: 'Pending', containerStatuses: [] })), undefined);
});

test("the kubelet's transient cache-sync timeout is waited out, a missing object is not", (t) => {
  const waiting = (message: string) =>
    pod({
      phase: 'Pending',
      containerStatuses: [
        {
          name: 'gateway',
          image: 'ghcr.io/devnet-dev/gateway:0.1.0',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'CreateContainerConfigError', message } },
        },
      ],
    });
  // A real kubelet says this while its watch on a just-created Secret catches up; it retries by itself.
  t.is(podProblem(waiting('failed to sync secret cache: timed out waiting for the condition')), undefined);
  t.is(podProblem(waiting('failed to sync configmap cache: timed out waiting for the condition')), undefined);
  t.is(podProblem(waiting('secret "devnet-gateway-token" not found'))?.kind, 'config');
});
