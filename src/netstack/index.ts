// netstack: the catch-all userspace TCP/UDP/ICMP stack. Pure and clock-free.
export { DatagramFlow } from './datagram-flow.ts';
export { MAX_PACKET_PARTS, type OutPacket } from './packet.ts';
export { type FlowView, NetStack, type StackCounters, type StackOptions } from './stack.ts';
export { type TcpConfig, TcpConnection, type TcpState } from './tcp-connection.ts';
export type * from './upstream.ts';
