// The TunDevice interface: what the rest of devnet sees of a TUN device.
// Implementations: NativeTun (the kernel's TUN through the addon), ChannelTun
// (in memory, for tests), and wrappers that wrap any device (PcapTun,
// FaultTun). Modelled on wireguard-go's tun.Device: batches both ways.

/** Packet is one IP packet, either contiguous or as parts written back to back (header + payload). */
export type Packet = Uint8Array | readonly Uint8Array[];

/** TunHandlers receive what a device produces. */
export interface TunHandlers {
  /** packets is called with each batch read from the device; the arrays and bytes are the receiver's to keep. */
  packets(batch: Uint8Array[]): void;
  /** drain is called when a write queue that was above its high-water mark has emptied. */
  drain?(): void;
  /** error is called for a failure of the device itself (not for one bad packet). */
  error?(err: Error): void;
}

/** TunStats are a device's counters; drops count packets discarded because the write queue was full. */
export interface TunStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  drops: number;
  writeErrors: number;
}

/** TunDevice moves raw IP packets (no link header) between the OS and devnet in batches. */
export interface TunDevice {
  readonly name: string;
  readonly mtu: number;
  /** attach starts delivery to handlers; a device has one receiver at a time. */
  attach(handlers: TunHandlers): void;
  /**
   * write queues packets towards the OS. It never blocks and never throws for
   * a full queue: packets beyond the queue bound are dropped and counted (the
   * peer is TCP, which retransmits). Returns false when the queue is above its
   * high-water mark; handlers.drain follows once it empties.
   */
  write(packets: readonly Packet[]): boolean;
  /** pause stops reading from the OS (the kernel queues, then drops); resume restarts it. */
  pause(): void;
  resume(): void;
  stats(): TunStats;
  /** close releases the device; no handler runs afterwards. Idempotent. */
  close(): void;
}

/** packetLength is the total byte length of a packet given whole or in parts. */
export function packetLength(p: Packet): number {
  if (p instanceof Uint8Array) return p.byteLength;
  let n = 0;
  for (const part of p) n += part.byteLength;
  return n;
}

/** flattenPacket returns a packet as one contiguous buffer (copying only when it has parts). */
export function flattenPacket(p: Packet): Uint8Array {
  if (p instanceof Uint8Array) return p;
  if (p.length === 1) return p[0] as Uint8Array;
  const out = new Uint8Array(packetLength(p));
  let off = 0;
  for (const part of p) {
    out.set(part, off);
    off += part.byteLength;
  }
  return out;
}

/** emptyStats returns zeroed counters. */
export function emptyStats(): TunStats {
  return { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, drops: 0, writeErrors: 0 };
}
