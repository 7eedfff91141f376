// Soak (d): a gateway rollout while 100 long transfers run through devnet,
// end to end through the real CLI (test/support/e2e.ts), on the sandbox or
// any cluster the harness points at. The old gateway pod sends GOAWAY
// SHUTTING_DOWN and drains; the daemon connects to the new pod for new flows
// and keeps the old session for the flows it carries, so every transfer
// completes with its bytes intact (issue 14: a rollout used to reset them
// all). The transfers run until the daemon has moved to the new pod, then
// a while longer on the draining session. DEVNET_SOAK=long lingers longer.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { E2E, ROOT } from './support/e2e.ts';
import { isRoot, rootTest } from './support/root.ts';

const LONG = process.env.DEVNET_SOAK === 'long';
const FLOWS = 100;
/** MAX_SECONDS bounds a transfer should the test never tell it to stop. */
const MAX_SECONDS = 120;
/** LINGER_MS is how long the transfers go on over the draining session once the daemon has moved (within the gateway's 20 s drain). */
const LINGER_MS = LONG ? 10_000 : 2000;
const SOAK_PEER = join(ROOT, 'test/support/soak-peer.ts');
const e = new E2E('roll');

test.before(async () => {
  if (isRoot) await e.start();
});

test.after.always(async () => {
  if (isRoot) await e.cleanup();
});

/** daemonLogTail is the end of the laptop daemon's log, for a failure's diagnosis. */
function daemonLogTail(): string {
  const dir = e.laptopEnv.DEVNET_RUN_DIR as string;
  const logs = readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('daemon.log'));
  return logs.map((f) => readFileSync(join(dir, f), 'utf8').split('\n').slice(-60).join('\n')).join('\n') || '(none)';
}

interface Status {
  gateway?: { pod: string };
  tunnel: { reconnects: number; draining?: { sessions: number; channels: number } };
}

async function status(): Promise<Status> {
  const r = await e.devnet('status', '-o', 'json');
  try {
    return JSON.parse(r.stdout) as Status;
  } catch {
    throw new Error(`devnet status failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
}

/**
 * rollDuringTransfers starts the transfers, runs `roll` once they flow, waits until the daemon has moved to the
 * new gateway pod while the transfers still run on the old session, then lets them finish and checks every one
 * came back intact.
 */
async function rollDuringTransfers(t: ExecutionContext, roll: () => Promise<unknown>): Promise<void> {
  const echo = await e.kubectl('get', 'svc', '-n', 'demo', 'echo', '-o', 'jsonpath={.spec.clusterIP}');
  const before = await status();
  const stop = join(e.dir, `stop-${Date.now()}`);
  const transfers = e.onLaptop(
    process.execPath,
    [SOAK_PEER, 'echoflows', echo, '7', String(FLOWS), stop, String(MAX_SECONDS)],
    (MAX_SECONDS + 60) * 1000,
  );
  await new Promise((r) => setTimeout(r, 2000));
  // The old gateway pod's log, followed from before the roll (the pod and its log are gone afterwards).
  let oldLog = '';
  const follow = spawn('kubectl', ['logs', '-f', '-n', 'devnet', before.gateway?.pod ?? 'none'], {
    env: e.clusterEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  follow.stdout.on('data', (d: Buffer) => {
    oldLog += d.toString();
  });
  t.teardown(() => follow.kill());
  await roll();
  // The daemon must move to the new pod while the transfers still run on the old one (they are draining).
  let draining = 0;
  let moved = false;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(moved && draining > 0)) {
    const s = await status();
    draining = Math.max(draining, s.tunnel.draining?.channels ?? 0);
    moved = s.tunnel.reconnects > before.tunnel.reconnects && s.gateway?.pod !== before.gateway?.pod;
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, LINGER_MS)); // the old session carries them a while longer
  writeFileSync(stop, '');
  const run = await transfers;
  let result: { intact?: number; bytes?: number; error?: string } = {};
  try {
    result = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
  } catch {
    result = { error: `the transfers printed no result (exit ${run.code})` };
  }
  if (result.intact !== FLOWS)
    t.log(
      `the daemon's log:\n${daemonLogTail()}\nthe old gateway pod's log:\n${oldLog.split('\n').slice(-60).join('\n')}`,
    );
  t.is(result.intact, FLOWS, `${run.stdout}${run.stderr}`);
  t.true(moved, 'the daemon connected to the new gateway pod');
  t.true(draining > 0, 'the transfers were still on the old session when it was replaced');
  t.log(
    `${FLOWS} transfers intact (${((result.bytes ?? 0) / 2 ** 20).toFixed(0)} MiB each way); ${draining} flows seen draining on the old session`,
  );
  // New connections go through the new gateway.
  const again = await e.onLaptop('sh', ['-c', `echo again | nc -N -w 5 ${echo} 7`]);
  t.is(again.stdout, 'again\n');
}

rootTest('soak (d): connect', async (t) => {
  const c = await e.devnet('connect', '--context', e.context, '-n', 'demo', '--dns-mode', 'none');
  t.is(c.code, 0, c.stderr);
});

rootTest(`soak (d): a gateway rollout during ${FLOWS} long transfers: every one completes intact`, async (t) => {
  await rollDuringTransfers(t, () => e.kubectl('rollout', 'restart', 'deployment/devnet-gateway', '-n', 'devnet'));
});

rootTest(`soak (d): the gateway pod deleted during ${FLOWS} long transfers: every one completes intact`, async (t) => {
  await rollDuringTransfers(t, () =>
    e.kubectl('delete', 'pod', '-n', 'devnet', '-l', 'app.kubernetes.io/name=devnet-gateway', '--wait=false'),
  );
});
