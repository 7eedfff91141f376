// The upstream interface: how the stack hands flows to whatever carries them
// (the tunnel to the gateway, or local sockets in src/dataplane/local-dial.ts).
//
// It maps 1:1 onto a tunnel channel:
//
//   stack → upstream                    tunnel frame
//   Upstream.openStream(flow, stream)   OPEN {protocol tcp, src, dst}
//   StreamChannel.write(bytes)          DATA          (app → upstream; never more than granted)
//   StreamChannel.grant(n)              WINDOW n      (stack's free send buffer: bytes upstream may write)
//   StreamChannel.end()                 CLOSE         (the app sent FIN: half-close app → upstream)
//   StreamChannel.reset()               RESET         (the app sent RST, or the stack aborted)
//
//   upstream → stack
//   StackStream.accept(channel)         OPEN_OK       (dial succeeded; only now is the SYN-ACK sent)
//   StackStream.reject(reason)          OPEN_REJECT   (refused, limit → RST; unreachable, timeout, invalid → ICMP host
//                                                      unreachable; forbidden → ICMP administratively prohibited)
//   StackStream.grant(n)                WINDOW n      (upstream credit: bytes the stack may write; it IS the TCP receive window)
//   StackStream.write(bytes)            DATA          (towards the app; at most what the stack granted)
//   StackStream.end()                   CLOSE         (FIN to the app once the bytes before it are acknowledged)
//   StackStream.reset()                 RESET         (RST to the app)
//
// Datagram flows (UDP, ICMP echo) keep message boundaries and have no credit:
// a datagram that cannot be carried is dropped, as IP would.
//
// Ownership: a Uint8Array passed to write/send belongs to the receiver from
// then on; the sender must not modify it. Calls never re-enter the caller
// synchronously in a way that changes its state (the stack only records an
// upstream call and acts on it at its next dispatch).

/** FlowProtocol is the transport protocol of a flow. */
export type FlowProtocol = 'tcp' | 'udp' | 'icmp';

/** Endpoint is one side of a flow; for ICMP echo the source port is the echo identifier and the destination port 0. */
export interface Endpoint {
  address: string;
  port: number;
}

/** Flow identifies a flow as the app sees it: src is the app's socket, dst the address it dialed. */
export interface Flow {
  protocol: FlowProtocol;
  version: 4 | 6;
  src: Endpoint;
  dst: Endpoint;
}

/** FlowAddresses are a flow's addresses as bytes (copies, never views into TUN buffers): local is the address the app dialed. */
export interface FlowAddresses {
  local: Uint8Array;
  remote: Uint8Array;
}

/** RejectReason says why an upstream could not open a flow (the tunnel's OPEN_REJECT reasons). */
export type RejectReason = 'refused' | 'unreachable' | 'timeout' | 'forbidden' | 'limit' | 'invalid';

/** StreamChannel is the upstream's end of an accepted TCP flow; the stack calls it. */
export interface StreamChannel {
  /** write carries bytes the app sent; the stack never exceeds the credit granted through StackStream.grant. */
  write(data: Uint8Array): void;
  /** grant gives the upstream n more bytes of credit to write towards the app (free send-buffer space). */
  grant(n: number): void;
  /** end says the app half-closed its sending side (FIN); no write follows. */
  end(): void;
  /** reset aborts the flow (app RST, retransmission limit, stack shutdown); nothing follows. */
  reset(): void;
}

/** StackStream is the stack's end of a TCP flow; the upstream calls it. */
export interface StackStream {
  /** accept completes the open: the stack answers the app's SYN. Call at most once, before anything else but reject. */
  accept(channel: StreamChannel): void;
  /** reject fails the open; the app sees the error for reason at once. */
  reject(reason: RejectReason): void;
  /** grant gives the stack n more bytes of credit to write app bytes (it bounds the advertised TCP window). */
  grant(n: number): void;
  /** write sends bytes to the app; their total must stay within what the stack granted, or the flow is reset. */
  write(data: Uint8Array): void;
  /** end sends FIN to the app after the bytes already written. */
  end(): void;
  /** reset sends RST to the app and forgets the flow. */
  reset(): void;
}

/** DatagramChannel is the upstream's end of an accepted datagram flow; the stack calls it. */
export interface DatagramChannel {
  /** send carries one datagram from the app (UDP payload, or the ICMP echo message from its type byte). */
  send(datagram: Uint8Array): void;
  /** close ends the flow (idle timeout or stack shutdown). */
  close(): void;
}

/** StackDatagrams is the stack's end of a datagram flow; the upstream calls it. */
export interface StackDatagrams {
  /** accept completes the open; datagrams the app sent meanwhile (a bounded few) are sent to channel at once. */
  accept(channel: DatagramChannel): void;
  /** reject fails the open; the app gets an ICMP unreachable for the datagrams it sent. */
  reject(reason: RejectReason): void;
  /** send delivers one datagram to the app (UDP payload, or an ICMP echo reply message from its type byte). */
  send(datagram: Uint8Array): void;
  /** close forgets the flow. */
  close(): void;
}

/** Upstream opens flows for the stack. It must answer every open with accept or reject (the stack times out opens itself). */
export interface Upstream {
  /** openStream starts dialing flow.dst for a TCP SYN from the app. */
  openStream(flow: Flow, stream: StackStream): void;
  /** openDatagram starts a UDP or ICMP echo flow. */
  openDatagram(flow: Flow, datagrams: StackDatagrams): void;
}
