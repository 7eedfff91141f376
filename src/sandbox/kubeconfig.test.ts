import test from 'ava';
import { mergeKubeconfig, sandboxKubeconfig, unmergeKubeconfig } from './kubeconfig.ts';

const ours = sandboxKubeconfig({ url: 'https://127.0.0.1:16443', caCertPem: 'PEM', tokens: { admin: 'a', dev: 'd' } });

test('the standalone kubeconfig has the admin context current and the dev context in namespace dev', (t) => {
  t.is(ours['current-context'], 'devnet-sandbox');
  t.deepEqual(
    ours.contexts?.map((c) => c.name),
    ['devnet-sandbox', 'devnet-sandbox-dev'],
  );
  t.like(ours.contexts?.[1], { context: { namespace: 'dev', user: 'devnet-sandbox-dev' } });
});

test('merging keeps other contexts and the current context, replacing only ours', (t) => {
  const user = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'prod', cluster: { server: 'https://prod' } },
      { name: 'devnet-sandbox', cluster: { server: 'old' } },
    ],
    users: [{ name: 'me', user: {} }],
    contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'me' } }],
    'current-context': 'prod',
  };
  const merged = mergeKubeconfig(user, ours);
  t.is(merged['current-context'], 'prod');
  t.deepEqual(
    merged.clusters?.map((c) => c.name),
    ['prod', 'devnet-sandbox'],
  );
  t.like(merged.clusters?.[1], { cluster: { server: 'https://127.0.0.1:16443' } });
  t.deepEqual(
    merged.contexts?.map((c) => c.name),
    ['prod', 'devnet-sandbox', 'devnet-sandbox-dev'],
  );
  const back = unmergeKubeconfig(merged);
  t.deepEqual(
    back.contexts?.map((c) => c.name),
    ['prod'],
  );
  t.is(back['current-context'], 'prod');
});

test('merging into no kubeconfig makes ours current; unmerging clears it', (t) => {
  const merged = mergeKubeconfig(undefined, ours);
  t.is(merged['current-context'], 'devnet-sandbox');
  t.is(unmergeKubeconfig(merged)['current-context'], '');
});
