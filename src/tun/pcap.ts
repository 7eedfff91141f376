// PcapTun wraps any TunDevice and records every packet, both directions, in
// the classic pcap format with LINKTYPE_RAW (101): each record is one raw IPv4
// or IPv6 packet, readable by tcpdump -r and Wireshark.
// Format: https://www.tcpdump.org/manpages/pcap-savefile.5.html
import { flattenPacket, type Packet, type TunDevice, type TunHandlers } from './device.ts';
import { TunWrapper } from './wrapper.ts';

const LINKTYPE_RAW = 101;

/** pcapFileHeader is the 24-byte global header (microsecond timestamps). */
export function pcapFileHeader(snaplen = 65535): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, snaplen, true);
  v.setUint32(20, LINKTYPE_RAW, true);
  return b;
}

/** pcapRecord frames one packet captured at nowMs (milliseconds since the epoch). */
export function pcapRecord(packet: Uint8Array, nowMs: number, snaplen = 65535): Uint8Array[] {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  const incl = Math.min(packet.byteLength, snaplen);
  v.setUint32(0, Math.floor(nowMs / 1000), true);
  v.setUint32(4, Math.floor((nowMs % 1000) * 1000), true);
  v.setUint32(8, incl, true);
  v.setUint32(12, packet.byteLength, true);
  return [h, incl === packet.byteLength ? packet : packet.subarray(0, incl)];
}

/** PcapTun records traffic through an inner device into sink (for example a file stream's write). */
export class PcapTun extends TunWrapper {
  readonly #sink: (chunk: Uint8Array) => void;
  readonly #now: () => number;

  constructor(inner: TunDevice, sink: (chunk: Uint8Array) => void, now: () => number = Date.now) {
    super(inner);
    this.#sink = sink;
    this.#now = now;
    sink(pcapFileHeader());
  }

  override attach(handlers: TunHandlers): void {
    this.inner.attach({
      ...handlers,
      packets: (batch) => {
        for (const p of batch) this.#record(p);
        handlers.packets(batch);
      },
    });
  }

  override write(packets: readonly Packet[]): boolean {
    for (const p of packets) this.#record(flattenPacket(p));
    return this.inner.write(packets);
  }

  #record(p: Uint8Array): void {
    for (const chunk of pcapRecord(p, this.#now())) this.#sink(chunk);
  }
}
