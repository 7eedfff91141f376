// Intercept registrations: which laptop session receives connections for an
// intercept id and its ports. The intercept listeners (intercept mode) call
// openToLaptop for each accepted connection; the channel then carries that
// one connection up the owner's tunnel (a gateway-initiated channel).
import type { InterceptDecision, OpenResult, Session } from '../tunnel/index.ts';

interface Registration {
  session: Session;
  ports: number[];
}

/** InterceptRegistry maps intercept ids to the sessions that registered them. */
export class InterceptRegistry {
  readonly #byId = new Map<string, Registration>();
  /** #watched are the sessions whose end we listen for: one listener per session, however often it registers. */
  readonly #watched = new WeakSet<Session>();

  /** register records a registration for `session`; an id held by another live session is refused. */
  register(session: Session, interceptId: string, ports: number[]): InterceptDecision {
    if (!/^[a-z0-9][a-z0-9.-]{0,252}$/.test(interceptId)) return { ok: false, message: 'invalid intercept id' };
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
      return { ok: false, message: 'ports must be 1..65535' };
    const held = this.#byId.get(interceptId);
    if (held && held.session !== session && !held.session.closed)
      return {
        ok: false,
        message: `intercept ${interceptId} is held by another session (${held.session.peer.clientId})`,
      };
    this.#byId.set(interceptId, { session, ports: [...ports] });
    if (!this.#watched.has(session)) {
      this.#watched.add(session);
      session.once('close', () => {
        for (const [id, r] of this.#byId) if (r.session === session) this.#byId.delete(id);
      });
    }
    return { ok: true, message: '' };
  }

  /** unregister drops a registration held by `session`. */
  unregister(session: Session, interceptId: string): InterceptDecision {
    if (this.#byId.get(interceptId)?.session !== session)
      return { ok: false, message: `no intercept ${interceptId} in this session` };
    this.#byId.delete(interceptId);
    return { ok: true, message: '' };
  }

  /** lookup returns the ports and owner of a registration. */
  lookup(interceptId: string): { ports: number[]; clientId: string } | undefined {
    const r = this.#byId.get(interceptId);
    return r && { ports: r.ports, clientId: r.session.peer.clientId };
  }

  /** openToLaptop opens a gateway-initiated channel to the session that registered `interceptId`. */
  openToLaptop(interceptId: string, port: number, source: { host: string; port: number }): Promise<OpenResult> {
    const r = this.#byId.get(interceptId);
    if (!r || r.session.closed)
      return Promise.resolve({
        ok: false,
        reason: 'unreachable',
        message: `no session holds intercept ${interceptId}`,
        byPeer: false,
      });
    return r.session.open({
      protocol: 'tcp',
      host: '127.0.0.1',
      port,
      interceptId,
      sourceHost: source.host,
      sourcePort: source.port,
    });
  }
}
