// The WAN bench's link emulator: two TUN devices (the laptop's and the
// gateway's end of the link, moved into their namespaces by the caller) and,
// each way, a WanLink (bench/support/wan-link.ts) that delays every packet by
// half the RTT and sends it no faster than the rate, dropping what overflows
// a one-BDP queue. Everything the laptop sends anywhere but its loopback
// crosses it: the API server's connection, each peer's carrier (TCP or UDP).
// Usage: wan-forwarder --a NAME --b NAME --mtu N --rtt-ms N --rate-mbps N
// Prints "ready" once both devices are open; a line "RTT_MS RATE_MBPS" on
// stdin reshapes the link (answered "shaped ..."); runs until SIGTERM.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { NativeTun } from '../src/tun/native.ts';
import { type LinkShape, shapeOf, WanLink } from './support/wan-link.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    mtu: { type: 'string' },
    'rtt-ms': { type: 'string' },
    'rate-mbps': { type: 'string' },
  },
});
const mtu = Number(values.mtu ?? 1500);
const shape = shapeOf({ rttMs: Number(values['rtt-ms']), rateMbps: Number(values['rate-mbps']) });

/** OneWay carries packets read from `from` to `to` through its own WanLink. */
class OneWay {
  link: WanLink<Uint8Array>;
  readonly #to: NativeTun;
  #timer: NodeJS.Timeout | undefined;

  constructor(from: NativeTun, to: NativeTun, shape: LinkShape) {
    this.link = new WanLink(shape);
    this.#to = to;
    from.attach({
      packets: (batch) => {
        const now = performance.now();
        for (const p of batch) this.link.offer(p, now);
        this.#arm(now);
      },
      drain: () => {},
    });
  }

  /** reshape delivers what the old link holds at once and carries later packets on a link of the new shape. */
  reshape(shape: LinkShape): void {
    const held = this.link.arrived(Number.POSITIVE_INFINITY);
    if (held.length > 0) this.#to.write(held);
    this.link = new WanLink(shape);
  }

  #deliver = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    const due = this.link.arrived(now);
    if (due.length > 0) this.#to.write(due);
    this.#arm(now);
  };

  #arm(now: number): void {
    const next = this.link.nextArrival();
    if (this.#timer === undefined && next !== undefined)
      this.#timer = setTimeout(this.#deliver, Math.max(0, next - now));
  }
}

const a = NativeTun.open(values.a as string, { mtu, maxBatch: 64, queueLimit: 8192 });
const b = NativeTun.open(values.b as string, { mtu, maxBatch: 64, queueLimit: 8192 });
const ab = new OneWay(a, b, shape);
const ba = new OneWay(b, a, shape);
// A line "RTT_MS RATE_MBPS" on stdin changes the link's shape (the devices, and so the paths set up over them, stay).
createInterface({ input: process.stdin }).on('line', (line) => {
  const [rtt, rate] = line.trim().split(/\s+/).map(Number);
  if (!(Number.isFinite(rtt) && Number.isFinite(rate) && (rate as number) > 0)) return;
  const next = shapeOf({ rttMs: rtt as number, rateMbps: rate as number });
  ab.reshape(next);
  ba.reshape(next);
  process.stdout.write(`shaped ${rtt} ${rate}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`wan-forwarder: dropped ${ab.link.dropped} a→b, ${ba.link.dropped} b→a on the last shape\n`);
  a.close();
  b.close();
  process.exit(0);
});
process.stdout.write('ready\n');
