// `devnet connect` end to end through the real CLI, against a sandbox of its
// own (dnt-<pid>-cx prefix, temporary dirs). The "laptop" is a network
// namespace with its own /etc/resolv.conf (ip netns exec bind-mounts
// /etc/netns/NAME/resolv.conf) and a fake internet DNS server, so nothing of
// the host's network or resolver is touched. The laptop reaches the sandbox's
// API server on its own 127.0.0.1 through a unix-socket relay (socat), as a
// real laptop reaches a remote API server.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { deleteAllNetns, Netns } from './support/netns.ts';
import { isRoot, rootTest } from './support/root.ts';
import { run } from './support/run.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'devnet-cx-'));
const ORIGINAL_RESOLV = '# the laptop before devnet\nnameserver 192.0.2.53\nsearch corp.example\n';
let sandboxEnv: NodeJS.ProcessEnv = {};
let laptopEnv: NodeJS.ProcessEnv = {};
let laptop: Netns | undefined;
let laptop2: Netns | undefined;
let laptop2Env: NodeJS.ProcessEnv = {};
let apiPort = 0;
const children: ChildProcess[] = [];
let laptopBefore: Record<string, string> = {};

const bin = join(root, 'bin/devnet.mjs');
const sandbox = (...args: string[]) => run(process.execPath, [bin, 'sandbox', ...args], sandboxEnv);
const kubectl = async (...args: string[]) =>
  (await run('kubectl', ['--context', 'devnet-sandbox', ...args], sandboxEnv)).stdout.trim();
/** onLaptop runs a command inside the laptop namespace. */
const onLaptop = (cmd: string, args: string[], timeout?: number) =>
  run('ip', ['netns', 'exec', (laptop as Netns).name, cmd, ...args], laptopEnv, timeout);
