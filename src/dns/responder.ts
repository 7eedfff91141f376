// Responder turns one DNS query into one response: cluster names go to the
// cluster DNS (via the injected ClusterResolver, cached by TTL with in-flight
// coalescing and a short timeout), every other name is forwarded unchanged
// to the saved upstream servers. It knows nothing about sockets; DnsServer
// carries its bytes over UDP and TCP.
import { randomInt } from 'node:crypto';
import { Packet } from 'dns2';
import type { Logger } from 'pino';
import { AnswerCache, type CachePolicy, DEFAULT_CACHE_POLICY } from './cache.ts';
import type { ClusterResolver } from './forwarder.ts';
import {
  ADVERTISED_UDP_SIZE,
  encodeQuery,
  errorResponse,
  isQuery,
  parseQuery,
  QTYPE,
  type Query,
  questionMatches,
  RCODE,
  truncateForUdp,
  walkRecords,
} from './message.ts';
import { type Route, routeName } from './names.ts';
import { type ClusterIndex, type ClusterSnapshot, indexSnapshot } from './snapshot.ts';

/** EDE_NETWORK_ERROR and EDE_NOT_READY are RFC 8914 §4 INFO-CODEs devnet uses to explain a SERVFAIL. */
const EDE_NETWORK_ERROR = 23;
const EDE_NOT_READY = 14;

/** ResponderOptions wires a Responder. */
export interface ResponderOptions {
  logger: Logger;
  snapshot?: ClusterSnapshot;
  /** cluster answers cluster names; undefined while the tunnel is down (cluster names then get SERVFAIL at once). */
  cluster?: ClusterResolver;
  /** upstream answers every other name; undefined makes them REFUSED. */
  upstream?: ClusterResolver & { query(m: Uint8Array, s?: AbortSignal, o?: { tcp?: boolean }): Promise<Uint8Array> };
  /** clusterTimeoutMs bounds a cluster query (default 1500 ms: well under a stub resolver's 5 s retry). */
  clusterTimeoutMs?: number;
  /** upstreamTimeoutMs bounds a forwarded query across all upstream servers (default 4000 ms). */
  upstreamTimeoutMs?: number;
  /** maxPending bounds cluster and forwarded queries in flight (default 1024); past it queries get SERVFAIL at once. */
  maxPending?: number;
  cache?: CachePolicy;
  /** now is the clock in milliseconds. */
  now?: () => number;
}

/** ResponderStats counts what the responder did, for `devnet status` and the benchmark. */
export interface ResponderStats {
  queries: number;
  cacheHits: number;
  clusterQueries: number;
  coalesced: number;
  forwarded: number;
  malformed: number;
  dropped: number;
  servfail: number;
}

type Upstream = NonNullable<ResponderOptions['upstream']>;

/** Responder answers DNS messages; see the file comment. */
export class Responder {
  readonly #log: Logger;
  readonly #cache: AnswerCache;
  readonly #inflight = new Map<string, Promise<Uint8Array>>();
  readonly #now: () => number;
  readonly #clusterTimeoutMs: number;
  readonly #upstreamTimeoutMs: number;
  readonly #maxPending: number;
  #forwarding = 0;
  #index: ClusterIndex | undefined;
  #cluster: ClusterResolver | undefined;
  #upstream: Upstream | undefined;
  readonly stats: ResponderStats = {
    queries: 0,
    cacheHits: 0,
    clusterQueries: 0,
    coalesced: 0,
    forwarded: 0,
    malformed: 0,
    dropped: 0,
    servfail: 0,
  };

  constructor(opts: ResponderOptions) {
    this.#log = opts.logger;
    this.#cache = new AnswerCache(opts.cache ?? DEFAULT_CACHE_POLICY);
    this.#now = opts.now ?? Date.now;
    this.#clusterTimeoutMs = opts.clusterTimeoutMs ?? 1500;
    this.#upstreamTimeoutMs = opts.upstreamTimeoutMs ?? 4000;
    this.#maxPending = opts.maxPending ?? 1024;
    this.#index = opts.snapshot ? indexSnapshot(opts.snapshot) : undefined;
    this.#cluster = opts.cluster;
    this.#upstream = opts.upstream;
  }

