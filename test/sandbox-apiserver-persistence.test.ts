// Objects, tokens, the CA and resourceVersions survive an API server
// restart; watches from before a restart resume, or get 410 Expired and the
// informer relists.
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, makeInformer, Watch } from '@kubernetes/client-node';
import test from 'ava';
import { ObjectStore } from '../src/sandbox/apiserver/store.ts';
import { startTestCluster } from './sandbox-apiserver-support.ts';

async function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test.serial('objects, tokens and the CA survive a restart; resourceVersions keep increasing', async (t) => {
  const cluster = await startTestCluster();
  t.teardown(() => cluster.close());
  const core = () => cluster.kc().makeApiClient(CoreV1Api);
  const before = { ca: cluster.server.caCertPem, tokens: cluster.server.tokens };
  await core().createNamespace({ body: { metadata: { name: 'keep' } } });
  const cm = await core().createNamespacedConfigMap({
    namespace: 'keep',
    body: { metadata: { name: 'c' }, data: { k: 'v' } },
  });
  const svc = await core().createNamespacedService({
    namespace: 'keep',
    body: { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } },
  });
  await core().deleteNamespacedConfigMap({ name: 'c', namespace: 'keep' });
  await core().createNamespacedConfigMap({ namespace: 'keep', body: { metadata: { name: 'c2' } } });
  const rvBefore = Number((await core().listNamespacedConfigMap({ namespace: 'keep' })).metadata?.resourceVersion);

  await cluster.restart();
  t.is(cluster.server.caCertPem, before.ca);
  t.deepEqual(cluster.server.tokens, before.tokens);
  const list = await core().listNamespacedConfigMap({ namespace: 'keep' });
  t.deepEqual(
    list.items.map((c) => c.metadata?.name),
    ['c2'],
  );
  t.is(Number(list.metadata?.resourceVersion), rvBefore);
  const s = await core().readNamespacedService({ name: 's', namespace: 'keep' });
  t.is(s.spec?.clusterIP, svc.spec?.clusterIP);
  t.is(s.metadata?.uid, svc.metadata?.uid);
  const next = await core().createNamespacedConfigMap({ namespace: 'keep', body: { metadata: { name: 'c3' } } });
  t.true(Number(next.metadata?.resourceVersion) > rvBefore);
  t.true(Number(next.metadata?.resourceVersion) > Number(cm.metadata?.resourceVersion));
});

test.serial('a watch from before a restart resumes from the journal', async (t) => {
  const cluster = await startTestCluster();
  t.teardown(() => cluster.close());
  const core = () => cluster.kc().makeApiClient(CoreV1Api);
  await core().createNamespace({ body: { metadata: { name: 'resume' } } });
  const a = await core().createNamespacedConfigMap({ namespace: 'resume', body: { metadata: { name: 'a' } } });
  await core().createNamespacedConfigMap({ namespace: 'resume', body: { metadata: { name: 'b' } } });
  await cluster.restart();
  const events: string[] = [];
  const ctrl = await new Watch(cluster.kc()).watch(
    '/api/v1/namespaces/resume/configmaps',
    { resourceVersion: a.metadata!.resourceVersion! },
    (type, obj) => events.push(`${type} ${obj.metadata?.name}`),
    () => {},
  );
  await core().deleteNamespacedConfigMap({ name: 'a', namespace: 'resume' });
  await until(() => events.length >= 2, 'b ADDED (from before the restart) and a DELETED');
  ctrl.abort();
  t.deepEqual(events, ['ADDED b', 'DELETED a']);
});

