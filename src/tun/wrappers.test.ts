import test from 'ava';
import { ChannelTun } from './channel.ts';
import { applyFaults, type FaultCounts, FaultTun, mulberry32 } from './fault.ts';
import { PcapTun, pcapFileHeader, pcapRecord } from './pcap.ts';

test('pcap: global header is little-endian 2.4 with LINKTYPE_RAW; records carry time and lengths', (t) => {
  const h = new DataView(pcapFileHeader().buffer);
  t.is(h.getUint32(0, true), 0xa1b2c3d4);
  t.is(h.getUint16(4, true), 2);
  t.is(h.getUint16(6, true), 4);
  t.is(h.getUint32(20, true), 101);
  const [rec, body] = pcapRecord(new Uint8Array(100), 1_700_000_000_123, 64);
  const r = new DataView((rec as Uint8Array).buffer);
  t.is(r.getUint32(0, true), 1_700_000_000);
  t.is(r.getUint32(4, true), 123_000);
  t.is(r.getUint32(8, true), 64, 'captured length is capped by snaplen');
  t.is(r.getUint32(12, true), 100, 'original length is kept');
  t.is(body?.byteLength, 64);
});

test('PcapTun records both directions', async (t) => {
  const [dev, peer] = ChannelTun.pair();
  const chunks: Uint8Array[] = [];
  const pcap = new PcapTun(
    dev,
    (c) => chunks.push(c),
    () => 0,
  );
  const got = new Promise<Uint8Array[]>((res) => pcap.attach({ packets: res }));
  peer.write([new Uint8Array([0x45, 1, 2, 3])]);
  await got;
  pcap.write([[new Uint8Array([0x45, 9]), new Uint8Array([8])]]);
  // header + (record header + body) for each packet
  t.is(chunks.length, 1 + 2 * 2);
  t.deepEqual([...(chunks[4] as Uint8Array)], [0x45, 9, 8]);
  dev.close();
  peer.close();
});

test('faults are deterministic for a seed and counted', (t) => {
  const batch = Array.from({ length: 1000 }, (_, i) => new Uint8Array([i & 0xff, 1, 2, 3]));
  const run = () => {
    const counts: FaultCounts = { dropped: 0, duplicated: 0, reordered: 0, corrupted: 0 };
    const out = applyFaults(
      batch,
      { drop: 0.1, duplicate: 0.05, corrupt: 0.05, reorder: 0.05 },
      mulberry32(42),
      counts,
    );
    return { out: out.map((p) => [...p].join(',')), counts };
  };
  const a = run();
  t.deepEqual(a, run());
  t.true(a.counts.dropped > 50 && a.counts.dropped < 150, `dropped ${a.counts.dropped}`);
  t.is(a.out.length, 1000 - a.counts.dropped + a.counts.duplicated);
  t.is(batch[0]?.[1], 1, 'corruption never touches the input buffers');
});

test('FaultTun drops only in the direction it is told to', async (t) => {
  const [dev, peer] = ChannelTun.pair();
  const faulty = new FaultTun(dev, { seed: 1, drop: 1, direction: 'outbound' });
  const inbound = new Promise<Uint8Array[]>((res) => faulty.attach({ packets: res }));
  peer.write([new Uint8Array([0x45])]);
  t.is((await inbound).length, 1, 'inbound untouched');
  faulty.write([new Uint8Array([0x45]), new Uint8Array([0x45])]);
  t.is(faulty.counts.dropped, 2);
  dev.close();
  peer.close();
});
