// Flows: one channel bridged to one real socket. Backpressure runs end to
// end (ARCHITECTURE decision 7): the destination socket is paused while the
// channel has no credit, and received bytes are released (credit granted back)
// only once the destination socket has taken them.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIPv6, type Socket } from 'node:net';
import type { DatagramChannel, StreamChannel } from '../tunnel/index.ts';

/**
 * bridgeStream joins a TCP channel and a connected socket until both directions
 * end or either resets. The socket must have writableHighWaterMark 1 (dialTcp
 * makes it so): then any byte left queued makes write() return false, so a
 * 'drain' always follows and returns the credit.
 */
export function bridgeStream(ch: StreamChannel, sock: Socket): void {
  sock.on('data', (d: Buffer) => {
    if (!ch.write(d)) sock.pause();
  });
  ch.on('drain', () => sock.resume());
  // Credit goes back once the destination's kernel buffer has the bytes: at
  // once when the write completed synchronously, else on 'drain' (everything
  // queued in the socket has been written). No per-write callback. Node emits
  // no 'drain' once end() was called, so bytes still queued then go back on
  // 'finish' (all written) or 'close' (the socket is gone and dropped them):
  // every byte received returns to the session exactly once.
  let unreleased = 0;
  const releaseAll = (): void => {
    if (unreleased > 0) {
      const n = unreleased;
      unreleased = 0;
      ch.release(n);
    }
  };
  ch.on('data', (d) => {
    sock.write(d);
    if (sock.writableLength === 0) ch.release(d.length);
    else unreleased += d.length;
  });
  sock.on('drain', releaseAll);
  sock.on('finish', releaseAll);
  ch.on('end', () => sock.end()); // the laptop half-closed: FIN to the destination
  sock.on('end', () => ch.end()); // the destination half-closed: CLOSE to the laptop
  sock.on('error', (err: NodeJS.ErrnoException) => {
    const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
    ch.reset(reset ? 'connection-reset' : 'internal', err.message);
  });
  sock.on('close', () => {
    releaseAll();
    if (ch.state === 'open' && !ch.localEnded) ch.reset('connection-reset', 'the destination socket closed');
  });
  ch.on('close', (end) => {
    if (end.kind === 'closed') sock.end();
    else sock.destroy(); // a reset or the session's end: the destination sees the connection drop
  });
}

/** openUdp makes a UDP socket connected to host:port. */
export function openUdp(
  host: string,
  port: number,
): Promise<{ ok: true; socket: UdpSocket } | { ok: false; err: NodeJS.ErrnoException }> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close();
      resolve({ ok: false, err });
    };
    socket.once('error', onError);
    socket.connect(port, host, () => {
      socket.off('error', onError);
      resolve({ ok: true, socket });
    });
  });
}

/** bridgeDatagrams joins a UDP channel and a connected UDP socket; idle channels are reset after idleMs. */
export function bridgeDatagrams(ch: DatagramChannel, sock: UdpSocket, idleMs: number): void {
  let lastActive = performance.now();
  sock.on('message', (msg) => {
    lastActive = performance.now();
    ch.send(msg); // no credit: dropped and counted, as UDP may
  });
  // ICMP errors for a connected UDP socket (port unreachable) arrive as
  // socket errors; UDP has no connection to break, so they are ignored.
  sock.on('error', () => {});
  ch.on('data', (d) => {
    lastActive = performance.now();
    sock.send(d);
  });
  ch.on('end', () => ch.end());
  const idle = setInterval(
    () => {
      if (performance.now() - lastActive > idleMs) ch.reset('timeout', `UDP flow idle for ${idleMs} ms`);
    },
    Math.min(idleMs, 30_000),
  );
  idle.unref();
  ch.on('close', () => {
    clearInterval(idle);
    sock.close();
  });
}