  /** setSnapshot replaces the cluster snapshot the naming rules use. */
  setSnapshot(snapshot: ClusterSnapshot | undefined): void {
    const before = this.#index?.snapshot;
    // Short forms mean other names under another namespace or domain: forget them.
    if (before?.namespace !== snapshot?.namespace || before?.clusterDomain !== snapshot?.clusterDomain)
      this.#cache.clear();
    this.#index = snapshot ? indexSnapshot(snapshot) : undefined;
  }

  /** setCluster installs the cluster resolver, or removes it while the tunnel is down; a new one empties the cache. */
  setCluster(cluster: ClusterResolver | undefined): void {
    if (cluster !== this.#cluster) this.#cache.clear();
    this.#cluster = cluster;
  }

  /** setUpstream installs the resolver for non-cluster names (the saved system servers). */
  setUpstream(upstream: Upstream | undefined): void {
    this.#upstream = upstream;
  }

  /** route says where a query name goes under the current snapshot. */
  route(name: string): Route {
    if (!this.#index) return { to: 'system', rule: 'not-cluster', detail: 'not connected: no cluster snapshot' };
    return routeName(name, this.#index);
  }

  /**
   * respond answers one message. It returns the response bytes (sized for
   * UDP unless tcp), undefined when the message must be dropped, or a
   * promise of either. It never throws: any failure becomes SERVFAIL.
   */
  respond(msg: Uint8Array, tcp: boolean): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    this.stats.queries++;
    const q = parseQuery(msg);
    if (!isQuery(q)) {
      if (q.reply === 'drop') {
        this.stats.dropped++;
        return undefined;
      }
      this.stats.malformed++;
      return errorResponse(msg, q, q.rcode);
    }
    const limit = tcp ? 65535 : Math.max(512, Math.min(q.edns?.udpSize ?? 512, 65535));
    const route: Route =
      q.plain && q.qclass === 1 ? this.route(q.name) : { to: 'system', rule: 'not-a-hostname', detail: '' };
    if (route.to === 'system') return this.#forward(msg, q, tcp, limit);
    const key = `${q.qtype}/${(q.edns ? 1 : 0) | (q.edns?.dnssecOk ? 2 : 0) | (q.cd ? 4 : 0)}/${q.name}`;
    const hit = this.#cache.get(key, this.#now());
    if (hit) {
      this.stats.cacheHits++;
      return truncateForUdp(personalise(hit, msg, q), q.questionEnd, limit);
    }
    return this.#answerFromCluster(key, msg, q, route.query, limit);
  }

  async #answerFromCluster(key: string, msg: Uint8Array, q: Query, target: string, limit: number): Promise<Uint8Array> {
    const cluster = this.#cluster;
    if (!cluster) {
      this.stats.servfail++;
      return errorResponse(msg, q, RCODE.SERVFAIL, {
        code: EDE_NOT_READY,
        text: 'devnet: not connected to the cluster',
      });
    }
    let pending = this.#inflight.get(key);
    if (pending) this.stats.coalesced++;
    else if (this.#inflight.size >= this.#maxPending) return this.#overloaded(msg, q);
    else {
      pending = this.#fetch(cluster, key, q, target);
      this.#inflight.set(key, pending);
      pending.then(
        () => this.#inflight.delete(key),
        () => this.#inflight.delete(key),
      );
    }
    try {
      return truncateForUdp(personalise((await pending).slice(), msg, q), q.questionEnd, limit);
    } catch (err) {
      this.stats.servfail++;
      const text = `devnet: cluster DNS did not answer: ${(err as Error).message}`;
      this.#log.debug({ name: q.name, err: (err as Error).message }, 'cluster DNS query failed');
      return errorResponse(msg, q, RCODE.SERVFAIL, { code: EDE_NETWORK_ERROR, text: text.slice(0, 200) });
    }
  }

  async #fetch(cluster: ClusterResolver, key: string, q: Query, target: string): Promise<Uint8Array> {
    this.stats.clusterQueries++;
    const edns = q.edns ? { udpSize: ADVERTISED_UDP_SIZE, version: 0, dnssecOk: q.edns.dnssecOk } : undefined;
    const query = encodeQuery(randomInt(0x10000), target, q.qtype, q.qclass, edns, q.cd);
    const answer = await cluster.query(query, AbortSignal.timeout(this.#clusterTimeoutMs));
    if (answer.length < 12 || answer[0] !== query[0] || answer[1] !== query[1] || !questionMatches(query, answer))
      throw new Error('the answer does not match the question');
    if (((answer[3] as number) & 0xf) === RCODE.SERVFAIL) throw new Error('SERVFAIL');
    const final = target === q.name ? answer : synthesiseAlias(answer, q.name, target, q.qtype, q.qclass);
    this.#cache.put(key, final, this.#now());
    return final;
  }

  #overloaded(msg: Uint8Array, q: Query): Uint8Array {
    this.stats.servfail++;
    return errorResponse(msg, q, RCODE.SERVFAIL, { code: EDE_NOT_READY, text: 'devnet: too many queries in flight' });
  }

  async #forward(msg: Uint8Array, q: Query, tcp: boolean, limit: number): Promise<Uint8Array> {
    const upstream = this.#upstream;
    if (!upstream) return errorResponse(msg, q, RCODE.REFUSED);
    if (this.#forwarding >= this.#maxPending) return this.#overloaded(msg, q);
    this.stats.forwarded++;
    this.#forwarding++;
    try {
      const answer = await upstream.query(msg, AbortSignal.timeout(this.#upstreamTimeoutMs), { tcp });
      return truncateForUdp(answer, q.questionEnd, limit);
    } catch (err) {
      this.stats.servfail++;
      this.#log.debug({ name: q.name, err: (err as Error).message }, 'upstream DNS query failed');
      const text = `devnet: upstream DNS did not answer: ${(err as Error).message}`;
      return errorResponse(msg, q, RCODE.SERVFAIL, { code: EDE_NETWORK_ERROR, text: text.slice(0, 200) });
    } finally {
      this.#forwarding--;
    }
  }
}

/** personalise makes a cached response answer this query: its ID, its RD bit, its question spelling (0x20 case). */
function personalise(resp: Uint8Array, msg: Uint8Array, q: Query): Uint8Array {
  resp[0] = msg[0] as number;
  resp[1] = msg[1] as number;
  resp[2] = ((resp[2] as number) & 0xfe) | ((msg[2] as number) & 0x01);
  if (resp.length >= q.questionEnd) resp.set(msg.subarray(12, q.questionEnd), 12);
  return resp;
}

/**
 * synthesiseAlias rewrites a cluster answer for `target` into an answer for
 * the name the client asked (`svc.ns` → `svc.ns.svc.cluster.local`): the
 * question becomes the client's name and a CNAME from it to the target leads
 * the answer section, as DNAME synthesis does (RFC 6672 §3.3), so clients
 * see the true canonical name. The CNAME lives as long as the shortest
 * answer (or the negative TTL).
 */
export function synthesiseAlias(
  answer: Uint8Array,
  name: string,
  target: string,
  qtype: number,
  qclass: number,
): Uint8Array {
  const packet = Packet.parse(Buffer.from(answer.buffer, answer.byteOffset, answer.byteLength));
  if (packet.errors.length > 0) throw new Error(`malformed cluster answer: ${packet.errors[0]?.message}`);
  const walk = walkRecords(answer);
  const ttl = walk?.minAnswerTtl ?? walk?.negativeTtl ?? 5;
  packet.questions = [new Packet.Question(name, qtype, qclass)];
  packet.answers.unshift(new Packet.Resource({ name, type: QTYPE.CNAME, class: 1, ttl, domain: target }));
  packet.header.aa = 0;
  const out = packet.toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
