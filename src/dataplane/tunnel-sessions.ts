// TunnelSessions: the laptop's tunnel sessions. New flows, DNS and intercept
// registrations use the current session; when it is replaced (after a
// gateway rollout's GOAWAY SHUTTING_DOWN, docs/protocol.md "Ending a
// session"), the old one is not closed but drained: its open channels keep
// flowing while new ones use the new session, and it closes once they have
// all ended, or after the drain bound, whichever comes first.
import type { Session } from '../tunnel/index.ts';

/** DEFAULT_DRAIN_MS bounds how long a replaced session is kept for its open channels. */
export const DEFAULT_DRAIN_MS = 60_000;

/** TunnelSessionsView is a read-only snapshot: the current session and those draining, with their open channels. */
export interface TunnelSessionsView {
  current: { id: string; channels: number } | undefined;
  draining: { id: string; channels: number }[];
}

/** TunnelSessions holds the current session and the ones draining. */
export class TunnelSessions {
  readonly #drainMs: number;
  #current: Session | undefined;
  readonly #draining = new Set<Session>();

  constructor(opts: { drainMs?: number } = {}) {
    this.#drainMs = opts.drainMs ?? DEFAULT_DRAIN_MS;
  }

  /** current is the session new flows use, or undefined while there is none. */
  get current(): Session | undefined {
    const s = this.#current;
    return s && !s.closed ? s : undefined;
  }

  /** draining lists the replaced sessions still carrying channels. */
  get draining(): Session[] {
    return [...this.#draining];
  }

  /** view is a read-only snapshot. */
  view(): TunnelSessionsView {
    const v = (s: Session) => ({ id: s.id, channels: s.channelCount });
    const c = this.current;
    return { current: c && v(c), draining: this.draining.map(v) };
  }

  /**
   * replace makes `next` the current session (undefined: none until the next
   * replace). The session it replaces drains: it opens nothing new (GOAWAY
   * SHUTTING_DOWN to the gateway), its channels continue, and it closes when
   * they have ended or after the drain bound.
   */
  replace(next: Session | undefined, why: string): void {
    const old = this.#current;
    this.#current = next;
    if (!old || old === next || old.closed) return;
    this.#draining.add(old);
    old.once('close', () => this.#draining.delete(old));
    void old.drain(this.#drainMs, why);
  }

  /** close ends every session now (devnet quit). */
  close(message: string): void {
    this.#current?.close(message);
    this.#current = undefined;
    for (const s of this.#draining) s.close(message);
    this.#draining.clear();
  }
}
