// bench:tun — two network namespaces joined by a TUN↔TUN forwarder written in
// TypeScript on the native addon, against a naive fs.read/fs.write forwarder
// and the kernel's own veth path, at MTU 1500 and 65520, measured with iperf3
// in one run. Root only. Usage: npm run bench:tun [-- --seconds N --json FILE]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { deleteAllNetns, Netns, sh, vethPair } from '../test/support/netns.ts';
import { median, runIperf, startIperfServer } from './support/iperf.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string' }, runs: { type: 'string' }, json: { type: 'string' } },
});
const seconds = Number(values.seconds ?? 4);
const runs = Number(values.runs ?? 1);
const forwarder = resolve(import.meta.dirname, 'tun-forwarder.ts');

interface Row {
  path: string;
  mtu: number;
  upGbps: number;
  downGbps: number;
  retransmits: number;
}

async function measure(client: Netns, server: Netns, host: string): Promise<Omit<Row, 'path' | 'mtu'>> {
  const stop = await startIperfServer(server);
  try {
    const up: number[] = [];
    const down: number[] = [];
    let retransmits = 0;
    for (let i = 0; i < runs; i++) {
      const u = await runIperf(client, host, seconds, false);
      const d = await runIperf(client, host, seconds, true);
      up.push(u.gbps);
      down.push(d.gbps);
      retransmits += u.retransmits + d.retransmits;
    }
    return { upGbps: median(up), downGbps: median(down), retransmits };
  } finally {
    stop();
  }
}

async function viaForwarder(mode: 'batched' | 'naive', mtu: number): Promise<Row> {
  const a = await Netns.create('bta');
  const b = await Netns.create('btb');
  const tag = `${process.pid % 10000}`;
  const [ta, tb] = [`dbta${tag}`, `dbtb${tag}`];
  const fwd = spawn(process.execPath, [forwarder, '--mode', mode, '--mtu', String(mtu), '--a', ta, '--b', tb], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((res, rej) => {
      createInterface({ input: fwd.stdout }).once('line', () => res());
      fwd.once('exit', (c) => rej(new Error(`forwarder exited ${c}`)));
    });
    for (const [ns, dev, self, peer] of [
      [a, ta, '10.78.0.1', '10.78.1.0/24'],
      [b, tb, '10.78.1.1', '10.78.0.0/24'],
    ] as const) {
      await sh('ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu), 'netns', ns.name]);
      await ns.ip('addr', 'add', `${self}/32`, 'dev', dev);
      await ns.ip('link', 'set', dev, 'up');
      await ns.ip('route', 'add', peer, 'dev', dev);
    }
    return { path: `TS forwarder (${mode})`, mtu, ...(await measure(a, b, '10.78.1.1')) };
  } finally {
    fwd.kill('SIGTERM');
    await a.delete();
    await b.delete();
  }
}

async function viaVeth(mtu: number): Promise<Row> {
  const a = await Netns.create('bva');
  const b = await Netns.create('bvb');
  try {
    await vethPair(a, '10.78.0.1/24', b, '10.78.0.2/24', mtu);
    return { path: 'veth (kernel, reference)', mtu, ...(await measure(a, b, '10.78.0.2')) };
  } finally {
    await a.delete();
    await b.delete();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:tun needs root (network namespaces and TUN devices)');
  const rows: Row[] = [];
  for (const mtu of [1500, 65520]) {
    rows.push(await viaVeth(mtu));
    rows.push(await viaForwarder('batched', mtu));
    rows.push(await viaForwarder('naive', mtu));
  }
  const fmt = (n: number) => n.toFixed(2).padStart(6);
  console.log(
    `\nTUN forwarder, iperf3 one stream, ${seconds}s x ${runs} per direction; ${cpus().length} CPUs, node ${process.version}`,
  );
  console.log('| path | MTU | up Gbit/s | down Gbit/s | retransmits |');
  console.log('|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.path} | ${r.mtu} | ${fmt(r.upGbps)} | ${fmt(r.downGbps)} | ${r.retransmits} |`);
  for (const mtu of [1500, 65520]) {
    const fast = rows.find((r) => r.mtu === mtu && r.path.includes('batched')) as Row;
    const slow = rows.find((r) => r.mtu === mtu && r.path.includes('naive')) as Row;
    const ratio = (fast.upGbps + fast.downGbps) / Math.max(1e-9, slow.upGbps + slow.downGbps);
    console.log(`MTU ${mtu}: batched is ${ratio.toFixed(1)}x the naive forwarder`);
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ seconds, runs, rows }, null, 2)}\n`);
}

try {
  await main();
} finally {
  await deleteAllNetns();
}