test.serial(
  'a watch from a compacted revision gets 200 then one 410 Expired ERROR event; informers relist',
  async (t) => {
    const cluster = await startTestCluster();
    t.teardown(() => cluster.close());
    const core = () => cluster.kc().makeApiClient(CoreV1Api);
    await core().createNamespace({ body: { metadata: { name: 'old' } } });
    const first = await core().createNamespacedConfigMap({ namespace: 'old', body: { metadata: { name: 'first' } } });
    // Compact: a snapshot at the current revision empties the journal, so after
    // a restart nothing older than the snapshot can be replayed.
    await cluster.server.close();
    const store = ObjectStore.open(cluster.stateDir);
    store.compact();
    store.close();
    await cluster.restart();
    await core().createNamespacedConfigMap({ namespace: 'old', body: { metadata: { name: 'second' } } });

    const seen: { type: string; obj: { code?: number; reason?: string; kind?: string } }[] = [];
    let done: unknown = 'open';
    await new Watch(cluster.kc()).watch(
      '/api/v1/namespaces/old/configmaps',
      { resourceVersion: String(Number(first.metadata!.resourceVersion) - 1) },
      (type, obj) => seen.push({ type, obj }),
      (err) => {
        done = err ?? null;
      },
    );
    await until(() => done !== 'open', 'the expired watch to end');
    t.is(seen.length, 1);
    t.is(seen[0]?.type, 'ERROR');
    t.is(seen[0]?.obj.kind, 'Status');
    t.is(seen[0]?.obj.code, 410);
    t.is(seen[0]?.obj.reason, 'Expired');

    // An informer started from a stale list relists on 410 and converges.
    let lists = 0;
    const informer = makeInformer(cluster.kc(), '/api/v1/namespaces/old/configmaps', async () => {
      lists++;
      if (lists === 1)
        return { apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '1' }, items: [] };
      return core().listNamespacedConfigMap({ namespace: 'old' });
    });
    const names = new Set<string>();
    informer.on('add', (c) => names.add(c.metadata!.name!));
    informer.on('error', () => {});
    await informer.start();
    await until(() => informer.list().length >= 2, 'the informer to relist after 410');
    await informer.stop();
    t.true(lists >= 2, 'the informer listed again');
    t.deepEqual(
      informer
        .list()
        .map((c) => c.metadata?.name)
        .sort(),
      ['first', 'second'],
    );
  },
);

test.serial('a torn journal tail (crash mid-append) is cut off at start', async (t) => {
  const cluster = await startTestCluster();
  t.teardown(() => cluster.close());
  const core = () => cluster.kc().makeApiClient(CoreV1Api);
  await core().createNamespace({ body: { metadata: { name: 'torn' } } });
  await cluster.server.close();
  const journal = join(cluster.stateDir, 'store', 'journal.log');
  const good = statSync(journal).size;
  appendFileSync(journal, '{"rv":99999,"op":"put","k":"/configmaps","o":{"metadata":{"na');
  await cluster.restart();
  t.is(statSync(journal).size, good);
  t.true(readFileSync(journal, 'utf8').endsWith('\n'));
  t.is((await core().readNamespace({ name: 'torn' })).metadata?.name, 'torn');
  await core().createNamespacedConfigMap({ namespace: 'torn', body: { metadata: { name: 'after' } } });
  t.is((await core().listNamespacedConfigMap({ namespace: 'torn' })).items.length, 1);
});

test.serial('an informer reconnects across a server restart and sees changes made after it', async (t) => {
  const cluster = await startTestCluster();
  t.teardown(() => cluster.close());
  const core = () => cluster.kc().makeApiClient(CoreV1Api);
  await core().createNamespace({ body: { metadata: { name: 'inf' } } });
  await core().createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'before' } } });
  const kc = cluster.kc();
  const informer = makeInformer(kc, '/api/v1/namespaces/inf/configmaps', () =>
    kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'inf' }),
  );
  const added: string[] = [];
  informer.on('add', (c) => added.push(c.metadata!.name!));
  // client-node's informer stops on errors other than 410: restart it, as
  // k8s-wire-facts.md tells devnet's own code to do.
  let stopped = false;
  informer.on('error', () => {
    if (!stopped) setTimeout(() => void informer.start().catch(() => {}), 200);
  });
  await informer.start();
  await until(() => added.includes('before'), 'the initial list');
  await cluster.restart();
  await core().createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'after' } } });
  await until(() => added.includes('after'), 'the informer to see a change made after the restart', 15_000);
  stopped = true;
  await informer.stop();
  t.deepEqual(
    informer
      .list()
      .map((c) => c.metadata?.name)
      .sort(),
    ['after', 'before'],
  );
});
