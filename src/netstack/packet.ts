// What the stack hands its driver to write to the TUN.

/** OutPacket is one IP packet to write to the TUN, whole or as parts written back to back. */
export type OutPacket = Uint8Array | readonly Uint8Array[];

/**
 * MAX_PACKET_PARTS bounds the parts of every OutPacket the stack emits (IP
 * header included), so a device writes any packet with one small iovec; a
 * TCP segment whose payload would take more parts is copied into one.
 */
export const MAX_PACKET_PARTS = 16;
