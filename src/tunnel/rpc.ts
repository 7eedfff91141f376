// The session's request/answer exchanges on channel 0 (docs/protocol.md,
// "DNS: DNS_QUERY, DNS_ANSWER" and "Intercepts"): the client's tables of
// requests awaiting answers, and the gateway's bounds on what a client may
// have it do at once. Timers come from the Clock passed in.
import type { Clock, TimerHandle } from './clock.ts';
import type { DnsAnswer, DnsErrorName, DnsQuery, InterceptRegister } from './control.ts';
import type { SessionLimits } from './limits.ts';

/** DnsAnswerInit is what a DNS handler returns (the id is filled in by the session). */
export type DnsAnswerInit = Omit<DnsAnswer, 'id'>;

/** InterceptDecision is what an intercept handler returns. */
export interface InterceptDecision {
  ok: boolean;
  message: string;
}

/** InterceptHandler decides INTERCEPT_REGISTER / UNREGISTER frames (gateway end). */
export interface InterceptHandler {
  register(r: InterceptRegister): InterceptDecision;
  unregister(id: string): InterceptDecision;
}

/** dnsFailure is an answer carrying only an error. */
export function dnsFailure(id: number, error: DnsErrorName, errorMessage: string): DnsAnswer {
  return { id, message: new Uint8Array(0), error, errorMessage, resolvedName: '' };
}

/** DnsRequests are the client's DNS queries awaiting a DNS_ANSWER. */
export class DnsRequests {
  readonly #clock: Clock;
  readonly #limits: Pick<SessionLimits, 'maxDnsInFlight' | 'maxControlPayload' | 'openGraceMs'>;
  readonly #pending = new Map<number, { resolve(a: DnsAnswer): void; timer: TimerHandle }>();
  #next = 1;

  constructor(clock: Clock, limits: Pick<SessionLimits, 'maxDnsInFlight' | 'maxControlPayload' | 'openGraceMs'>) {
    this.#clock = clock;
    this.#limits = limits;
  }

  /** size is the number of queries awaiting an answer. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * ask sends a query through `send(id)` and resolves with its answer, or with
   * an error answer when it may not be sent or no answer comes within
   * timeoutMs + the grace period.
   */
  ask(message: Uint8Array, timeoutMs: number, send: (id: number) => void): Promise<DnsAnswer> {
    if (this.#pending.size >= this.#limits.maxDnsInFlight)
      return Promise.resolve(dnsFailure(0, 'limit', `too many DNS queries in flight (${this.#limits.maxDnsInFlight})`));
    if (message.byteLength + 64 > this.#limits.maxControlPayload)
      return Promise.resolve(dnsFailure(0, 'malformed', 'DNS message too large'));
    const id = this.#next;
    this.#next = (this.#next % 0xfffffffe) + 1;
    send(id);
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        this.#pending.delete(id);
        resolve(dnsFailure(id, 'timeout', 'no DNS answer'));
      }, timeoutMs + this.#limits.openGraceMs);
      this.#pending.set(id, { resolve, timer });
    });
  }

  /** answer delivers a DNS_ANSWER; answers nobody waits for (any more) are dropped. */
  answer(a: DnsAnswer): void {
    const p = this.#pending.get(a.id);
    if (!p) return; // answered after our local timeout
    this.#pending.delete(a.id);
    this.#clock.clearTimeout(p.timer);
    p.resolve(a);
  }

  /** fail answers every waiting query with `unavailable` (the session ended). */
  fail(message: string): void {
    for (const [id, p] of this.#pending) {
      this.#clock.clearTimeout(p.timer);
      p.resolve(dnsFailure(id, 'unavailable', message));
    }
    this.#pending.clear();
  }
}

/** DnsService runs the gateway's DNS handler for DNS_QUERY frames, at most maxDnsInFlight at once. */
export class DnsService {
  readonly #max: number;
  #inFlight = 0;

  constructor(maxInFlight: number) {
    this.#max = maxInFlight;
  }

  /** inFlight is the number of queries being resolved. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** serve answers q through `answer`, with the handler's answer or an error. */
  serve(
    q: DnsQuery,
    handler: ((q: DnsQuery) => Promise<DnsAnswerInit>) | undefined,
    answer: (a: DnsAnswerInit) => void,
  ): void {
    if (!handler) {
      answer(dnsFailure(0, 'unavailable', 'no resolver'));
      return;
    }
    if (this.#inFlight >= this.#max) {
      answer(dnsFailure(0, 'limit', `too many DNS queries in flight (${this.#max})`));
      return;
    }
    this.#inFlight++;
    handler(q)
      .then(answer, (err: Error) => answer(dnsFailure(0, 'unavailable', err.message)))
      .finally(() => {
        this.#inFlight--;
      });
  }
}

/** InterceptRequests are the client's registrations awaiting INTERCEPT_ACK, answered in order per id. */
export class InterceptRequests {
  readonly #waiters = new Map<string, ((d: InterceptDecision) => void)[]>();

  /** size is the number of requests awaiting an answer. */
  get size(): number {
    let n = 0;
    for (const ws of this.#waiters.values()) n += ws.length;
    return n;
  }

  /** wait returns the answer to the request just sent for interceptId. */
  wait(interceptId: string): Promise<InterceptDecision> {
    return new Promise((resolve) => {
      const ws = this.#waiters.get(interceptId) ?? [];
      ws.push(resolve);
      this.#waiters.set(interceptId, ws);
    });
  }

  /** answer delivers an INTERCEPT_ACK to the oldest request for its id. */
  answer(interceptId: string, d: InterceptDecision): void {
    const ws = this.#waiters.get(interceptId);
    const w = ws?.shift();
    if (ws && ws.length === 0) this.#waiters.delete(interceptId);
    w?.(d);
  }

  /** fail answers every waiting request with not ok (the session ended). */
  fail(message: string): void {
    for (const ws of this.#waiters.values()) for (const w of ws) w({ ok: false, message });
    this.#waiters.clear();
  }
}

/** InterceptService decides the gateway's intercept requests, at most maxIntercepts held per session. */
export class InterceptService {
  readonly #max: number;
  #held = 0;

  constructor(maxIntercepts: number) {
    this.#max = maxIntercepts;
  }

  /** decide answers one INTERCEPT_REGISTER (unregister false) or INTERCEPT_UNREGISTER (true). */
  decide(r: InterceptRegister, unregister: boolean, h: InterceptHandler | undefined): InterceptDecision {
    if (!h) return { ok: false, message: 'this gateway does not serve intercepts' };
    if (unregister) {
      const d = h.unregister(r.interceptId);
      if (d.ok) this.#held = Math.max(0, this.#held - 1);
      return d;
    }
    if (this.#held >= this.#max) return { ok: false, message: `too many intercepts in this session (${this.#max})` };
    const d = h.register(r);
    if (d.ok) this.#held++;
    return d;
  }
}
