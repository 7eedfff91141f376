// DnsSession, the composition the daemon wires: real server on loopback, the
// cluster DNS stand-in, and real configurators on a temp directory.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { DnsForwarder } from '../src/dns/forwarder.ts';
import { encodeQuery } from '../src/dns/message.ts';
import { execProgram, nodeFileSystem } from '../src/dns/os/index.ts';
import { MacResolverConfigurator } from '../src/dns/os/macos.ts';
import { ResolvConfConfigurator } from '../src/dns/os/resolvconf.ts';
import { DnsSession } from '../src/dns/session.ts';
import { ClusterZone, serveZone } from '../src/dns/zone.ts';
import type { UndoJournal, UndoStep } from '../src/journal/journal.ts';
import { demoSnapshot } from './dns-support/fixture.ts';

const logger = pino({ level: 'silent' });

function journal(): UndoJournal & { steps: UndoStep[] } {
  const steps: UndoStep[] = [];
  return { steps, record: async (s) => void steps.push(s) };
}

test('a session routes each Service, follows new Services, reports status, and removes everything on close', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'devnet-dns-session-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const zone = await serveZone(new ClusterZone(demoSnapshot()), { address: '127.0.0.1', port: 0 });
  t.teardown(() => zone.close());
  const deps = { fs: nodeFileSystem, exec: execProgram, journal: journal(), logger };
  const session = await DnsSession.start({
    logger,
    snapshot: demoSnapshot(),
    cluster: new DnsForwarder({ servers: [zone.endpoint] }),
    listen: [{ address: '127.0.0.1', port: 0 }],
    configurator: new MacResolverConfigurator(deps, dir),
    reason: 'test',
  });
  const files = await readdir(dir);
  t.true(files.includes('hello.demo'));
  t.true(files.includes('cluster.local'));
  t.false(files.includes('dev'));
  const server = session.status().servers[0];
  t.regex(await readFile(join(dir, 'hello.demo'), 'utf8'), new RegExp(`port ${server?.port}`));

  const next = demoSnapshot();
  next.services.push({ name: 'new', namespace: 'other', type: 'ClusterIP', clusterIPs: ['10.96.0.99'], ports: [] });
  await session.setSnapshot(next);
  t.true((await readdir(dir)).includes('new.other'));

  // The server answers through the session.
  const answer = await new DnsForwarder({ servers: [server as { address: string; port: number }] }).query(
    encodeQuery(1, 'hello.demo', 1, 1),
  );
  t.is((answer[3] as number) & 0xf, 0);
  const st = session.status();
  t.is(st.mode, 'macos');
  t.true(st.clusterReachable);
  t.is(st.stats.clusterQueries, 1);
  session.setCluster(undefined);
  t.false(session.status().clusterReachable);

  await session.close();
  t.deepEqual(await readdir(dir), []);
});

test('a session that cannot install its config leaves nothing changed and nothing listening', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'devnet-dns-session-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'resolv.conf');
  await writeFile(path, 'nameserver 192.0.2.53\n');
  const deps = { fs: nodeFileSystem, exec: execProgram, journal: journal(), logger };
  // resolv.conf cannot name a port other than 53: setDNS fails after the server started.
  await t.throwsAsync(
    DnsSession.start({
      logger,
      snapshot: demoSnapshot(),
      listen: [{ address: '127.0.0.1', port: 0 }],
      configurator: new ResolvConfConfigurator(deps, path),
    }),
    { message: /port/ },
  );
  t.is(await readFile(path, 'utf8'), 'nameserver 192.0.2.53\n');
});
