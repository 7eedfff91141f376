import type { CoreV1Api, V1Service } from '@kubernetes/client-node';
import test from 'ava';
import pino from 'pino';
import { type AgentConfig, InterceptAgent } from './agent.ts';
import { type Entry, withEntry } from './model.ts';

const config: AgentConfig = {
  namespace: 'demo',
  service: 'hello',
  pod: 'devnet-intercept-hello-1',
  original: 'devnet-orig-hello',
  ports: new Map([[8080, 80]]),
  gateway: { host: 'devnet-gateway.devnet.svc', port: 8302 },
  token: 't',
  sftpToken: '',
};

const entry = (renewed: string): Entry => ({
  name: 'alice',
  owner: 'alice',
  key: 'a'.repeat(43),
  host: 'a',
  session: 's',
  headers: {},
  ports: [{ servicePort: 80, targetPort: 8080, local: 9000 }],
  renewed,
});

/** fakeCluster serves one Service (or a read error) to the agent, and a clock the test moves. */
function fakeCluster() {
  const state = {
    now: 0,
    svc: withEntry(
      { metadata: { name: 'hello', namespace: 'demo' }, spec: { selector: { app: 'hello' } } },
      entry('1'),
    ),
    fail: false,
  };
  const core = {
    readNamespacedService: async () => {
      if (state.fail) throw new Error('connection refused');
      return structuredClone(state.svc) as V1Service;
    },
  } as unknown as CoreV1Api;
  const agent = new InterceptAgent(config, core, pino({ level: 'silent' }), () => state.now);
  return { state, agent };
}

test('leases reports how long each lease stood still by the pod’s own clock, re-reading the Service each time', async (t) => {
  const { state, agent } = fakeCluster();
  t.deepEqual(await agent.leases(), { leases: [{ name: 'alice', renewed: '1', unchangedMs: 0 }] });
  state.now = 14_000;
  t.deepEqual(await agent.leases(), { leases: [{ name: 'alice', renewed: '1', unchangedMs: 14_000 }] });
  state.svc = withEntry(state.svc, entry('2'));
  state.now = 20_000;
  t.deepEqual(await agent.leases(), { leases: [{ name: 'alice', renewed: '2', unchangedMs: 0 }] }, 'renewed');
  state.now = 40_000;
  t.deepEqual(await agent.leases(), { leases: [{ name: 'alice', renewed: '2', unchangedMs: 20_000 }] });
});

test('leases fails when the Service cannot be read now, rather than answer from an old read', async (t) => {
  const { state, agent } = fakeCluster();
  await agent.leases();
  state.fail = true;
  state.now = 30_000;
  await t.throwsAsync(agent.leases(), { message: /could not be read/ });
});
