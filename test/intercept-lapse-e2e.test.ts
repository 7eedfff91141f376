// Lapsed intercepts end to end (docs/intercepts.md, "Leases"): the intercept
// pod may only read its Service, so when an intercept's owner crashes the pod
// stops sending it traffic once the lease runs out, and the next devnet user
// whose own credentials may edit the Service restores it — `devnet intercept`
// before taking the Service, `devnet connect` in the namespace it connects
// to — while a live intercept of another owner is never touched. Two
// "laptops" (test/support/e2e.ts), each with its own devnet, both with the
// admin's credentials (the cluster tells them apart only by their session
// keys and seats); requests come from a pod of the cluster.
import test from 'ava';
import { E2E, type Laptop, run } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const e = new E2E('lapse');
let a: Laptop; // laptop 1: owner A
let b: Laptop; // laptop 2: user B
let client = ''; // a pod in demo: the cluster's own clients of the Service
let owner = ''; // the admin's name as the cluster knows it
let original: ServiceShape;

interface ServiceShape {
  selector: unknown;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ports: unknown;
  type: string;
}

const connect = (l: Laptop) => e.devnetOn(l, 'connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
const curl = async (...args: string[]) =>
  (await e.inPod('demo', client, ['curl', '-s', '--max-time', '5', ...args])).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** shape is what "the Service exactly as it was" compares: selector, labels, annotations, ports, type. */
async function shape(): Promise<ServiceShape> {
  const svc = JSON.parse(await e.kubectl('get', 'svc', 'hello', '-n', 'demo', '-o', 'json'));
  return {
    selector: svc.spec.selector,
    labels: svc.metadata.labels ?? {},
    annotations: svc.metadata.annotations ?? {},
    ports: svc.spec.ports,
    type: svc.spec.type,
  };
}

const interceptPods = () =>
  e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app.kubernetes.io/name=devnet-intercept', '-o', 'name');

/** podsGone waits (up to a pod's grace period) until none of `names` is listed any more, and returns those still listed. */
async function podsGone(names: string[]): Promise<string[]> {
  let left = names;
  for (let i = 0; i < 60 && left.length > 0; i++) {
    const now = (await interceptPods()).split('\n');
    left = names.filter((n) => now.includes(n));
    if (left.length > 0) await sleep(500);
  }
  return left;
}

/** killDevnet kill -9s one laptop's devnet (helper and daemon) and waits until they are gone. */
async function killDevnet(l: Laptop): Promise<void> {
  await run('pkill', ['-9', '-f', `${l.runDir}/`], process.env);
  for (let i = 0; i < 100 && (await run('pgrep', ['-f', `${l.runDir}/`], process.env)).code === 0; i++)
    await sleep(100);
}

/** podsServe polls from the cluster until the Service's own pods answer (at most 30 s); it returns the ms it took, or -1. */
async function podsServe(since: number, ...args: string[]): Promise<number> {
  while (Date.now() - since < 30_000) {
    if (/^hello from hello-/.test(await curl(...args, 'http://hello.demo/'))) return Date.now() - since;
    await sleep(250);
  }
  return -1;
}

test.before(async () => {
  if (!isRoot) return;
  await e.start();
  a = e.laptops[0] as Laptop;
  b = await e.addLaptop('b');
  for (const l of [a, b]) {
    const c = await connect(l);
    if (c.code !== 0) throw new Error(`connect failed: ${c.stdout}${c.stderr}`);
  }
  e.laptopServer(9000, 'alice', undefined, a);
  e.laptopServer(9100, 'bob', undefined, b);
  client = await e.kubectl('get', 'pods', '-n', 'demo', '-l', 'app=hello', '-o', 'jsonpath={.items[0].metadata.name}');
  owner = await e.kubectl('auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');
  original = await shape();
});

test.after.always(async () => {
  if (isRoot) await e.cleanup();
});

rootTest(
  'while A’s intercept is live, B’s connect leaves it alone and B’s intercept is refused, naming A',
  async (t) => {
    const r = await e.devnetOn(a, 'intercept', 'hello', '--port', '9000');
    t.is(r.code, 0, r.stderr);
    let got = '';
    for (let i = 0; i < 60 && !got.startsWith('laptop alice'); i++) {
      got = await curl('http://hello.demo/');
      if (!got.startsWith('laptop alice')) await sleep(250);
    }
    t.is(got, 'laptop alice GET / x-dev=\n');
    // B's devnet restarts (its connect repairs what its own earlier sessions left): A's intercept is not B's.
    t.is((await e.devnetOn(b, 'quit')).code, 0);
    const c = await connect(b);
    t.is(c.code, 0, c.stderr);
    t.notRegex(c.stderr, /removed intercepts|restored/);
    const list = await e.devnetOn(b, 'list');
    t.regex(list.stdout, new RegExp(`demo/hello\\s+hello\\s+${literal(owner)}\\s+global\\s+80→9000\\s+ok`));
    const refused = await e.devnetOn(b, 'intercept', 'hello', '--port', '9100', '--name', 'bob');
    t.not(refused.code, 0);
    t.regex(refused.stderr, new RegExp(`already has a global intercept hello by ${literal(owner)}\\b`));
    t.notRegex(refused.stderr, /restor/);
    t.is(await curl('http://hello.demo/'), 'laptop alice GET / x-dev=\n');
  },
);

rootTest(
  'kill -9 of A: the pods serve within 30 s; B’s intercept restores A’s lapsed intercept first, then takes the Service; B leaves it exactly as it was',
  async (t) => {
    const oldPods = (await interceptPods()).split('\n').filter(Boolean);
    t.is(oldPods.length, 1);
    await killDevnet(a);
    const killed = Date.now();
    const served = await podsServe(killed);
    t.log(`kill -9 → in-cluster requests reach the pods: ${served} ms`);
    t.true(served >= 0, 'the pods serve again within 30 s');
    const list = await e.devnetOn(b, 'list');
    t.regex(
      list.stdout,
      new RegExp(`demo/hello\\s+hello\\s+${literal(owner)}\\s+global\\s+80→9000\\s+lapsed \\(owner gone\\)`),
    );
    // Watch the Service while B intercepts: between the restore and B's own patch it is the original again.
    let restoredAt = 0;
    let watching = true;
    const watch = (async () => {
      while (watching && restoredAt === 0) {
        const s = await shape();
        if (JSON.stringify(s) === JSON.stringify(original)) restoredAt = Date.now();
        else await sleep(100);
      }
    })();
    const r = await e.devnetOn(b, 'intercept', 'hello', '--port', '9100', '--name', 'bob');
    watching = false;
    await watch;
    t.is(r.code, 0, r.stderr);
    t.log(`kill -9 → the Service is the original again: ${restoredAt ? `${restoredAt - killed} ms` : 'not seen'}`);
    t.regex(
      r.stderr,
      new RegExp(
        `restored demo/hello: ${literal(owner)}'s intercept hello had lapsed \\d+ s ago \\(not renewed for \\d+ s`,
      ),
    );
    t.true(restoredAt > 0, 'the Service was the original between the restore and B’s intercept');
    let got = '';
    for (let i = 0; i < 60 && !got.startsWith('laptop bob'); i++) {
      got = await curl('http://hello.demo/');
      if (!got.startsWith('laptop bob')) await sleep(250);
    }
    t.is(got, 'laptop bob GET / x-dev=\n');
    t.deepEqual(await podsGone(oldPods), [], 'the crashed owner’s intercept pod is gone');
    const l = await e.devnetOn(b, 'leave', 'bob');
    t.is(l.code, 0, l.stderr);
    t.deepEqual(await shape(), original);
    t.deepEqual(await podsGone((await interceptPods()).split('\n').filter(Boolean)), [], 'B’s intercept pod is gone');
    t.is(await e.kubectl('get', 'svc', '-n', 'demo', '-o', 'name', '-l', 'app.kubernetes.io/managed-by=devnet'), '');
    t.regex(await curl('http://hello.demo/'), /^hello from hello-/);
  },
);

rootTest('connect restores the lapsed intercepts of its namespace, saying so', async (t) => {
  // Global: while its owner is unreachable the pod resets connections, so the pods answering means it lapsed.
  const r = await e.devnetOn(b, 'intercept', 'hello', '--port', '9100', '--name', 'bob');
  t.is(r.code, 0, r.stderr);
  let got = '';
  for (let i = 0; i < 60 && !got.startsWith('laptop bob'); i++) {
    got = await curl('http://hello.demo/');
    if (!got.startsWith('laptop bob')) await sleep(250);
  }
  t.is(got, 'laptop bob GET / x-dev=\n');
  const pods = (await interceptPods()).split('\n').filter(Boolean);
  await killDevnet(b);
  const killed = Date.now();
  const served = await podsServe(killed);
  t.log(`kill -9 → in-cluster requests reach the pods: ${served} ms`);
  t.true(served >= 0, 'the pods serve again within 30 s');
  // A's laptop (whose own devnet was killed earlier) connects again in demo: another seat, so B's intercept
  // is not A's leftover; it is restored because it lapsed.
  const c = await connect(a);
  t.is(c.code, 0, c.stderr);
  t.log(`kill -9 → the Service is the original again (A's connect): ${Date.now() - killed} ms`);
  t.regex(
    c.stderr,
    new RegExp(
      `restored demo/hello: ${literal(owner)}'s intercept bob had lapsed \\d+ s ago \\(not renewed for \\d+ s`,
    ),
  );
  t.notRegex(c.stderr, /removed intercepts a crashed session left/);
  t.deepEqual(await shape(), original);
  t.deepEqual(await podsGone(pods), []);
  t.is((await e.devnetOn(a, 'list')).stdout, 'No intercepts.\n');
});
