// The intercept state kept on a Service (ARCHITECTURE decisions 12–13), as
// pure functions over plain objects: compute, then apply (reconcile.ts
// applies). While a Service is intercepted:
//   label       devnet.dev/intercepted: "true"        (so devnet can find it)
//   annotation  devnet.dev/original-selector: {...}   (restored when the last intercept goes)
//   annotation  intercept.devnet.dev/<name>: Entry     (one per intercept; its `renewed` is the lease)
//   selector    the intercept pod's labels
// Each intercept owns only its own annotation key, so owners renewing their
// leases never overwrite each other.
import { createHmac } from 'node:crypto';

/** INTERCEPTED_LABEL marks a Service devnet has patched. */
export const INTERCEPTED_LABEL = 'devnet.dev/intercepted';
/** ORIGINAL_SELECTOR_ANNOTATION holds the Service's own selector (JSON) while it is intercepted. */
export const ORIGINAL_SELECTOR_ANNOTATION = 'devnet.dev/original-selector';
/** ENTRY_PREFIX starts the annotation key of each intercept on a Service. */
export const ENTRY_PREFIX = 'intercept.devnet.dev/';
/** INTERCEPT_APP is app.kubernetes.io/name of intercept pods. */
export const INTERCEPT_APP = 'devnet-intercept';
/** SERVICE_LABEL names the intercepted Service on the intercept pod. */
export const SERVICE_LABEL = 'devnet.dev/intercept-for';
/** LEASE_TTL_MS: an intercept whose lease was not renewed for this long has lapsed: its pod sends it no more traffic and any devnet user may restore it. */
export const LEASE_TTL_MS = 15_000;
/** RENEW_MS is how often the owner renews its leases. */
export const RENEW_MS = 4_000;

/** InterceptPort maps one Service port to the laptop. */
export interface InterceptPort {
  /** servicePort is the Service's port number. */
  servicePort: number;
  /** targetPort is the (numeric) container port the Service sends to: the intercept pod listens on it. */
  targetPort: number;
  /** local is the port on the owner's 127.0.0.1. */
  local: number;
}

/** Entry is one intercept as recorded on its Service. */
export interface Entry {
  name: string;
  /** owner is the owner's user name as the cluster knows them (src/cluster/whoami.ts), for messages and `devnet list`. */
  owner: string;
  /** key is the owner's session key id (src/tunnel/identity.ts): the gateway sends this intercept's connections only to a session proving it. */
  key: string;
  /** host is the owner's machine (its name, for people). */
  host: string;
  /**
   * seat is where the owner's daemon ran: the machine and the folder of its
   * control socket, which one daemon at a time serves. A later daemon at the
   * same seat knows the one that recorded this entry is gone and removes it
   * at once (entries of older versions have none: their leases decide).
   */
  seat?: string;
  /** session is the owner's daemon session id. */
  session: string;
  /** headers: empty = global; else every header must match (names lower-case). */
  headers: Record<string, string>;
  /** mirror: the pods keep answering and the owner gets a copy of each request (headers are then empty). */
  mirror?: boolean;
  ports: InterceptPort[];
  /** renewed is the lease: the owner rewrites it every RENEW_MS; its value only has to change. */
  renewed: string;
}

/** ServiceLike is the part of a v1 Service the model reads and writes. */
export interface ServiceLike {
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec?: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
    type?: string;
    clusterIP?: string;
  };
}

/** interceptObjectName names the ServiceAccount, Role and RoleBinding of a Service's intercept pods. */
export function interceptObjectName(service: string): string {
  return boundedName('devnet-intercept-', service);
}

/**
 * interceptPodName names one incarnation of a Service's intercept pod: a
 * fresh suffix each time, so a pod still terminating can never delete its
 * successor by name.
 */
export function interceptPodName(service: string, suffix: string): string {
  return `${interceptObjectName(service).slice(0, 62 - suffix.length)}-${suffix}`;
}

/** originalServiceName is the Service devnet creates with the original selector (the original endpoints). */
export function originalServiceName(service: string): string {
  return boundedName('devnet-orig-', service);
}

function boundedName(prefix: string, base: string): string {
  const full = prefix + base;
  if (full.length <= 63) return full;
  const h = createHmac('sha256', 'devnet').update(base).digest('hex').slice(0, 8);
  return `${full.slice(0, 54)}-${h}`;
}

/** interceptPodLabels are the labels the patched selector matches. */
export function interceptPodLabels(service: string): Record<string, string> {
  return { 'app.kubernetes.io/name': INTERCEPT_APP, [SERVICE_LABEL]: service };
}

/** interceptId is the gateway's id for one intercept: `<namespace>.<service>.<name>` (all DNS labels, so unambiguous). */
export function interceptId(namespace: string, service: string, name: string): string {
  return `${namespace}.${service}.${name}`;
}

/** serviceKey is what an intercept pod authenticates as at the gateway: `<namespace>.<service>`. */
export function serviceKey(namespace: string, service: string): string {
  return `${namespace}.${service}`;
}

