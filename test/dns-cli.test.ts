// `devnet dns test` through the real CLI, against a saved snapshot.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { formatDnsStatus } from '../src/cli/dns.ts';
import { demoSnapshot } from './dns-support/fixture.ts';

const execFileP = promisify(execFile);
const bin = resolve(import.meta.dirname, '../bin/devnet.mjs');

async function devnet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [bin, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('devnet dns test explains cluster and system names from a snapshot', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'devnet-dns-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'snapshot.json');
  await writeFile(file, JSON.stringify(demoSnapshot()));
  const hello = await devnet('dns', 'test', 'hello.other', '--snapshot', file, '--mode', 'resolved');
  t.is(hello.code, 0, hello.stderr);
  t.regex(hello.stdout, /hello\.other is a cluster name/);
  t.regex(hello.stdout, /routing domain ~hello\.other/);
  const dev = await devnet('dns', 'test', 'example.dev', '--snapshot', file, '--mode', 'resolved', '--json');
  t.is(JSON.parse(dev.stdout).verdict, 'system');
  const bad = await devnet('dns', 'test', 'x', '--snapshot', join(dir, 'missing.json'));
  t.is(bad.code, 2);
  t.regex(bad.stderr, /cannot read the snapshot/);
});

test('devnet dns test without a session says how to connect', async (t) => {
  const r = await devnet('dns', 'test', 'hello');
  t.is(r.code, 2);
  t.regex(r.stderr, /not connected/);
  t.regex(r.stderr, /devnet connect/);
});

test('formatDnsStatus shows the mode, servers, upstreams and counters', (t) => {
  const text = formatDnsStatus({
    mode: 'resolvconf',
    reason: '/etc/resolv.conf is a plain file',
    servers: [{ address: '127.0.0.153', port: 53 }],
    upstreams: [{ address: '10.255.255.53', port: 53 }],
    searchDomains: ['demo.svc.cluster.local'],
    matchDomains: ['cluster.local'],
    clusterReachable: false,
    stats: {
      queries: 3,
      cacheHits: 1,
      clusterQueries: 1,
      coalesced: 0,
      forwarded: 1,
      malformed: 0,
      dropped: 0,
      servfail: 0,
    },
  });
  t.regex(text, /DNS mode: +resolvconf \(\/etc\/resolv\.conf is a plain file\)/);
  t.regex(text, /Upstreams: +10\.255\.255\.53:53/);
  t.regex(text, /tunnel down/);
});
