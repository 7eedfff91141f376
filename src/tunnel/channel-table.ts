// The channel table of one session: live channels by id, id allocation (odd
// ids for the client's channels, even for the gateway's, never reused), the
// peer's highest id, and the OPENs still waiting for an answer. Clock-free:
// the session arms the open timers and hands their handles in.
import type { TimerHandle } from './clock.ts';

/** TableChannel is what the table needs of a channel. */
export interface TableChannel {
  readonly id: number;
}

/** PendingOpen is an OPEN of ours waiting for OPEN_OK or OPEN_REJECT. */
export interface PendingOpen<R> {
  resolve(result: R): void;
  timer: TimerHandle;
}

/** ChannelTableView is a read-only snapshot of a table, for status and tests. */
export interface ChannelTableView {
  /** channels are the ids of live channels (opening, pending, open), ascending. */
  channels: number[];
  /** opening are the ids of our OPENs still unanswered. */
  opening: number[];
}

/** ChannelTable holds one session's channels. */
export class ChannelTable<C extends TableChannel, R> {
  readonly #channels = new Map<number, C>();
  readonly #pending = new Map<number, PendingOpen<R>>();
  readonly #ownParity: 0 | 1;
  #nextId: number;
  #peerMaxId = 0;
  #emptyWaiters: (() => void)[] = [];

  /** constructor starts id allocation for one end: the client opens odd ids, the gateway even ones. */
  constructor(role: 'client' | 'gateway') {
    this.#ownParity = role === 'client' ? 1 : 0;
    this.#nextId = role === 'client' ? 1 : 2;
  }

  /** size is the number of live channels. */
  get size(): number {
    return this.#channels.size;
  }

  /** get returns the live channel with that id. */
  get(id: number): C | undefined {
    return this.#channels.get(id);
  }

  /** values lists the live channels. */
  values(): C[] {
    return [...this.#channels.values()];
  }

  /** view is a read-only snapshot of the table. */
  view(): ChannelTableView {
    return {
      channels: [...this.#channels.keys()].sort((a, b) => a - b),
      opening: [...this.#pending.keys()].sort((a, b) => a - b),
    };
  }

  /** isOwn says whether an id has this end's parity. */
  isOwn(id: number): boolean {
    return (id & 1) === this.#ownParity;
  }

  /** knownId says whether a channel id was ever opened in this session (by either end). */
  knownId(id: number): boolean {
    return this.isOwn(id) ? id < this.#nextId : id <= this.#peerMaxId;
  }

  /** allocate returns the next id for a channel of ours, or undefined when ids are exhausted. */
  allocate(): number | undefined {
    if (this.#nextId > 0xfffffffe) return undefined;
    const id = this.#nextId;
    this.#nextId += 2;
    return id;
  }

  /** admitPeerId records an id the peer opens; false when the peer may not use it (wrong parity, not increasing). */
  admitPeerId(id: number): boolean {
    if (this.isOwn(id) || id <= this.#peerMaxId) return false;
    this.#peerMaxId = id;
    return true;
  }

  /** add puts a channel into the table. */
  add(ch: C): void {
    this.#channels.set(ch.id, ch);
  }

  /** remove takes a channel out (only that very channel); true when it was there. */
  remove(ch: C): boolean {
    if (this.#channels.get(ch.id) !== ch) return false;
    this.#channels.delete(ch.id);
    if (this.#channels.size === 0 && this.#emptyWaiters.length > 0) {
      const ws = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of ws) w();
    }
    return true;
  }

  /** whenEmpty calls fn once the table has no channel (at once if it has none now). */
  whenEmpty(fn: () => void): void {
    if (this.#channels.size === 0) fn();
    else this.#emptyWaiters.push(fn);
  }

  /** releaseEmptyWaiters calls every whenEmpty waiter now (the session is over). */
  releaseEmptyWaiters(): void {
    const ws = this.#emptyWaiters;
    this.#emptyWaiters = [];
    for (const w of ws) w();
  }

  /** awaitAnswer records an OPEN of ours waiting for its answer. */
  awaitAnswer(id: number, p: PendingOpen<R>): void {
    this.#pending.set(id, p);
  }

  /** takeAnswer removes and returns the pending OPEN for id. */
  takeAnswer(id: number): PendingOpen<R> | undefined {
    const p = this.#pending.get(id);
    this.#pending.delete(id);
    return p;
  }

  /** takeAllAnswers removes and returns every pending OPEN. */
  takeAllAnswers(): PendingOpen<R>[] {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    return all;
  }
}
