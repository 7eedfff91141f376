// A datagram flow (UDP 4-tuple, or ICMP echo identifier) between the app and
// an upstream. Message boundaries are kept; there is no credit: datagrams the
// upstream is not ready for (a bounded few while it opens) are dropped, as
// IP would drop them. The flow ends after idleTimeout without traffic.
import type { DatagramChannel, Flow, FlowAddresses, RejectReason, StackDatagrams } from './upstream.ts';

/** DatagramHost is what a datagram flow needs from its stack. */
export interface DatagramHost {
  /** deliver emits one datagram towards the app. */
  deliver(f: DatagramFlow, datagram: Uint8Array): void;
  /** rejected answers the app's first datagram with an ICMP unreachable for reason. */
  rejected(f: DatagramFlow, reason: RejectReason): void;
  /** wake asks for f to be re-scheduled (its deadline changed). */
  wake(f: DatagramFlow): void;
  /** closed tells the stack to forget f. */
  closed(f: DatagramFlow): void;
}

/** MAX_PENDING_DATAGRAMS and MAX_PENDING_BYTES bound what is held while the upstream opens a flow. */
export const MAX_PENDING_DATAGRAMS = 16;
export const MAX_PENDING_BYTES = 256 * 1024;

/** DatagramFlow is one datagram flow; it is also the StackDatagrams its upstream calls. */
export class DatagramFlow implements StackDatagrams {
  readonly flow: Flow;
  readonly addrs: FlowAddresses;
  readonly key: string;
  /** firstHead is a copy of the head of the app's first packet, quoted by an ICMP error on rejection. */
  firstHead: Uint8Array | undefined;
  queuedAt = Number.POSITIVE_INFINITY;
  state: 'opening' | 'open' | 'closed' = 'opening';
  /** drops counts datagrams discarded while opening (beyond the bound) or after close. */
  drops = 0;
  readonly #host: DatagramHost;
  readonly #idle: number;
  #channel: DatagramChannel | undefined;
  #pending: Uint8Array[] | undefined = [];
  #pendingBytes = 0;
  #deadline: number;
  #active = false;

  constructor(
    host: DatagramHost,
    flow: Flow,
    addrs: FlowAddresses,
    key: string,
    now: number,
    idleTimeout: number,
    openTimeout: number,
  ) {
    this.#host = host;
    this.flow = flow;
    this.addrs = addrs;
    this.key = key;
    this.#idle = idleTimeout;
    this.#deadline = now + openTimeout;
  }

  get deadline(): number {
    return this.#deadline;
  }

  // ---- upstream → stack ----

  accept(channel: DatagramChannel): void {
    if (this.state !== 'opening') {
      channel.close();
      return;
    }
    this.state = 'open';
    this.#channel = channel;
    this.firstHead = undefined;
    this.#active = true;
    // The idle timeout runs from now: due at the next dispatch, which re-arms it (no clock here).
    this.#deadline = Number.NEGATIVE_INFINITY;
    const pending = this.#pending ?? [];
    this.#pending = undefined;
    this.#pendingBytes = 0;
    for (const d of pending) channel.send(d);
    this.#host.wake(this);
  }

  reject(reason: RejectReason): void {
    if (this.state !== 'opening') return;
    this.#host.rejected(this, reason);
    this.#close(false);
  }

  send(datagram: Uint8Array): void {
    if (this.state !== 'open') return;
    this.#active = true;
    this.#host.deliver(this, datagram);
  }

  close(): void {
    this.#close(false);
  }

  // ---- stack → flow ----

  /** fromApp passes one datagram from the app (a copy or a slice the flow may keep). */
  fromApp(datagram: Uint8Array): void {
    if (this.state === 'open') {
      this.#active = true;
      this.#channel?.send(datagram);
      return;
    }
    if (this.state !== 'opening' || !this.#pending) {
      this.drops++;
      return;
    }
    if (this.#pending.length >= MAX_PENDING_DATAGRAMS || this.#pendingBytes + datagram.length > MAX_PENDING_BYTES) {
      this.drops++;
      return;
    }
    // Copied: a held slice would pin a whole TUN read slab.
    this.#pending.push(datagram.slice());
    this.#pendingBytes += datagram.length;
  }

  /** poll runs when the deadline passes: an open that never answered fails, an idle flow ends. */
  poll(now: number): void {
    if (now < this.#deadline) return;
    if (this.state === 'opening') {
      this.#host.rejected(this, 'timeout');
      this.#close(false);
    } else if (this.state === 'open') {
      if (this.#active) {
        this.#active = false;
        this.#deadline = now + this.#idle;
      } else {
        this.#close(true);
      }
    }
  }

  /** shutdown closes the flow from the stack's side. */
  shutdown(): void {
    this.#close(true);
  }

  /** fail forgets the flow after a fault in its processing and tells the upstream; it never throws. */
  fail(): void {
    const channel = this.#channel;
    this.#close(false);
    try {
      channel?.close();
    } catch {
      // The upstream failing again changes nothing: the flow is gone.
    }
  }

  #close(notify: boolean): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#pending = undefined;
    this.#deadline = Number.POSITIVE_INFINITY;
    if (notify) this.#channel?.close();
    this.#channel = undefined;
    this.#host.closed(this);
  }
}