/**
 * podToken derives the intercept pod's gateway credential from the gateway
 * token: it lets a session open channels only toward intercepts of that one
 * Service, which any client of the Service can reach anyway.
 */
export function podToken(gatewayToken: string, key: string): string {
  return createHmac('sha256', gatewayToken).update(`devnet-intercept:${key}`).digest('base64url');
}

/** sftpToken derives what owners present to an intercept pod to read the volumes it mounts (sftp-auth.ts). */
export function sftpToken(gatewayToken: string, key: string): string {
  return createHmac('sha256', gatewayToken).update(`devnet-sftp:${key}`).digest('base64url');
}

/** isDnsLabel checks an RFC 1123 label (intercept names, namespaces, service names). */
export function isDnsLabel(s: string): boolean {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s);
}

/** parseEntry reads an annotation value; a malformed one is undefined (and treated as expired by the pod). */
export function parseEntry(value: string): Entry | undefined {
  try {
    const e = JSON.parse(value) as Entry;
    if (typeof e !== 'object' || e === null || typeof e.name !== 'string' || typeof e.owner !== 'string')
      return undefined;
    if (typeof e.session !== 'string' || typeof e.renewed !== 'string') return undefined;
    if (typeof e.key !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(e.key) || typeof e.host !== 'string') return undefined;
    if (typeof e.headers !== 'object' || e.headers === null || !Array.isArray(e.ports)) return undefined;
    const portOk = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
    if (!e.ports.every((p) => portOk(p.servicePort) && portOk(p.targetPort) && portOk(p.local))) return undefined;
    if (!Object.values(e.headers).every((v) => typeof v === 'string')) return undefined;
    if (e.mirror !== undefined && typeof e.mirror !== 'boolean') return undefined;
    if (e.seat !== undefined && typeof e.seat !== 'string') return undefined;
    return e;
  } catch {
    return undefined;
  }
}

/** entries lists the intercepts recorded on a Service (annotation key → entry; undefined = malformed). */
export function entries(svc: ServiceLike): Map<string, Entry | undefined> {
  const out = new Map<string, Entry | undefined>();
  for (const [k, v] of Object.entries(svc.metadata?.annotations ?? {}))
    if (k.startsWith(ENTRY_PREFIX)) out.set(k.slice(ENTRY_PREFIX.length), parseEntry(v));
  return out;
}

/** isIntercepted says whether devnet has patched this Service. */
export function isIntercepted(svc: ServiceLike): boolean {
  return svc.metadata?.annotations?.[ORIGINAL_SELECTOR_ANNOTATION] !== undefined;
}

/** originalSelector is the Service's own selector: saved while intercepted, else the current one. */
export function originalSelector(svc: ServiceLike): Record<string, string> | undefined {
  const saved = svc.metadata?.annotations?.[ORIGINAL_SELECTOR_ANNOTATION];
  if (saved === undefined) return svc.spec?.selector;
  try {
    return JSON.parse(saved) as Record<string, string>;
  } catch {
    return undefined;
  }
}

/** Mode is how an intercept takes traffic: all of it, requests with its headers, or a copy of everything. */
export type Mode = 'global' | 'personal' | 'mirror';

/** modeOf says an entry's mode. */
export function modeOf(e: Pick<Entry, 'headers' | 'mirror'>): Mode {
  if (e.mirror) return 'mirror';
  return Object.keys(e.headers).length === 0 ? 'global' : 'personal';
}

/** Refusal says why an intercept cannot be added. */
export interface Refusal {
  message: string;
  hint?: string;
}

/** checkAdd decides whether `entry` may join the Service's intercepts (global excludes everything else). */
export function checkAdd(svc: ServiceLike, entry: Entry): Refusal | undefined {
  const name = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
  if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0)
    return { message: `Service ${name} has no selector`, hint: 'Only Services that select pods can be intercepted.' };
  if (svc.spec.type === 'ExternalName' || svc.spec.clusterIP === 'None')
    return { message: `Service ${name} is ${svc.spec.type === 'ExternalName' ? 'an ExternalName' : 'headless'}` };
  const udp = (svc.spec.ports ?? []).find((p) => (p.protocol ?? 'TCP') !== 'TCP');
  if (udp)
    return {
      message: `Service ${name} has a ${udp.protocol} port (${udp.port}); intercepts carry TCP only`,
      hint: 'Intercepting it would cut that port off from its pods.',
    };
  for (const [key, other] of entries(svc)) {
    if (key === entry.name) {
      if (other && other.session === entry.session) continue; // our own, being replaced
      return {
        message: `an intercept named ${entry.name} already exists on ${name}${other ? ` (owner ${other.owner})` : ''}`,
        hint: 'Choose another --name, or ask its owner to `devnet leave` it.',
      };
    }
    if (!other) continue;
    const mine = modeOf(entry);
    const theirs = modeOf(other);
    // Mirrors only watch: they go with personal intercepts and other mirrors, not with a global one (the pods
    // would no longer answer). A global intercept goes with nothing.
    if (mine === 'global' || theirs === 'global')
      return {
        message: `${name} already has ${theirs === 'global' ? 'a global' : `a ${theirs}`} intercept ${other.name} by ${other.owner}`,
        hint:
          mine === 'global'
            ? 'A global intercept takes all traffic: use --header K=V for a personal one, --mirror for a copy, or ask them to leave.'
            : 'A global intercept takes all traffic; ask its owner to `devnet leave` it first.',
      };
    if (mine === 'mirror' || theirs === 'mirror') continue;
    if (sameHeaders(entry.headers, other.headers))
      return {
        message: `${name} already has intercept ${other.name} by ${other.owner} for the same headers`,
        hint: 'Pick a different header value.',
      };
  }
  return undefined;
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** withEntry returns the Service with `entry` added (the selector patched to the intercept pod on the first one). */
export function withEntry<S extends ServiceLike>(svc: S, entry: Entry): S {
  const service = svc.metadata?.name as string;
  const out = structuredClone(svc);
  const md = out.metadata ?? {};
  out.metadata = md;
  md.annotations = { ...(md.annotations ?? {}) };
  md.labels = { ...(md.labels ?? {}), [INTERCEPTED_LABEL]: 'true' };
  if (md.annotations[ORIGINAL_SELECTOR_ANNOTATION] === undefined)
    md.annotations[ORIGINAL_SELECTOR_ANNOTATION] = JSON.stringify(out.spec?.selector ?? {});
  md.annotations[ENTRY_PREFIX + entry.name] = JSON.stringify(entry);
  out.spec = { ...(out.spec ?? {}), selector: interceptPodLabels(service) };
  return out;
}

