// Intercept registrations: which laptop session receives connections for an
// intercept. A registration belongs to an identity, not to a session
// (docs/security.md, "another cluster tenant"): the registering session must
// prove, with a signature over its own WELCOME challenge, that it holds the
// Ed25519 key it named in HELLO (src/tunnel/identity.ts). Registrations are
// kept per (intercept id, key): anyone may register any id under their own
// key, but the intercept pod asks for the key its owner recorded on the
// Service (with their own Kubernetes credentials), so only the owner's
// sessions ever get its connections. The owner's next session (a reconnect)
// proves the same key and takes its registration back; nobody else can,
// whether the owner is connected or not.
import {
  type InterceptDecision,
  type InterceptRegister,
  keyId,
  type OpenResult,
  type Session,
  verifyRegistration,
} from '../tunnel/index.ts';

interface Registration {
  session: Session;
  ports: number[];
}

const at = (interceptId: string, key: string) => `${interceptId}\n${key}`;

/** InterceptRegistry maps (intercept id, owner key) to the session that registered it. */
export class InterceptRegistry {
  readonly #byOwner = new Map<string, Registration>();
  /** #watched are the sessions whose end we listen for: one listener per session, however often it registers. */
  readonly #watched = new WeakSet<Session>();

  /** register records a registration for `session`, after checking its proof of identity. */
  register(session: Session, r: InterceptRegister): InterceptDecision {
    const { interceptId, ports } = r;
    if (!/^[a-z0-9][a-z0-9.-]{0,252}$/.test(interceptId)) return { ok: false, message: 'invalid intercept id' };
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
      return { ok: false, message: 'ports must be 1..65535' };
    if (session.peer.identityKey.length === 0)
      return { ok: false, message: 'intercepts need a session identity (this devnet is too old for this gateway)' };
    if (!verifyRegistration(session.peer.identityKey, session.challenge, interceptId, r.proof))
      return { ok: false, message: 'the registration proof does not match this session’s identity key' };
    const key = at(interceptId, keyId(session.peer.identityKey));
    this.#byOwner.set(key, { session, ports: [...ports] });
    if (!this.#watched.has(session)) {
      this.#watched.add(session);
      // Registrations end with their session, unless the owner's next session took them over.
      session.once('close', () => {
        for (const [k, reg] of this.#byOwner) if (reg.session === session) this.#byOwner.delete(k);
      });
    }
    return { ok: true, message: '' };
  }

  /** unregister drops `session`'s own registration of an intercept. */
  unregister(session: Session, interceptId: string): InterceptDecision {
    const key = at(interceptId, keyId(session.peer.identityKey));
    if (this.#byOwner.get(key)?.session !== session)
      return { ok: false, message: `no intercept ${interceptId} in this session` };
    this.#byOwner.delete(key);
    return { ok: true, message: '' };
  }

  /** lookup returns the ports and session of the owner's registration, if that owner is connected. */
  lookup(interceptId: string, ownerKey: string): { ports: number[]; clientId: string } | undefined {
    const r = this.#byOwner.get(at(interceptId, ownerKey));
    return r && !r.session.closed ? { ports: r.ports, clientId: r.session.peer.clientId } : undefined;
  }

  /** openToLaptop opens a gateway-initiated channel to the owner's session for `interceptId`. */
  openToLaptop(
    interceptId: string,
    ownerKey: string,
    port: number,
    source: { host: string; port: number },
  ): Promise<OpenResult> {
    const r = this.#byOwner.get(at(interceptId, ownerKey));
    if (!r || r.session.closed)
      return Promise.resolve({
        ok: false,
        reason: 'unreachable',
        message: `the owner of intercept ${interceptId} is not connected`,
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
