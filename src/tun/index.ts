// The tun component: devices that move raw IP packets. See device.ts.
export { ChannelTun, type ChannelTunOptions } from './channel.ts';
export {
  emptyStats,
  flattenPacket,
  type Packet,
  packetLength,
  type TunDevice,
  type TunHandlers,
  type TunStats,
} from './device.ts';
export { applyFaults, type FaultCounts, type FaultOptions, FaultTun, mulberry32 } from './fault.ts';
export { DEFAULT_TUN_MTU, MAX_TUN_MTU, NativeTun, type NativeTunOptions } from './native.ts';
export { PcapTun, pcapFileHeader, pcapRecord } from './pcap.ts';
export { TunWrapper } from './wrapper.ts';
