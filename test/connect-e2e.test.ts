// `devnet connect` end to end through the real CLI, against the cluster the
// e2e harness gives (test/support/e2e.ts: the real Kubernetes by default, or
// a sandbox of this suite's own). The "laptop" is a network namespace with
// its own /etc/resolv.conf (ip netns exec bind-mounts
// /etc/netns/NAME/resolv.conf) and a fake internet DNS server, so nothing of
// the host's network or resolver is touched. The laptop reaches the API
// server on its own 127.0.0.1 through a unix-socket relay (socat), as a real
// laptop reaches a remote API server.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { DATA_PATH_V8_FLAGS } from '../src/runtime-flags.ts';
import { E2E, type Laptop, run } from './support/e2e.ts';
import type { Netns } from './support/netns.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('cx');
let laptopBefore: Record<string, string> = {};
const kubectl = (...args: string[]) => e.kubectl(...args);
const onLaptop = (cmd: string, args: string[], timeout?: number) => e.onLaptop(cmd, args, timeout);
const devnet = (...args: string[]) => e.devnet(...args);

async function laptopSnapshot(): Promise<Record<string, string>> {
  const ns = e.laptop as Netns;
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

/** gone waits until no devnet process of this suite is left (a loaded machine takes a moment to reap them). */
async function gone(pattern: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await run('pgrep', ['-f', pattern], process.env)).code !== 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.before(async () => {
  if (!isRoot) return;
  await e.start();
  laptopBefore = await laptopSnapshot();
});

test.after.always(async () => {
  if (isRoot) await e.cleanup();
});

async function hello() {
  const ip = await kubectl('get', 'svc', '-n', 'demo', 'hello', '-o', 'jsonpath={.spec.clusterIP}');
  const pod = await kubectl('get', 'pods', '-n', 'demo', '-l', 'app=hello', '-o', 'jsonpath={.items[0].status.podIP}');
  return { ip, pod };
}

rootTest('connect installs the gateway, routes the cluster and returns once traffic flows', async (t) => {
  const started = Date.now();
  const c = await devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'resolvconf');
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
  const c = await devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'resolvconf');
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
  for (const cidr of await e.serviceCidrs()) t.true(s.routes.includes(cidr), `route for ${cidr}`);
  t.is(s.dns.mode, 'resolvconf');
  t.is(s.gateway.namespace, 'devnet');
});

rootTest("the daemon runs with the data path's V8 flags (a small young generation: docs/benchmarks.md)", async (t) => {
  const ns = e.laptop as Netns;
  const pids = (await run('ip', ['netns', 'pids', ns.name], process.env)).stdout.split('\n').filter(Boolean);
  const argvs = pids.flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')];
    } catch {
      return []; // exited meanwhile
    }
  });
  const daemon = argvs.find((a) => a.some((x) => /daemon\/main\.(ts|js)$/.test(x)));
  if (!daemon) return t.fail(`no devnet daemon in the laptop namespace (${argvs.map((a) => a[1]).join(', ')})`);
  const script = daemon.findIndex((x) => /daemon\/main\.(ts|js)$/.test(x));
  t.deepEqual(daemon.slice(1, script), [...DATA_PATH_V8_FLAGS]);
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
  const runDir = (e.laptops[0] as Laptop).runDir;
  await run('pkill', ['-9', '-f', runDir], process.env);
  // "Then any devnet command": once they are really gone.
  await gone(runDir);
  // Whichever dies last undoes: the helper when its daemon vanishes, or else the next command from the journal.
  const s = await devnet('status');
  t.is(s.code, 0, s.stderr);
  if (s.stderr) t.log(s.stderr.trim());
  t.deepEqual(await laptopSnapshot(), laptopBefore);
});

rootTest('devnet gateway status and version report the installed gateway', async (t) => {
  const st = JSON.parse((await devnet('gateway', 'status', '--context', e.context, '-o', 'json')).stdout);
  t.true(st.installed);
  t.true(st.upToDate);
  t.true(st.pods.some((p: { ready: boolean }) => p.ready));
  t.regex((await devnet('gateway', 'manifest')).stdout, /kind: Deployment/);
});

rootTest('the restricted developer connects with the gateway in namespace dev', async (t) => {
  const c = await devnet(
    'connect',
    '--context',
    e.devContext,
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
  const second = await e.addLaptop('laptop2');
  const [a, b] = await Promise.all([
    devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none'),
    e.devnetOn(second, 'connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none'),
  ]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  const { ip } = await hello();
  const [ra, rb] = await Promise.all([
    onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`]),
    e.on(second, 'curl', ['-s', '--max-time', '5', `http://${ip}`]),
  ]);
  t.regex(ra.stdout, /^hello from hello-/);
  t.regex(rb.stdout, /^hello from hello-/);
  const sa = JSON.parse((await devnet('status', '-o', 'json')).stdout);
  const sb = JSON.parse((await e.devnetOn(second, 'status', '-o', 'json')).stdout);
  t.is(sa.gateway.pod, sb.gateway.pod, 'one gateway');
  t.is((await e.devnetOn(second, 'quit')).code, 0);
  // The other laptop is unaffected by its neighbour leaving.
  t.regex((await onLaptop('curl', ['-s', '--max-time', '5', `http://${ip}`])).stdout, /^hello from hello-/);
  t.is((await devnet('quit')).code, 0);
});

rootTest('kill -9 of the helper alone: the session goes down and the next command repairs', async (t) => {
  const c = await devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'resolvconf');
  t.is(c.code, 0, c.stderr);
  const runDir = (e.laptops[0] as Laptop).runDir;
  await run('pkill', ['-9', '-f', `${runDir}/helper.sock`], process.env);
  // The daemon notices its helper is gone and exits; wait for both.
  await gone(runDir);
  const s = await devnet('status');
  t.is(s.code, 0, s.stderr);
  t.deepEqual(await laptopSnapshot(), laptopBefore);
});

rootTest('the direct transport: TCP straight to a routable gateway, token-authenticated', async (t) => {
  // Make the gateway routable from the laptop: a direct listener on its pod IP, and a veth from the
  // laptop into the cluster node's namespace carrying only the gateway pod's /32.
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
  const ns = e.laptop as Netns;
  const node = e.nodeNetns();
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
      e.context,
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
