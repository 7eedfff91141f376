// wire: pure parse/emit of the packets devnet's stack handles. No I/O.
export * from './checksum.ts';
export * from './icmp.ts';
export * from './ip.ts';
export * from './ipv4.ts';
export * from './ipv6.ts';
export * from './tcp.ts';
export * from './udp.ts';
