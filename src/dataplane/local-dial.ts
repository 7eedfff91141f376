// LocalDial is an Upstream that opens each flow by dialing a real socket on
// this machine ("tun2socket"): TCP flows become net.Socket connections, UDP
// flows connected dgram sockets. Tests and benchmarks use it to exercise the
// stack without a cluster. ICMP echo is refused as `forbidden` (Node has no
// ping sockets), so the app gets an administratively-prohibited unreachable.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type {
  DatagramChannel,
  Flow,
  StackDatagrams,
  StackStream,
  StreamChannel,
  Upstream,
} from '../netstack/upstream.ts';
import { rejectReasonFor } from '../tunnel/reject.ts';

/** DialTarget is where a flow is dialed on this machine. */
export interface DialTarget {
  host: string;
  port: number;
}

/** LocalDialOptions choose targets and bound buffering. */
export interface LocalDialOptions {
  /** resolve maps a flow to what to dial (default: its own destination); undefined rejects it as forbidden. */
  resolve?: (flow: Flow) => DialTarget | undefined;
  /** dialTimeout bounds a TCP connect (ms, default 10 s); expiry rejects with `timeout`. */
  dialTimeout?: number;
  /** window is the credit granted per TCP flow: bytes from the app that may wait in the socket's write queue (default 2 MiB). */
  window?: number;
}

/** LocalDialStats count the upstream's flows. */
export interface LocalDialStats {
  streamsOpened: number;
  streamsRejected: number;
  datagramFlows: number;
}

/** LocalDial dials flows as local sockets. */
export class LocalDial implements Upstream {
  readonly stats: LocalDialStats = { streamsOpened: 0, streamsRejected: 0, datagramFlows: 0 };
  readonly #resolve: (flow: Flow) => DialTarget | undefined;
  readonly #dialTimeout: number;
  readonly #window: number;
  readonly #sockets = new Set<net.Socket | dgram.Socket>();

  constructor(opts: LocalDialOptions = {}) {
    this.#resolve = opts.resolve ?? ((f) => ({ host: f.dst.address, port: f.dst.port }));
    this.#dialTimeout = opts.dialTimeout ?? 10_000;
    this.#window = opts.window ?? 2 << 20;
  }

  /** close destroys every socket this upstream opened. */
  close(): void {
    for (const s of this.#sockets) {
      if (s instanceof net.Socket) s.destroy();
      else s.close();
    }
    this.#sockets.clear();
  }

  /** sockets describes the sockets this upstream holds open ("tcp HOST:PORT" or "udp HOST:PORT"), for tests and diagnostics. */
  sockets(): string[] {
    const out: string[] = [];
    for (const s of this.#sockets) {
      if (s instanceof net.Socket) out.push(`tcp ${s.remoteAddress}:${s.remotePort}`);
      else {
        let peer = 'unconnected';
        try {
          const a = s.remoteAddress();
          peer = `${a.address}:${a.port}`;
        } catch {
          // not connected yet
        }
        out.push(`udp ${peer}`);
      }
    }
    return out;
  }

  /** queued is how many app bytes wait in the write queues of sockets dialed to port (bounded by the window). */
  queued(port: number): number {
    let n = 0;
    for (const s of this.#sockets) if (s instanceof net.Socket && s.remotePort === port) n += s.writableLength;
    return n;
  }

  openStream(flow: Flow, stream: StackStream): void {
    const target = this.#resolve(flow);
    if (!target) {
      this.stats.streamsRejected++;
      stream.reject('forbidden');
      return;
    }
    const sock = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
    this.#sockets.add(sock);
    let open = false;
    let done = false; // the stack was told the flow is over (reject or reset)
    let credit = 0; // bytes we may still write towards the app
    let held: Uint8Array | undefined; // bytes read beyond credit, waiting for more
    let eof = false;
    const timer = setTimeout(() => {
      if (open) return;
      done = true;
      this.stats.streamsRejected++;
      stream.reject('timeout');
      sock.destroy();
    }, this.#dialTimeout);

    const pump = () => {
      if (held && credit > 0) {
        const n = Math.min(credit, held.length);
        stream.write(held.subarray(0, n));
        credit -= n;
        held = n === held.length ? undefined : held.subarray(n);
      }
      if (held) return;
      if (eof) {
        eof = false;
        stream.end();
      } else if (credit > 0 && sock.isPaused()) sock.resume();
    };

    const channel: StreamChannel = {
      write: (data) => {
        if (sock.destroyed) return;
        const n = data.length;
        sock.write(data, () => stream.grant(n));
      },
      grant: (n) => {
        credit += n;
        pump();
      },
      end: () => {
        if (!sock.destroyed) sock.end();
      },
      reset: () => {
        done = true;
        if (!sock.destroyed) sock.resetAndDestroy();
      },
    };

    sock.on('connect', () => {
      clearTimeout(timer);
      if (done) return;
      open = true;
      this.stats.streamsOpened++;
      // No pause needed: nothing is read before accept and grant return (same tick).
      stream.accept(channel);
      stream.grant(this.#window);
    });
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      if (chunk.length <= credit && !held) {
        credit -= chunk.length;
        stream.write(chunk);
      } else {
        const n = held ? 0 : Math.max(0, credit);
        if (n > 0) stream.write(chunk.subarray(0, n));
        credit -= n;
        held = held ? concat(held, chunk.subarray(n)) : chunk.subarray(n);
      }
      if (credit <= 0 || held) sock.pause();
    });
    sock.on('end', () => {
      if (done) return;
      eof = true;
      pump();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (done) return;
      done = true;
      if (!open) {
        this.stats.streamsRejected++;
        stream.reject(rejectReasonFor(err.code));
      } else stream.reset();
    });
    sock.on('close', () => {
      clearTimeout(timer);
      this.#sockets.delete(sock);
      if (done || !open) return;
      // Closed without error: both directions ended normally; the stack already has FIN both ways.
    });
  }

  openDatagram(flow: Flow, datagrams: StackDatagrams): void {
    const target = flow.protocol === 'udp' ? this.#resolve(flow) : undefined;
    if (!target) {
      datagrams.reject('forbidden');
      return;
    }
    const sock = dgram.createSocket(flow.version === 4 ? 'udp4' : 'udp6');
    this.#sockets.add(sock);
    let open = false;
    const channel: DatagramChannel = {
      send: (d) => sock.send(d),
      close: () => {
        if (this.#sockets.delete(sock)) sock.close();
      },
    };
    sock.on('message', (msg) => datagrams.send(msg));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!open) datagrams.reject(rejectReasonFor(err.code));
      else datagrams.close();
      if (this.#sockets.delete(sock)) sock.close();
    });
    sock.connect(target.port, target.host, () => {
      open = true;
      this.stats.datagramFlows++;
      datagrams.accept(channel);
    });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
