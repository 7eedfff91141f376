// A TUN↔TUN forwarder for bench/tun.ts: packets read from one device are
// written to the other. Two implementations, chosen by --mode:
//   batched  NativeTun: batched reads drained until EAGAIN, batched writev writes,
//            pause/resume backpressure
//   naive    one fs.read / fs.write per packet on blocking descriptors (the baseline)
// Usage: tun-forwarder --mode batched|naive --mtu N --a NAME --b NAME
// Prints "ready" once both devices are open; runs until SIGTERM.
import { read, write } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadAddon } from '../src/tun/addon.ts';
import { NativeTun } from '../src/tun/native.ts';

const { values } = parseArgs({
  options: { mode: { type: 'string' }, mtu: { type: 'string' }, a: { type: 'string' }, b: { type: 'string' } },
});
const mtu = Number(values.mtu ?? 65520);

function batched(aName: string, bName: string): void {
  const a = NativeTun.open(aName, { mtu });
  const b = NativeTun.open(bName, { mtu });
  const pipe = (from: NativeTun, to: NativeTun) => {
    from.attach({
      packets: (batch) => {
        if (!to.write(batch)) from.pause();
      },
      drain: () => to.resume(),
    });
  };
  pipe(a, b);
  pipe(b, a);
  process.on('SIGTERM', () => {
    a.close();
    b.close();
    process.exit(0);
  });
}

function naive(aName: string, bName: string): void {
  const addon = loadAddon();
  const a = addon.openTun(aName, { blocking: true });
  const b = addon.openTun(bName, { blocking: true });
  const pump = (from: number, to: number) => {
    const buf = Buffer.allocUnsafe(mtu + 64);
    const loop = () =>
      read(from, buf, 0, buf.length, null, (err, n) => {
        if (err) return;
        write(to, buf, 0, n, null, () => loop());
      });
    loop();
  };
  pump(a.fd, b.fd);
  pump(b.fd, a.fd);
  process.on('SIGTERM', () => process.exit(0));
}

if (values.mode === 'naive') naive(values.a as string, values.b as string);
else batched(values.a as string, values.b as string);
process.stdout.write('ready\n');
