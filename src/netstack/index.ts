// netstack: the catch-all userspace TCP/UDP/ICMP stack. Pure and clock-free.
export { DatagramFlow } from './datagram-flow.ts';
export { NetStack, type OutPacket, type StackCounters, type StackOptions } from './stack.ts';
export { type TcpConfig, TcpConnection, type TcpState } from './tcp-connection.ts';
export type * from './upstream.ts';
