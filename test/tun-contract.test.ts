// The TunDevice contract against ChannelTun and, as root, the native TUN in a netns.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import test from 'ava';
import { ChannelTun } from '../src/tun/channel.ts';
import { FaultTun } from '../src/tun/fault.ts';
import { NativeTun } from '../src/tun/native.ts';
import { PcapTun } from '../src/tun/pcap.ts';
import { deleteAllNetns, Netns, sh } from './support/netns.ts';
import { echo4, parse4, udp4 } from './support/packets.ts';
import { isRoot, rootTest } from './support/root.ts';
import { type OsSide, runTunContract, type TunHarness } from './support/tun-contract.ts';

test.after.always(deleteAllNetns);

// --- ChannelTun: the OS is played in memory by the peer device of a pair.
async function channelHarness(): Promise<TunHarness> {
  const [device, peer] = ChannelTun.pair({ queueLimit: 256 });
  const osAddr = '10.77.0.1';
  const devAddr = '10.77.0.2';
  const received: Uint8Array[] = [];
  const waiters: (() => void)[] = [];
  peer.attach({
    packets: (batch) => {
      received.push(...batch);
      for (const w of waiters.splice(0)) w();
    },
  });
  const collect = async (want: number, pred: (p: Uint8Array) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (received.filter(pred).length < want && Date.now() < deadline) {
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 20);
      });
    }
    const got = received.filter(pred);
    received.length = 0;
    return got;
  };
  const payload = (i: number, size: number) => {
    const b = new Uint8Array(size);
    for (let j = 0; j < size; j++) b[j] = (i * 31 + j * 7) & 0xff;
    new DataView(b.buffer).setUint32(0, i);
    return b;
  };
  const os: OsSide = {
    osAddr,
    devAddr,
    ping: async (count, size) => {
      const reqs = [];
      for (let i = 0; i < count; i++) reqs.push(echo4(osAddr, devAddr, 8, 7, i, new Uint8Array(size)));
      peer.write(reqs);
      return (await collect(count, (p) => parse4(p)?.proto === 1 && parse4(p)?.payload[0] === 0, 2000)).length;
    },
    udpRoundTrip: async (count, size, timeoutMs) => {
      const sent = [];
      for (let i = 0; i < count; i++) sent.push(udp4(osAddr, 5000, devAddr, 7, payload(i, size)));
      for (let i = 0; i < sent.length; i += 10) peer.write(sent.slice(i, i + 10));
      const got = await collect(count, (p) => parse4(p)?.proto === 17, timeoutMs);
      let ok = 0;
      for (const p of got) {
        const data = (parse4(p) as { payload: Uint8Array }).payload.subarray(8);
        const i = new DataView(data.buffer, data.byteOffset).getUint32(0);
        if (Buffer.from(data).equals(payload(i, size))) ok++;
      }
      return { received: ok, mismatched: got.length - ok };
    },
    flood: async (count, size) => {
      for (let i = 0; i < count; i += 100) {
        const batch = [];
        for (let j = i; j < Math.min(count, i + 100); j++) batch.push(udp4(osAddr, 5000, devAddr, 7, payload(j, size)));
        peer.write(batch);
        await new Promise((r) => setImmediate(r));
      }
    },
    gone: async () => device.closed,
  };
  return {
    device,
    os,
    cleanup: async () => {
      device.close();
      peer.close();
    },
  };
}

runTunContract(test, 'ChannelTun', channelHarness);

// Wrappers must keep the contract of the device they wrap.
runTunContract(test, 'PcapTun(ChannelTun)', async () => {
  const h = await channelHarness();
  const captured: Uint8Array[] = [];
  return { ...h, device: new PcapTun(h.device, (c) => captured.push(c)) };
});
runTunContract(test, 'FaultTun(ChannelTun) with no faults', async () => {
  const h = await channelHarness();
  return { ...h, device: new FaultTun(h.device, { seed: 7 }) };
});

// --- NativeTun: the kernel is the OS, inside a namespace of its own.
const udpPeer = resolve(import.meta.dirname, 'support/udp-peer.ts');

async function nativeHarness(): Promise<TunHarness> {
  const ns = await Netns.create('tun');
  const name = `dnt${process.pid % 100000}`;
  const device = NativeTun.open(name, { mtu: 65520 });
  const osAddr = '10.77.0.1';
  const devAddr = '10.77.0.2';
  try {
    await sh('ip', ['link', 'set', 'dev', name, 'mtu', '65520', 'netns', ns.name]);
    await ns.ip('addr', 'add', `${osAddr}/24`, 'dev', name);
    await ns.ip('link', 'set', name, 'up');
  } catch (err) {
    device.close();
    await ns.delete();
    throw err;
  }
  const peer = (args: string[]) =>
    new Promise<{ received: number; mismatched: number }>((res, rej) => {
      const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, udpPeer, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('exit', () => {
        try {
          const r = JSON.parse(out);
          res({ received: r.received, mismatched: r.mismatched });
        } catch {
          rej(new Error(`udp-peer printed ${JSON.stringify(out)}`));
        }
      });
    });
  const os: OsSide = {
    osAddr,
    devAddr,
    ping: async (count, size) => {
      const out = await ns
        .exec('ping', ['-n', '-q', '-c', String(count), '-i', '0.05', '-W', '2', '-s', String(size), devAddr])
        .catch((e: Error) => e.message);
      const m = /(\d+) received/.exec(out);
      return m ? Number(m[1]) : 0;
    },
    udpRoundTrip: (count, size, timeoutMs) =>
      peer(['roundtrip', devAddr, '7', String(count), String(size), String(timeoutMs)]),
    flood: async (count, size) => {
      await peer(['flood', devAddr, '7', String(count), String(size)]);
    },
    gone: async () => !(await ns.ip('-o', 'link').then((s) => s.includes(name))),
  };
  return {
    device,
    os,
    cleanup: async () => {
      device.close();
      await ns.delete();
    },
  };
}

if (isRoot || process.env.CI) {
  runTunContract(test, 'NativeTun', nativeHarness, (title, fn) => rootTest(title, fn));
} else {
  rootTest('NativeTun contract', () => undefined);
}

rootTest('NativeTun: a packet in any number of parts, or with a part that is not bytes, never throws', async (t) => {
  // The addon once threw a RangeError for more than 16 parts; thrown from a
  // write inside the TUN's own callback, that ended the daemon.
  const { device, os, cleanup } = await nativeHarness();
  try {
    const replies: number[] = [];
    device.attach({
      packets: (batch) => {
        for (const p of batch) {
          const ip = parse4(p);
          if (ip?.proto === 1 && ip.payload[0] === 0)
            replies.push(new DataView(ip.payload.buffer, ip.payload.byteOffset).getUint16(6));
        }
      },
    });
    const request = (seq: number) => echo4(os.devAddr, os.osAddr, 8, 9, seq, new Uint8Array(4000).fill(seq));
    const split = (p: Uint8Array, n: number) => {
      const size = Math.ceil(p.length / n);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < p.length; i += size) parts.push(p.subarray(i, i + size));
      return parts;
    };
    const junk = [request(3).subarray(0, 20), 'not bytes', 7] as unknown as Uint8Array[];
    t.notThrows(() => device.write([split(request(1), 40), split(request(2), 2000), junk, split(request(4), 17)]));
    for (let i = 0; i < 100 && replies.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    t.deepEqual(replies.sort(), [1, 2, 4]);
    t.is(device.stats().writeErrors, 1);
  } finally {
    await cleanup();
  }
});
