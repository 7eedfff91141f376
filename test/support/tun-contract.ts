// The TunDevice contract: one suite that every device must pass, run against
// ChannelTun (in memory) and NativeTun (the kernel, as root, in a netns).
// The device under test reflects traffic (ICMP echo → reply, UDP → echo to
// sender); the OS side is driven through OsSide.
import type { ExecutionContext, TestFn } from 'ava';
import type { TunDevice } from '../../src/tun/device.ts';
import { reflect, udp4 } from './packets.ts';

/** OsSide drives the other end of the device: the kernel, or a fake of it. */
export interface OsSide {
  /** osAddr is the OS's own address; devAddr an address routed into the device. */
  osAddr: string;
  devAddr: string;
  /** ping sends count echo requests of size bytes and resolves to the replies received. */
  ping(count: number, size: number): Promise<number>;
  /** udpRoundTrip sends count datagrams to devAddr and counts exact echoes. */
  udpRoundTrip(count: number, size: number, timeoutMs: number): Promise<{ received: number; mismatched: number }>;
  /** flood sends count datagrams without waiting for anything. */
  flood(count: number, size: number): Promise<void>;
  /** gone reports whether the device has disappeared from the OS (after close). */
  gone(): Promise<boolean>;
}

/** TunHarness is a device under test with its OS side. */
export interface TunHarness {
  device: TunDevice;
  os: OsSide;
  cleanup(): Promise<void>;
}

interface Reflector {
  batches: number[];
  afterClose: number;
  closed: boolean;
}

function attachReflector(device: TunDevice): Reflector {
  const r: Reflector = { batches: [], afterClose: 0, closed: false };
  device.attach({
    packets: (batch) => {
      if (r.closed) r.afterClose++;
      r.batches.push(batch.length);
      const replies = [];
      for (const p of batch) {
        const reply = reflect(p);
        if (reply) replies.push(reply);
      }
      if (replies.length > 0) device.write(replies);
    },
  });
  return r;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** runTunContract registers the contract tests for one kind of device. */
export function runTunContract(
  test: TestFn,
  label: string,
  make: () => Promise<TunHarness>,
  register: (title: string, fn: (t: ExecutionContext) => Promise<void>) => void = (title, fn) => test.serial(title, fn),
): void {
  register(`${label}: ping through the device`, async (t) => {
    const h = await make();
    try {
      attachReflector(h.device);
      t.is(await h.os.ping(3, 56), 3);
      t.is(await h.os.ping(1, 60000), 1, 'a 60 KB echo crosses in one packet');
    } finally {
      await h.cleanup();
    }
  });

  register(`${label}: 64 KiB packets arrive byte for byte both ways`, async (t) => {
    const h = await make();
    try {
      attachReflector(h.device);
      const r = await h.os.udpRoundTrip(8, h.device.mtu - 28, 5000);
      t.deepEqual(r, { received: 8, mismatched: 0 });
    } finally {
      await h.cleanup();
    }
  });

  register(`${label}: reads come in batches`, async (t) => {
    const h = await make();
    try {
      const refl = attachReflector(h.device);
      h.device.pause();
      const rt = h.os.udpRoundTrip(50, 512, 8000);
      // The OS side may be a freshly started process: give it time to send while reads are paused.
      await sleep(1500);
      h.device.resume();
      t.deepEqual(await rt, { received: 50, mismatched: 0 });
      t.true(Math.max(...refl.batches) > 1, `batch sizes ${refl.batches.join(',')}`);
    } finally {
      await h.cleanup();
    }
  });

  register(`${label}: a write burst never blocks or throws; every packet is delivered or counted`, async (t) => {
    const h = await make();
    try {
      let drains = 0;
      h.device.attach({ packets: () => undefined, drain: () => drains++ });
      const n = 4000;
      const pkts = [];
      for (let i = 0; i < n; i++) pkts.push(udp4(h.os.devAddr, 40000, h.os.osAddr, 9, new Uint8Array(1200)));
      let accepted = true;
      for (let i = 0; i < n; i += 500) accepted = h.device.write(pkts.slice(i, i + 500)) && accepted;
      for (let i = 0; i < 100; i++) {
        const s = h.device.stats();
        if (s.packetsOut + s.drops + s.writeErrors === n) break;
        await sleep(20);
      }
      const s = h.device.stats();
      t.is(s.packetsOut + s.drops + s.writeErrors, n);
      if (!accepted) {
        for (let i = 0; i < 100 && drains === 0; i++) await sleep(20);
        t.true(drains > 0, 'a refused write is followed by drain');
      }
    } finally {
      await h.cleanup();
    }
  });

  register(`${label}: close under load stops delivery at once and frees the device`, async (t) => {
    const h = await make();
    try {
      const refl = attachReflector(h.device);
      const flood = h.os.flood(3000, 1000);
      await sleep(30);
      h.device.close();
      refl.closed = true;
      t.false(h.device.write([udp4(h.os.devAddr, 1, h.os.osAddr, 9, new Uint8Array(8))]));
      h.device.close();
      await flood;
      await sleep(50);
      t.is(refl.afterClose, 0);
      t.true(await h.os.gone());
    } finally {
      await h.cleanup();
    }
  });
}
