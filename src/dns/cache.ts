// AnswerCache keeps whole cluster responses as wire bytes, keyed by the
// question and the flags that change an answer, for as long as their TTL
// says (RFC 1035 §3.2.1; negative answers per RFC 2308 §5). A hit copies the
// bytes and ages every TTL in place, so serving from the cache costs one copy
// and a few writes — no parse, no encode.
import { walkRecords } from './message.ts';

/** CachePolicy bounds what the cache keeps. */
export interface CachePolicy {
  /** maxTtl caps any TTL, in seconds. */
  maxTtl: number;
  /** negativeTtl is used for NXDOMAIN/NODATA without an SOA, and caps the SOA-derived one, in seconds. */
  negativeTtl: number;
  /** maxEntries bounds memory; the oldest entry goes first. */
  maxEntries: number;
}

/** DEFAULT_CACHE_POLICY suits a cluster DNS whose TTLs are short (CoreDNS's kubernetes plugin defaults to 5 s). */
export const DEFAULT_CACHE_POLICY: CachePolicy = { maxTtl: 300, negativeTtl: 30, maxEntries: 10_000 };

interface Entry {
  msg: Uint8Array;
  ttlOffsets: number[];
  ttls: number[];
  storedAt: number;
  expiresAt: number;
}

/** AnswerCache is a TTL cache of wire-format responses; the clock is passed to each call (milliseconds). */
export class AnswerCache {
  readonly #policy: CachePolicy;
  readonly #entries = new Map<string, Entry>();

  constructor(policy: CachePolicy = DEFAULT_CACHE_POLICY) {
    this.#policy = policy;
  }

  /** size is the number of entries, expired ones included until they are looked up or evicted. */
  get size(): number {
    return this.#entries.size;
  }

  /** get returns a fresh copy of the cached response with TTLs aged to now, or undefined. */
  get(key: string, now: number): Uint8Array | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (now >= e.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    // A real copy even when the stored bytes are a Buffer (Buffer#slice shares memory):
    // the responder patches each reply's ID in place.
    const out = Uint8Array.prototype.slice.call(e.msg);
    const elapsed = Math.floor((now - e.storedAt) / 1000);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < e.ttlOffsets.length; i++) {
      dv.setUint32(e.ttlOffsets[i] as number, Math.max(0, (e.ttls[i] as number) - elapsed));
    }
    return out;
  }

  /**
   * put stores a response if it is cacheable: NOERROR with answers (for the
   * smallest answer TTL), or NXDOMAIN / NODATA (for the SOA-derived negative
   * TTL, RFC 2308 §5). SERVFAIL, truncated answers and anything else are not kept. Returns the
   * seconds it will live, or 0 when not stored.
   */
  put(key: string, msg: Uint8Array, now: number): number {
    const walk = walkRecords(msg);
    if (!walk || ((msg[2] as number) & 0x02) !== 0) return 0; // malformed or truncated (TC): never cached
    const rcode = (msg[3] as number) & 0xf;
    let ttl: number;
    if (rcode === 0 && walk.answers > 0) ttl = Math.min(walk.minAnswerTtl ?? 0, this.#policy.maxTtl);
    else if (rcode === 3 || (rcode === 0 && walk.answers === 0))
      ttl = Math.min(walk.negativeTtl ?? this.#policy.negativeTtl, this.#policy.negativeTtl);
    else return 0;
    if (ttl <= 0) return 0;
    const copy = Uint8Array.prototype.slice.call(msg);
    const dv = new DataView(copy.buffer);
    const ttls = walk.ttlOffsets.map((o) => Math.min(dv.getUint32(o), this.#policy.maxTtl));
    if (this.#entries.size >= this.#policy.maxEntries && !this.#entries.has(key)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.delete(key);
    this.#entries.set(key, {
      msg: copy,
      ttlOffsets: walk.ttlOffsets,
      ttls,
      storedAt: now,
      expiresAt: now + ttl * 1000,
    });
    return ttl;
  }

  /** clear drops everything (on a new snapshot or session). */
  clear(): void {
    this.#entries.clear();
  }
}
