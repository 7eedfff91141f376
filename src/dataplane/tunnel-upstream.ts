// TunnelUpstream carries the netstack's flows over the tunnel session: each
// TCP flow becomes a stream channel and each UDP/ICMP flow a datagram channel,
// mapped 1:1 (src/netstack/upstream.ts lists the correspondence). Credit is
// passed through, never buffered beyond it: the tunnel channel's send credit
// is granted to the stack (it becomes the TCP window the app sees), and bytes
// from the gateway are released back to the tunnel only once the stack has
// taken them (ARCHITECTURE decision 7).
//
// Flows to local services (devnet's DNS address) are answered in-process and
// never touch the tunnel. While no session is up, new flows fail at once
// (refused → RST; datagrams → ICMP unreachable), so nothing hangs.
import type { Flow, RejectReason, StackDatagrams, StackStream, Upstream } from '../netstack/upstream.ts';
import type { DatagramChannel, Session, StreamChannel } from '../tunnel/index.ts';

/** LocalDatagramService answers datagrams to one address:port in-process (DNS over UDP). */
export type LocalDatagramService = (datagram: Uint8Array) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

/** LocalStreamService handles a TCP flow to one address:port in-process (DNS over TCP). */
export type LocalStreamService = (stream: StackStream) => void;

/** TunnelUpstreamOptions configure dialing. */
export interface TunnelUpstreamOptions {
  /** session returns the live tunnel session, or undefined while reconnecting. */
  session(): Session | undefined;
  /** dialTimeoutMs is what the gateway may spend dialing (0 = its default). */
  dialTimeoutMs?: number;
  /** localDatagram / localStream serve addresses inside devnet ("addr:port" keys). */
  localDatagram?: Map<string, LocalDatagramService>;
  localStream?: Map<string, LocalStreamService>;
}

/** TunnelUpstreamStats count flows by outcome. */
export interface TunnelUpstreamStats {
  streamsOpened: number;
  datagramFlowsOpened: number;
  rejected: number;
  noSession: number;
}

function mapReason(r: string): RejectReason {
  return r === 'refused' || r === 'unreachable' || r === 'timeout' || r === 'forbidden' || r === 'limit'
    ? r
    : 'unreachable';
}

/** bridgeStream joins an accepted tunnel stream channel and the stack's stream. */
export function bridgeStream(ch: StreamChannel, stream: StackStream): void {
  // app → gateway: credit granted to the stack and not yet used by it.
  let outstanding = 0;
  const grantToStack = () => {
    const delta = ch.writable - outstanding;
    if (delta > 0) {
      outstanding += delta;
      stream.grant(delta);
    }
  };
  // gateway → app: bytes received but not yet taken by the stack. Bytes
  // dropped (the app reset, or the flow ended before it read them) are
  // released all the same: every byte received goes back to the session once.
  let pending: Buffer[] = [];
  const dropPending = () => {
    const n = pending.reduce((sum, b) => sum + b.length, 0);
    pending = [];
    if (n > 0) ch.release(n);
  };
  let appCredit = 0;
  let remoteEnded = false;
  let endedToApp = false;
  const flush = () => {
    while (pending.length > 0 && appCredit > 0) {
      const head = pending[0] as Buffer;
      const n = Math.min(head.length, appCredit);
      const part = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) pending.shift();
      else pending[0] = head.subarray(n);
      appCredit -= n;
      stream.write(part);
      ch.release(n);
    }
    if (remoteEnded && pending.length === 0 && !endedToApp) {
      endedToApp = true;
      stream.end();
    }
  };
  ch.on('data', (chunk) => {
    pending.push(chunk);
    flush();
  });
  ch.on('end', () => {
    remoteEnded = true;
    flush();
  });
  ch.on('credit', grantToStack);
  ch.on('drain', grantToStack);
  ch.on('close', (end) => {
    if (end.kind === 'closed') {
      remoteEnded = true;
      flush();
    } else {
      dropPending();
      if (!endedToApp) {
        endedToApp = true;
        stream.reset();
      }
    }
  });
  stream.accept({
    write: (data) => {
      outstanding -= data.byteLength;
      ch.write(data);
    },
    grant: (n) => {
      appCredit += n;
      flush();
    },
    end: () => ch.end(),
    reset: () => {
      endedToApp = true;
      dropPending();
      ch.reset('connection-reset', 'the app reset the connection');
    },
  });
  grantToStack();
}

/** bridgeDatagrams joins an accepted tunnel datagram channel and the stack's datagram flow. */
export function bridgeDatagrams(ch: DatagramChannel, dg: StackDatagrams): void {
  ch.on('data', (d) => dg.send(d));
  ch.on('close', () => dg.close());
  dg.accept({ send: (d) => ch.send(d), close: () => ch.end() });
}

/** TunnelUpstream implements the netstack's Upstream over a tunnel session. */
export class TunnelUpstream implements Upstream {
  readonly stats: TunnelUpstreamStats = { streamsOpened: 0, datagramFlowsOpened: 0, rejected: 0, noSession: 0 };
  readonly #opts: TunnelUpstreamOptions;

  constructor(opts: TunnelUpstreamOptions) {
    this.#opts = opts;
  }

  openStream(flow: Flow, stream: StackStream): void {
    const local = this.#opts.localStream?.get(`${flow.dst.address}:${flow.dst.port}`);
    if (local) {
      local(stream);
      return;
    }
    const session = this.#live();
    if (!session) {
      stream.reject('refused');
      return;
    }
    session
      .open({ protocol: 'tcp', host: flow.dst.address, port: flow.dst.port, timeoutMs: this.#opts.dialTimeoutMs ?? 0 })
      .then(
        (r) => {
          if (!r.ok) {
            this.stats.rejected++;
            stream.reject(mapReason(r.reason));
            return;
          }
          this.stats.streamsOpened++;
          bridgeStream(r.channel as StreamChannel, stream);
        },
        () => stream.reject('unreachable'),
      );
  }

  openDatagram(flow: Flow, dg: StackDatagrams): void {
    const local = this.#opts.localDatagram?.get(`${flow.dst.address}:${flow.dst.port}`);
    if (local) {
      dg.accept({
        send: (d) => {
          Promise.resolve(local(d)).then(
            (reply) => reply && dg.send(reply),
            () => undefined,
          );
        },
        close: () => undefined,
      });
      return;
    }
    const session = this.#live();
    if (!session) {
      dg.reject('unreachable');
      return;
    }
    session
      .open({
        protocol: flow.protocol,
        host: flow.dst.address,
        port: flow.dst.port,
        timeoutMs: this.#opts.dialTimeoutMs ?? 0,
      })
      .then(
        (r) => {
          if (!r.ok) {
            this.stats.rejected++;
            dg.reject(mapReason(r.reason));
            return;
          }
          this.stats.datagramFlowsOpened++;
          bridgeDatagrams(r.channel as DatagramChannel, dg);
        },
        () => dg.reject('unreachable'),
      );
  }

  #live(): Session | undefined {
    const s = this.#opts.session();
    if (!s || s.closed || s.draining) {
      this.stats.noSession++;
      return undefined;
    }
    return s;
  }
}
