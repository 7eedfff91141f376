// Another cluster tenant at the gateway, for adversarial end-to-end tests
// (docs/security.md, "another cluster tenant"): with their own Kubernetes
// credentials — enough to read the gateway's Secret and port-forward to it,
// as any devnet user — they speak the tunnel protocol directly with a key of
// their own. Run on the laptop (E2E.onLaptop) with KUBECONFIG set; prints one
// JSON line. Bounded by its own deadline.
//
//   node tunnel-peer.ts CONTEXT GATEWAY_NAMESPACE steal INTERCEPT_ID PORT SECONDS
//     keeps registering INTERCEPT_ID under its own key (reconnecting whenever its
//     session drops) and tries to withdraw the owner's registration; answers any
//     intercept channel it is given with "stolen" and counts them.
//   node tunnel-peer.ts CONTEXT GATEWAY_NAMESPACE open HOST PORT
//     asks the gateway to dial HOST:PORT and prints the answer.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { GATEWAY_SECRET, GATEWAY_TUNNEL_PORT } from '../../src/cluster/gateway-manifests.ts';
import { openPortForward } from '../../src/cluster/portforward.ts';
import {
  channelDuplex,
  connectSession,
  type Session,
  SessionIdentity,
  type StreamChannel,
} from '../../src/tunnel/index.ts';

const [context, namespace, verb, ...args] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromDefault();
kc.setCurrentContext(context as string);
const core = kc.makeApiClient(CoreV1Api);
const identity = SessionIdentity.generate();
let channels = 0;

async function session(): Promise<Session> {
  const secret = await core.readNamespacedSecret({ name: GATEWAY_SECRET, namespace: namespace as string });
  const token = Buffer.from(secret.data?.token ?? '', 'base64').toString('utf8');
  const pods = await core.listNamespacedPod({
    namespace: namespace as string,
    labelSelector: 'app.kubernetes.io/name=devnet-gateway',
  });
  const pod = pods.items.find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
  if (!pod) throw new Error('no running gateway pod');
  const carrier = await openPortForward(kc, {
    namespace: namespace as string,
    pod: pod.metadata?.name as string,
    port: GATEWAY_TUNNEL_PORT,
  });
  const s = await connectSession(carrier, { token, clientId: 'another-tenant', identity });
  s.on('open', (ch) => {
    channels++;
    ch.accept();
    const d = channelDuplex(ch as StreamChannel);
    d.on('error', () => undefined);
    d.end('HTTP/1.0 200 OK\r\n\r\nstolen\n');
  });
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function steal(id: string, port: number, seconds: number): Promise<unknown> {
  const deadline = Date.now() + seconds * 1000;
  let registered = 0;
  let refused = 0;
  let withdrew = 'not tried';
  let s: Session | undefined;
  while (Date.now() < deadline) {
    if (!s || s.closed) {
      s = await session().catch(() => undefined);
      if (!s) {
        await sleep(200);
        continue;
      }
    }
    const r = await s.registerIntercept(id, [port]);
    if (r.ok) registered++;
    else refused++;
    if (withdrew === 'not tried') {
      const u = await s.unregisterIntercept(`${id}-not-mine`);
      const v = await s.unregisterIntercept(id);
      withdrew = u.ok ? 'withdrew a registration it never made' : `own only: ${v.ok}`;
    }
    await sleep(100);
  }
  s?.close('done');
  return { registered, refused, withdrew, channels };
}

async function open(host: string, port: number): Promise<unknown> {
  const s = await session();
  const r = await s.open({ protocol: 'tcp', host, port, timeoutMs: 3000 });
  s.close('done');
  return r.ok ? { ok: true } : { ok: false, reason: r.reason, message: r.message };
}

const work =
  verb === 'steal'
    ? steal(args[0] as string, Number(args[1]), Number(args[2]))
    : verb === 'open'
      ? open(args[0] as string, Number(args[1]))
      : Promise.reject(new Error(`unknown verb ${verb}`));
const timer = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ error: 'timed out' })}\n`);
  process.exit(1);
}, 120_000);
work.then(
  (v) => {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify(v)}\n`);
    process.exit(0);
  },
  (err: Error) => {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ error: err.message })}\n`);
    process.exit(1);
  },
);
