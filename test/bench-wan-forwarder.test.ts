// The WAN bench's link emulator (bench/wan-forwarder.ts) between two test
// namespaces: every packet really is delayed (a ping's round trip is never
// shorter than the RTT the link adds), a burst far beyond the rate and the
// queue is dropped rather than buffered, and a reshape takes effect. Only
// lower bounds on time and counts far from any schedule are asserted.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { deleteAllNetns, Netns, sh } from './support/netns.ts';
import { rootTest } from './support/root.ts';

const FORWARDER = resolve(import.meta.dirname, '../bench/wan-forwarder.ts');
let forwarder: ChildProcess | undefined;

test.after.always(async () => {
  forwarder?.kill('SIGKILL');
  await deleteAllNetns();
});

/** linked makes two namespaces joined by the forwarder (a 10.79.0.1 ↔ b 10.79.0.2) and returns them with a line reader. */
async function linked(rttMs: number, rateMbps: number) {
  const a = await Netns.create('wana');
  const b = await Netns.create('wanb');
  const tag = process.pid % 100000;
  const [ta, tb] = [`dwa${tag}`, `dwb${tag}`];
  const fwd = spawn(
    process.execPath,
    [FORWARDER, '--a', ta, '--b', tb, '--mtu', '1500', '--rtt-ms', String(rttMs), '--rate-mbps', String(rateMbps)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  forwarder = fwd;
  let stderr = '';
  fwd.stderr?.on('data', (d: Buffer) => {
    stderr += d;
  });
  const lines = createInterface({ input: fwd.stdout as NonNullable<typeof fwd.stdout> });
  const nextLine = () => new Promise<string>((res) => lines.once('line', res));
  const ready = await nextLine();
  if (ready !== 'ready') throw new Error(`forwarder: ${ready} ${stderr}`);
  for (const [ns, dev, addr] of [
    [a, ta, '10.79.0.1/30'],
    [b, tb, '10.79.0.2/30'],
  ] as const) {
    await sh('ip', ['link', 'set', 'dev', dev, 'netns', ns.name]);
    await ns.ip('addr', 'add', addr, 'dev', dev);
    await ns.ip('link', 'set', dev, 'up');
  }
  const stop = async () => {
    const exited = new Promise((res) => fwd.once('exit', res));
    fwd.kill('SIGTERM');
    await exited;
    return stderr;
  };
  return { a, b, fwd, nextLine, stop };
}

/** pingRtts returns the round trips (ms) of `count` pings from ns to addr. */
async function pingRtts(ns: Netns, addr: string, count: number): Promise<number[]> {
  const out = await ns.exec('ping', ['-n', '-c', String(count), '-i', '0.2', '-W', '5', addr]);
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

rootTest('every packet crosses the link no sooner than the RTT it adds, and a reshape changes it', async (t) => {
  const { a, fwd, nextLine, stop } = await linked(40, 100);
  try {
    const rtts = await pingRtts(a, '10.79.0.2', 3);
    t.is(rtts.length, 3);
    for (const r of rtts) t.true(r >= 40, `a round trip of ${r} ms through a 40 ms link`);
    fwd.stdin?.write('100 100\n');
    t.is(await nextLine(), 'shaped 100 100');
    const after = await pingRtts(a, '10.79.0.2', 2);
    t.is(after.length, 2);
    for (const r of after) t.true(r >= 100, `a round trip of ${r} ms through a 100 ms link`);
  } finally {
    await stop();
  }
});

rootTest('a burst far beyond the rate and the queue is dropped, not buffered', async (t) => {
  // 1 Mbit/s with a 64 KiB queue: 5 MB offered at once can deliver at most the
  // queue plus 125 kB per second the sender takes; the rest must be dropped.
  const { a, b, stop } = await linked(20, 1);
  const receiver = spawnIn(b, [
    '-e',
    `const s = require('node:dgram').createSocket('udp4'); let n = 0;
     s.on('message', (m) => { n += m.length; });
     s.bind(9999, '10.79.0.2', () => process.stdout.write('bound\\n'));
     process.stdin.on('data', () => { process.stdout.write(n + '\\n'); process.exit(0); });`,
  ]);
  try {
    await new Promise<void>((res) => receiver.stdout?.once('data', () => res()));
    const sent = await a.exec(process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4'); const p = Buffer.alloc(1000); let i = 0;
       const t0 = Date.now();
       (function burst() { for (let k = 0; k < 100 && i < 5000; k++, i++) s.send(p, 9999, '10.79.0.2');
         if (i < 5000) setImmediate(burst); else setTimeout(() => { console.log(5000 * 1000, Date.now() - t0); s.close(); }, 500); })();`,
    ]);
    const [bytes, ms] = sent.trim().split(' ').map(Number) as [number, number];
    // Let the link drain what it holds (64 KiB at 1 Mbit/s is ~0.5 s).
    await new Promise((r) => setTimeout(r, 1500));
    receiver.stdin?.write('x');
    const got = await new Promise<number>((res) =>
      receiver.stdout?.once('data', (d: Buffer) => res(Number(String(d)))),
    );
    const bound = 65536 + 1500 + (125_000 * (ms + 2000)) / 1000;
    t.true(got > 0, 'nothing crossed the link');
    t.true(got <= bound, `${got} bytes crossed a 1 Mbit/s link in ${ms + 2000} ms (bound ${bound})`);
    t.true(got < bytes / 2, `${got} of ${bytes} bytes crossed`);
    t.regex(await stop(), /dropped [1-9]\d* a→b/);
  } finally {
    receiver.kill('SIGKILL');
  }
});

function spawnIn(ns: Netns, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
}
