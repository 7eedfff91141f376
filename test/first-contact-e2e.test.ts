// What a new user meets first, end to end through the real CLI on a
// "laptop" namespace (test/support/e2e.ts): a KUBECONFIG list like kubectl's
// for connect and the gateway verbs, an API server that is down, and
// `devnet gather-logs` for the bug report, with no secret in it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { E2E, run } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('fc');

test.before(async () => {
  if (isRoot) await e.start();
});

test.after.always(async () => {
  if (isRoot) await e.cleanup();
});

rootTest(
  'KUBECONFIG=empty:other:config connect --context … connects, and gateway status reads the same list',
  async (t) => {
    const empty = join(e.dir, 'empty.yaml');
    const other = join(e.dir, 'other.yaml');
    writeFileSync(empty, '');
    writeFileSync(
      other,
      `apiVersion: v1
kind: Config
current-context: elsewhere
clusters: [{name: elsewhere, cluster: {server: "https://192.0.2.1:6443"}}]
users: [{name: someone, user: {token: not-this-one}}]
contexts: [{name: elsewhere, context: {cluster: elsewhere, user: someone}}]
`,
    );
    const list = [empty, other, join(e.dir, 'missing.yaml'), e.laptopEnv.KUBECONFIG as string].join(':');
    const saved = e.laptopEnv.KUBECONFIG as string;
    e.laptopEnv.KUBECONFIG = list;
    t.teardown(async () => {
      e.laptopEnv.KUBECONFIG = saved;
      await e.devnet('quit');
    });
    const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'resolvconf');
    t.is(c.code, 0, `${c.stdout}${c.stderr}`);
    t.regex(c.stdout, /^Connected\s+yes$/m);
    t.regex(c.stdout, new RegExp(`^Context\\s+${e.context} `, 'm'));
    const hello = await e.onLaptop('curl', ['-s', '--max-time', '5', 'http://hello.demo']);
    t.regex(hello.stdout, /^hello from hello-/, hello.stderr);
    const gw = await e.devnet('gateway', 'status', '--context', e.context);
    t.is(gw.code, 0, gw.stderr);
    t.regex(gw.stdout, /^Gateway \S+ in namespace devnet/);

    // The bug-report archive, while connected: everything is there, and no credential is.
    const archive = join(e.dir, 'report.tar.gz');
    const g = await e.devnet('gather-logs', '-o', archive);
    t.is(g.code, 0, g.stderr);
    const out = join(e.dir, 'report');
    mkdirSync(out);
    t.is((await run('tar', ['xzf', archive, '-C', out], process.env)).code, 0);
    const files = (await run('find', [out, '-type', 'f'], process.env)).stdout;
    for (const f of [
      'helper.log',
      'daemon.log',
      'status.json',
      'routes.txt',
      'dns.txt',
      'versions.txt',
      'kubeconfig.yaml',
    ]) {
      t.true(files.includes(`/devnet-logs/${f}`), f);
    }
    t.regex(files, /\/devnet-logs\/gateway\/devnet-gateway-\S+\.log/);
    const text = (await run('sh', ['-c', `cat "${out}"/devnet-logs/*.* "${out}"/devnet-logs/gateway/*`], process.env))
      .stdout;
    t.true(JSON.parse(readFileSync(join(out, 'devnet-logs/status.json'), 'utf8')).connected);
    const [serviceCidr] = await e.serviceCidrs();
    t.true(text.includes(`${serviceCidr} dev devnet0`), `the routes (${serviceCidr})`);
    t.regex(text, /nameserver 198\.18\.0\.2/, 'the DNS configuration');
    // The secrets in play: every kubeconfig user's token, and the gateway's session token.
    // Tokens, and for certificate users the key data and each line of the decoded key's body.
    const kubeconfig = parse(readFileSync(saved, 'utf8')) as {
      users: { user: { token?: string; 'client-key-data'?: string } }[];
    };
    const secrets: string[] = [];
    for (const { user } of kubeconfig.users) {
      if (user.token) secrets.push(user.token);
      const key = user['client-key-data'];
      if (key) {
        secrets.push(key);
        const body = Buffer.from(key, 'base64').toString('utf8').split('\n');
        secrets.push(...body.filter((l) => l.length > 20 && !l.startsWith('-----')));
      }
    }
    secrets.push(
      Buffer.from(
        await e.kubectl('get', 'secret', '-n', 'devnet', 'devnet-gateway-token', '-o', 'jsonpath={.data.token}'),
        'base64',
      ).toString('utf8'),
    );
    t.true(secrets.length >= 2 && secrets.every((s) => s.length > 8));
    for (const s of secrets) {
      const grep = await run('grep', ['-rlF', s, out], process.env);
      t.is(grep.stdout, '', `a token is in ${grep.stdout}`);
    }
    const keys = await run('grep', ['-rlE', 'PRIVATE KEY-----[[:space:]]*[A-Za-z0-9+/]', out], process.env);
    t.is(keys.stdout, '', 'no private key');
  },
);

rootTest(
  'an API server that is down: its URL and "connection refused" in one message, what to check, no trace',
  async (t) => {
    // A port on the laptop's loopback where nothing listens: the API server, stopped.
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const stopped = join(e.dir, 'stopped.yaml');
    writeFileSync(
      stopped,
      `apiVersion: v1
kind: Config
current-context: stopped
clusters: [{name: stopped, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: me, user: {token: t0ken}}]
contexts: [{name: stopped, context: {cluster: stopped, user: me}}]
`,
    );
    const started = Date.now();
    const c = await e.devnet('connect', '--kubeconfig', stopped);
    const seconds = (Date.now() - started) / 1000;
    t.log(`connect to a stopped API server failed after ${seconds.toFixed(1)} s`);
    t.is(c.code, 4, c.stdout);
    t.regex(
      c.stderr,
      new RegExp(
        `^devnet: cannot reach the API server https://127\\.0\\.0\\.1:${port} \\(context "stopped"\\): connection refused\\n`,
        'm',
      ),
    );
    t.regex(c.stderr, /is the cluster running.*kubectl cluster-info/);
    t.notRegex(c.stderr, /^\s+at /m);
    t.regex((await e.devnet('status')).stdout, /Not connected/, 'nothing left running');
  },
);