const devnet = (...args: string[]) => onLaptop(process.execPath, [bin, ...args], 90_000);
const onLaptop2 = (cmd: string, args: string[], timeout?: number) =>
  run('ip', ['netns', 'exec', (laptop2 as Netns).name, cmd, ...args], laptop2Env, timeout);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function background(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

async function laptopSnapshot(): Promise<Record<string, string>> {
  const ns = laptop as Netns;
  return {
    links: (await ns.ip('-o', 'link'))
      .split('\n')
      .map((l) => l.split(/\s+link\//)[0])
      .join('\n'),
    routes: await ns.ip('route', 'show', 'table', 'all'),
    rules: await ns.ip('rule'),
    resolv: readFileSync(`/etc/netns/${ns.name}/resolv.conf`, 'utf8'),
  };
}

test.before(async () => {
  if (!isRoot) return;
  const port = await freePort();
  apiPort = port;
  sandboxEnv = {
    ...process.env,
    DEVNET_SANDBOX_STATE: join(dir, 'sandbox-state'),
    DEVNET_SANDBOX_RUN: join(dir, 'sandbox-run'),
    DEVNET_SANDBOX_PREFIX: `dnt-${process.pid}-cx`,
    DEVNET_SANDBOX_PORT: String(port),
    KUBECONFIG: join(dir, 'kubeconfig'),
  };
  const up = await sandbox('up');
  if (up.code !== 0) throw new Error(`sandbox up failed: ${up.stdout}${up.stderr}`);

  laptop = await Netns.create('laptop');
  mkdirSync(`/etc/netns/${laptop.name}`, { recursive: true });
  writeFileSync(`/etc/netns/${laptop.name}/resolv.conf`, ORIGINAL_RESOLV);
  await laptop.ip('addr', 'add', '192.0.2.53/32', 'dev', 'lo');
  // The API server, reached from the laptop's loopback through a unix socket.
  const relay = join(dir, 'api.sock');
  background('socat', [`UNIX-LISTEN:${relay},fork,mode=600`, `TCP:127.0.0.1:${port}`]);
  background('ip', [
    'netns',
    'exec',
    laptop.name,
    'socat',
    `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${relay}`,
  ]);
  // The internet's DNS as the laptop knew it before devnet.
  background('ip', [
    'netns',
    'exec',
    laptop.name,
    process.execPath,
    join(root, 'test/support/fake-upstream.ts'),
    '192.0.2.53',
  ]);
  laptopEnv = {
    ...process.env,
    KUBECONFIG: join(dir, 'kubeconfig'),
    DEVNET_RUN_DIR: join(dir, 'devnet-run'),
    DEVNET_STATE_DIR: join(dir, 'devnet-state'),
    NO_COLOR: '1',
  };
  await new Promise((r) => setTimeout(r, 500));
  laptopBefore = await laptopSnapshot();
});

test.after.always(async () => {
  if (!isRoot) return;
  if (laptop) await devnet('quit');
  if (laptop2) await onLaptop2(process.execPath, [bin, 'quit']);
  // Whatever survived a failed test: this test's devnet processes are found by their run dir.
  await run('pkill', ['-9', '-f', join(dir, 'devnet-run')], process.env);
  for (const c of children) c.kill('SIGKILL');
  if (laptop) rmSync(`/etc/netns/${laptop.name}`, { recursive: true, force: true });
  if (laptop2) rmSync(`/etc/netns/${laptop2.name}`, { recursive: true, force: true });
  await deleteAllNetns();
  await sandbox('down');
  rmSync(dir, { recursive: true, force: true });
});

async function hello() {
  const ip = await kubectl('get', 'svc', '-n', 'demo', 'hello', '-o', 'jsonpath={.spec.clusterIP}');
  const pod = await kubectl('get', 'pods', '-n', 'demo', '-l', 'app=hello', '-o', 'jsonpath={.items[0].status.podIP}');
  return { ip, pod };
}

rootTest('connect installs the gateway, routes the cluster and returns once traffic flows', async (t) => {
  const started = Date.now();
  const c = await devnet('connect', '--context', 'devnet-sandbox', '-n', 'demo', '--dns-mode', 'resolvconf');
  t.is(c.code, 0, c.stderr);
  t.log(`first connect (installs the gateway): ${Date.now() - started} ms`);
  t.regex(c.stdout, /Connected\s+yes/);
  const { ip, pod } = await hello();
  t.regex((await onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`])).stdout, /^hello from hello-/);
  t.regex((await onLaptop('curl', ['-s', '--max-time', '5', `http://${pod}:8080`])).stdout, /^hello from hello-/);
});

rootTest('a second connect with the gateway installed is quick; quit restores the laptop exactly', async (t) => {
  const q = await devnet('quit');
  t.is(q.code, 0, q.stderr);
  t.deepEqual(await laptopSnapshot(), laptopBefore);
  const started = Date.now();
  const c = await devnet('connect', '--context', 'devnet-sandbox', '-n', 'demo', '--dns-mode', 'resolvconf');
  t.is(c.code, 0, c.stderr);
  t.log(`connect with the gateway installed: ${Date.now() - started} ms (target 5 s)`);
});

rootTest('TCP and UDP reach the echo service; a refused port fails at once', async (t) => {
  const echo = await kubectl('get', 'svc', '-n', 'demo', 'echo', '-o', 'jsonpath={.spec.clusterIP}');
  const tcp = await onLaptop('sh', ['-c', `echo over-tcp | nc -N -w 3 ${echo} 7`]);
  t.is(tcp.stdout, 'over-tcp\n');
  const udp = await onLaptop('sh', ['-c', `echo over-udp | nc -u -w 2 ${echo} 7`]);
  t.is(udp.stdout, 'over-udp\n');
  const refused = await onLaptop('curl', ['-s', '--max-time', '5', `http://${echo}:81`]);
  t.is(refused.code, 7, 'curl: connection refused, not a timeout');
});

rootTest('status -o json reports connected and the routes', async (t) => {
  const s = JSON.parse((await devnet('status', '-o', 'json')).stdout);
  t.true(s.connected);
  t.true(s.routes.includes('10.96.0.0/12'));
  t.is(s.dns.mode, 'resolvconf');
  t.is(s.gateway.namespace, 'devnet');
});

rootTest('cluster names resolve as from a pod in demo; other names exactly as before', async (t) => {
  const { ip } = await hello();
  t.regex((await onLaptop('getent', ['hosts', 'hello.demo'])).stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
  t.regex((await onLaptop('getent', ['hosts', 'hello'])).stdout, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
  t.regex(
    (await onLaptop('curl', ['-s', '--max-time', '5', 'http://hello.demo.svc.cluster.local'])).stdout,
    /^hello from hello-/,
  );
  t.regex((await onLaptop('curl', ['-s', '--max-time', '5', 'http://hello.other'])).stdout, /^hello from other\//);
  const db0 = await kubectl('get', 'pod', '-n', 'demo', 'db-0', '-o', 'jsonpath={.status.podIP}');
  t.is((await onLaptop('dig', ['+short', 'db-0.db.demo.svc.cluster.local'])).stdout.trim(), db0);
  t.is(
    (await onLaptop('dig', ['+short', 'SRV', '_http._tcp.hello.demo.svc.cluster.local'])).stdout.trim(),
    '0 100 80 hello.demo.svc.cluster.local.',
  );
  t.is((await onLaptop('dig', ['+short', '-x', ip])).stdout.trim(), 'hello.demo.svc.cluster.local.');
  t.regex(
    (await onLaptop('dig', ['+short', 'ext.demo.svc.cluster.local'])).stdout,
    /^hello\.demo\.svc\.cluster\.local\.\n/,
  );
  // Not a cluster name: answered by the laptop's own DNS, exactly as before connect.
  t.is((await onLaptop('dig', ['+short', 'www.example.com'])).stdout.trim(), '203.0.113.8');
  t.is((await onLaptop('dig', ['+short', 'example.dev'])).stdout.trim(), '203.0.113.7');
  // And devnet can say why, against the live session.
  const why = await devnet('dns', 'test', 'hello.demo');
  t.is(why.code, 0, why.stderr);
  t.regex(why.stdout, /hello\.demo\.svc\.cluster\.local/);
  const notOurs = await devnet('dns', 'test', 'example.dev');
  t.is(notOurs.code, 0, notOurs.stderr);
  t.regex(notOurs.stdout, /system|upstream|not.*cluster/i);
});

rootTest('deleting the gateway pod: new requests succeed again within 15 s without user action', async (t) => {
  const { ip } = await hello();
  await kubectl('delete', 'pod', '-n', 'devnet', '-l', 'app.kubernetes.io/name=devnet-gateway', '--wait=false');
  const started = Date.now();
  let ok = false;
  while (Date.now() - started < 15_000) {
    const r = await onLaptop('curl', ['-s', '--max-time', '2', `http://${ip}`]);
    const s = JSON.parse((await devnet('status', '-o', 'json')).stdout);
    if (r.stdout.startsWith('hello from') && s.tunnel.reconnects >= 1) {
      ok = true;
      break;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  t.log(`traffic back after ${Date.now() - started} ms`);
  t.true(ok, 'requests succeed again through a new gateway pod');
});

rootTest('kill -9 of every devnet process, then any devnet command: the laptop is as before', async (t) => {
  t.not((await laptopSnapshot()).resolv, laptopBefore.resolv, 'connected: resolv.conf points at devnet');
  await run('pkill', ['-9', '-f', join(dir, 'devnet-run')], process.env);
  // "Then any devnet command": once they are really gone (a loaded machine takes a moment to reap them).
  for (let i = 0; i < 100; i++) {
    if ((await run('pgrep', ['-f', join(dir, 'devnet-run')], process.env)).code !== 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Whichever dies last undoes: the helper when its daemon vanishes, or else the next command from the journal.
  const s = await devnet('status');
  t.is(s.code, 0, s.stderr);
  if (s.stderr) t.log(s.stderr.trim());
  t.deepEqual(await laptopSnapshot(), laptopBefore);
});

rootTest('devnet gateway status and version report the installed gateway', async (t) => {
  const st = JSON.parse((await devnet('gateway', 'status', '--context', 'devnet-sandbox', '-o', 'json')).stdout);
  t.true(st.installed);
  t.true(st.upToDate);
  t.true(st.pods.some((p: { ready: boolean }) => p.ready));
  t.regex((await devnet('gateway', 'manifest')).stdout, /kind: Deployment/);
});

rootTest('the restricted developer connects with the gateway in namespace dev', async (t) => {
  const c = await devnet(
    'connect',
    '--context',
    'devnet-sandbox-dev',
    '--gateway-namespace',
    'dev',
    '-n',
    'dev',
    '--dns-mode',
    'none',
  );
  t.is(c.code, 0, c.stderr);
  const s = JSON.parse((await devnet('status', '-o', 'json')).stdout);
  t.is(s.gateway.namespace, 'dev');
  const { ip } = await hello();
  t.regex((await onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`])).stdout, /^hello from hello-/);
  t.is((await devnet('quit')).code, 0);
  t.deepEqual(await laptopSnapshot(), laptopBefore);
});

rootTest('two laptops share one gateway, each with its own session', async (t) => {
  laptop2 = await Netns.create('laptop2');
  mkdirSync(`/etc/netns/${laptop2.name}`, { recursive: true });
  writeFileSync(`/etc/netns/${laptop2.name}/resolv.conf`, ORIGINAL_RESOLV);
  background('ip', [
    'netns',
    'exec',
    laptop2.name,
    'socat',
    `TCP-LISTEN:${apiPort},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${join(dir, 'api.sock')}`,
  ]);
  laptop2Env = { ...laptopEnv, DEVNET_RUN_DIR: join(dir, 'devnet2-run'), DEVNET_STATE_DIR: join(dir, 'devnet2-state') };
  await new Promise((r) => setTimeout(r, 300));
  const [a, b] = await Promise.all([
    devnet('connect', '--context', 'devnet-sandbox', '-n', 'demo', '--dns-mode', 'none'),
    onLaptop2(
      process.execPath,
      [bin, 'connect', '--context', 'devnet-sandbox', '-n', 'demo', '--dns-mode', 'none'],
      90_000,
    ),
  ]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  const { ip } = await hello();
  const [ra, rb] = await Promise.all([
    onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`]),
    onLaptop2('curl', ['-s', '--max-time', '5', `http://${ip}`]),
  ]);
  t.regex(ra.stdout, /^hello from hello-/);
  t.regex(rb.stdout, /^hello from hello-/);
  const sa = JSON.parse((await devnet('status', '-o', 'json')).stdout);
  const sb = JSON.parse((await onLaptop2(process.execPath, [bin, 'status', '-o', 'json'])).stdout);
  t.is(sa.gateway.pod, sb.gateway.pod, 'one gateway');
  t.is((await onLaptop2(process.execPath, [bin, 'quit'])).code, 0);
  // The other laptop is unaffected by its neighbour leaving.
  t.regex((await onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`])).stdout, /^hello from hello-/);
  t.is((await devnet('quit')).code, 0);
});

rootTest('kill -9 of the helper alone: the session goes down and the next command repairs', async (t) => {
  const c = await devnet('connect', '--context', 'devnet-sandbox', '-n', 'demo', '--dns-mode', 'resolvconf');
  t.is(c.code, 0, c.stderr);
  await run('pkill', ['-9', '-f', `${join(dir, 'devnet-run')}/helper.sock`], process.env);
  // The daemon notices its helper is gone and exits; wait for both.
  for (let i = 0; i < 100; i++) {
    if ((await run('pgrep', ['-f', join(dir, 'devnet-run')], process.env)).code !== 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const s = await devnet('status');
  t.is(s.code, 0, s.stderr);
  t.deepEqual(await laptopSnapshot(), laptopBefore);
});

rootTest('the direct transport: TCP straight to a routable gateway, token-authenticated', async (t) => {
  // Make the gateway routable from the laptop: a direct listener on its pod IP, and a veth from the
  // laptop into the sandbox's node namespace carrying only the gateway pod's /32.
  await kubectl('set', 'env', 'deployment/devnet-gateway', '-n', 'devnet', 'DEVNET_GATEWAY_DIRECT_LISTEN=0.0.0.0:8303');
  let gw = '';
  for (let i = 0; i < 120 && !gw; i++) {
    const pods = JSON.parse(
      await kubectl('get', 'pods', '-n', 'devnet', '-l', 'app.kubernetes.io/name=devnet-gateway', '-o', 'json'),
    ) as {
      items: {
        metadata: { deletionTimestamp?: string };
        spec: { containers: { env?: { name: string }[] }[] };
        status: { podIP?: string; conditions?: { type: string; status: string }[] };
      }[];
    };
    const ready = pods.items.find(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.spec.containers[0]?.env?.some((e) => e.name === 'DEVNET_GATEWAY_DIRECT_LISTEN') &&
        p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    gw = ready?.status.podIP ?? '';
    if (!gw) await new Promise((r) => setTimeout(r, 250));
  }
  t.truthy(gw, 'the gateway rolled out with a direct listener');
  const ns = laptop as Netns;
  const node = `${sandboxEnv.DEVNET_SANDBOX_PREFIX}-node`;
  await ns.ip('link', 'add', 'dnlv0', 'type', 'veth', 'peer', 'name', 'dnlv1', 'netns', node);
  await ns.ip('addr', 'add', '192.168.250.1/30', 'dev', 'dnlv0');
  await ns.ip('link', 'set', 'dnlv0', 'up');
  await run('ip', ['-n', node, 'addr', 'add', '192.168.250.2/30', 'dev', 'dnlv1'], process.env);
  await run('ip', ['-n', node, 'link', 'set', 'dnlv1', 'up'], process.env);
  await ns.ip('route', 'add', `${gw}/32`, 'via', '192.168.250.2');
  try {
    const c = await devnet(
      'connect',
      '--context',
      'devnet-sandbox',
      '-n',
      'demo',
      '--dns-mode',
      'none',
      '--transport',
      'direct',
      '--direct-address',
      `${gw}:8303`,
      '--never-proxy',
      `${gw}/32`,
    );
    t.is(c.code, 0, c.stderr);
    const s = JSON.parse((await devnet('status', '-o', 'json')).stdout);
    t.is(s.gateway.transport, 'direct');
    const { ip } = await hello();
    t.regex((await onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`])).stdout, /^hello from hello-/);
    t.is((await devnet('quit')).code, 0);
  } finally {
    await ns.ip('link', 'del', 'dnlv0').catch(() => undefined);
  }
});