/**
 * withoutEntries returns the Service without the named intercepts; when none
 * is left the original selector is back and devnet's marks are gone. `last`
 * says whether that happened (then the intercept pod may be deleted).
 */
export function withoutEntries<S extends ServiceLike>(svc: S, names: string[]): { service: S; last: boolean } {
  const out = structuredClone(svc);
  const md = out.metadata ?? {};
  out.metadata = md;
  const ann = { ...(md.annotations ?? {}) };
  for (const n of names) delete ann[ENTRY_PREFIX + n];
  const left = Object.keys(ann).some((k) => k.startsWith(ENTRY_PREFIX));
  if (!left && ann[ORIGINAL_SELECTOR_ANNOTATION] !== undefined) {
    const original = originalSelector(svc);
    if (original) out.spec = { ...(out.spec ?? {}), selector: original };
    delete ann[ORIGINAL_SELECTOR_ANNOTATION];
    const labels = { ...(md.labels ?? {}) };
    delete labels[INTERCEPTED_LABEL];
    md.labels = labels;
  }
  md.annotations = ann;
  return { service: out, last: !left };
}

/** LeaseView is what an observer knows of one intercept's lease. */
export interface LeaseView {
  /** name is the intercept's name (its annotation key after ENTRY_PREFIX). */
  name: string;
  /** renewed is the lease value observed (for a malformed entry, its whole annotation value). */
  renewed: string;
  /** unchangedMs is how long, by the observer's clock, that value has stood still. */
  unchangedMs: number;
  /** lapsed: it stood still for the lease TTL — the intercept pod no longer sends it traffic. */
  lapsed: boolean;
}

/** leaseValue is what a lease is judged by: the entry's `renewed`, or the raw annotation of a malformed entry. */
export function leaseValue(svc: ServiceLike, name: string): string | undefined {
  const raw = svc.metadata?.annotations?.[ENTRY_PREFIX + name];
  if (raw === undefined) return undefined;
  return parseEntry(raw)?.renewed ?? raw;
}

/**
 * LeaseClock tracks, per intercept of one Service, when its lease value last
 * changed, by the observer's own clock: no clock of the owner's is trusted,
 * so skew between laptop and cluster cannot matter.
 */
export class LeaseClock {
  readonly #seen = new Map<string, { value: string; at: number }>();

  /** observe records the Service's entries at `now` and says, per entry, how long its lease stood still. */
  observe(svc: ServiceLike, now: number, ttlMs = LEASE_TTL_MS): LeaseView[] {
    const out: LeaseView[] = [];
    const current = entries(svc);
    for (const k of this.#seen.keys()) if (!current.has(k)) this.#seen.delete(k);
    for (const name of current.keys()) {
      const value = leaseValue(svc, name) as string;
      let s = this.#seen.get(name);
      if (!s || s.value !== value) {
        s = { value, at: now };
        this.#seen.set(name, s);
      }
      const unchangedMs = now - s.at;
      out.push({ name, renewed: value, unchangedMs, lapsed: unchangedMs >= ttlMs });
    }
    return out;
  }

  /** expired observes the Service's entries at `now` and returns the names whose lease ran out (or are malformed and unchanged). */
  expired(svc: ServiceLike, now: number, ttlMs = LEASE_TTL_MS): string[] {
    return this.observe(svc, now, ttlMs)
      .filter((v) => v.lapsed)
      .map((v) => v.name);
  }
}

/** matches says whether a request's headers (lower-case names → values) select a personal intercept. */
export function matches(want: Record<string, string>, have: (name: string) => string[] | undefined): boolean {
  return Object.entries(want).every(([k, v]) => (have(k) ?? []).includes(v));
}
