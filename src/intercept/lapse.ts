// Lapsed intercepts (ARCHITECTURE decision 13 as built): an intercept whose
// lease value stood still for LEASE_TTL_MS has lapsed — its owner's devnet
// crashed or lost the cluster, and the intercept pod already sends its
// traffic to the original endpoints. The pod may only read its Service
// (docs/security.md, "a compromised pod"), so the Service is restored by a
// devnet user whose own credentials may edit it: `devnet intercept` on that
// Service, or `devnet connect` and `devnet list` in its namespace.
//
// Whether a lease lapsed is judged by observation, never by comparing the
// owner's timestamps with a clock (skew): either the intercept pod says how
// long it has seen the value stand still (it reads the Service every second,
// and routes by exactly that judgement), or this laptop watches the value
// for the TTL itself. The pod is asked first because it already knows, at
// once; watching is the fallback when it does not answer (gone, not ready, an
// older version). The pod is trusted with this only as far as it is trusted
// already: it is in the path of every connection to the Service.
//
// A live intercept of another owner is never ended: an entry counts as
// lapsed only if the value this laptop read is the one that stood still, and
// the restore replaces the Service only if that value is still there.
import { z } from 'zod';
import {
  checkAdd,
  type Entry,
  entries,
  LEASE_TTL_MS,
  type LeaseView,
  leaseValue,
  type Refusal,
  type ServiceLike,
  withoutEntries,
} from './model.ts';

/** LeaseReport is an intercept pod's answer to POST /leases: each intercept on its Service and how long its lease stood still, by the pod's clock. */
export interface LeaseReport {
  leases: { name: string; renewed: string; unchangedMs: number }[];
}

// An answer from a pod is checked before use; annotations are bounded by the API server (256 KiB in all).
const leaseReport = z.looseObject({
  leases: z
    .array(
      z.looseObject({
        name: z.string().max(253),
        renewed: z.string().max(262_144),
        unchangedMs: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
      }),
    )
    .max(4096),
});

/** parseLeaseReport checks an intercept pod's answer; anything else is undefined. */
export function parseLeaseReport(answer: unknown): LeaseReport | undefined {
  const r = leaseReport.safeParse(answer);
  return r.success
    ? { leases: r.data.leases.map(({ name, renewed, unchangedMs }) => ({ name, renewed, unchangedMs })) }
    : undefined;
}

/** LeaseState: live (renewed within the TTL), lapsed (stood still for the TTL), or unknown (not watched long enough). */
export type LeaseState = 'live' | 'lapsed' | 'unknown';

/** Verdict is the judgement on one intercept recorded on a Service. */
export interface Verdict {
  name: string;
  /** entry is the parsed intercept (undefined: malformed). */
  entry: Entry | undefined;
  /** renewed is the lease value the judgement is about: a restore removes the entry only while it still holds it. */
  renewed: string;
  state: LeaseState;
  /** unchangedMs is the longest time an observer saw `renewed` stand still. */
  unchangedMs: number;
  /** by says whose observation decided: the intercept pod's or this laptop's. */
  by: 'pod' | 'laptop';
}

/**
 * judgeLeases judges every intercept recorded on `svc` (as this laptop just
 * read it) from the pod's report and this laptop's own observation (either
 * may be missing). A value the pod saw differ from ours was just renewed:
 * live. Otherwise the longer observation of the same value decides.
 */
export function judgeLeases(
  svc: ServiceLike,
  pod: LeaseReport | undefined,
  own: LeaseView[] | undefined,
  ttlMs = LEASE_TTL_MS,
): Verdict[] {
  const out: Verdict[] = [];
  for (const [name, entry] of entries(svc)) {
    const renewed = leaseValue(svc, name) as string;
    const p = pod?.leases.find((l) => l.name === name);
    const o = own?.find((l) => l.name === name && l.renewed === renewed);
    const base = { name, entry, renewed };
    if (p && p.renewed !== renewed) {
      out.push({ ...base, state: 'live', unchangedMs: 0, by: 'pod' });
      continue;
    }
    const podMs = p?.unchangedMs ?? -1;
    const ownMs = o?.unchangedMs ?? -1;
    const by = podMs >= ownMs ? 'pod' : 'laptop';
    const unchangedMs = Math.max(podMs, ownMs, 0);
    const state: LeaseState = Math.max(podMs, ownMs) >= ttlMs ? 'lapsed' : p ? 'live' : 'unknown';
    out.push({ ...base, state, unchangedMs, by });
  }
  return out;
}

/** Takeover is what `devnet intercept` does about the intercepts already on a Service. */
export type Takeover =
  | { kind: 'proceed'; restore: Verdict[] }
  | { kind: 'refused'; refusal: Refusal }
  | { kind: 'undecided'; watch: Verdict[] };

/**
 * planTakeover decides whether `entry` may go on the Service: lapsed
 * intercepts are restored first when the entry then fits; if a live one
 * stands in the way it is refused as ever (naming its owner); if only
 * intercepts not yet judged stand in the way, they must be watched.
 */
export function planTakeover(svc: ServiceLike, entry: Entry, verdicts: Verdict[]): Takeover {
  const lapsed = verdicts.filter((v) => v.state === 'lapsed');
  const unknown = verdicts.filter((v) => v.state === 'unknown');
  const hopeful = checkAdd(
    withoutEntries(
      svc,
      [...lapsed, ...unknown].map((v) => v.name),
    ).service,
    entry,
  );
  if (hopeful) return { kind: 'refused', refusal: hopeful };
  if (
    checkAdd(
      withoutEntries(
        svc,
        lapsed.map((v) => v.name),
      ).service,
      entry,
    )
  )
    return { kind: 'undecided', watch: unknown };
  return { kind: 'proceed', restore: lapsed };
}

/**
 * withoutLapsed removes from `svc` the judged intercepts that still hold the
 * lease value they were judged by — a value renewed since makes one live
 * again, and it stays — with the original selector back when none is left
 * (model.ts withoutEntries); undefined when none still holds its value.
 */
export function withoutLapsed<S extends ServiceLike>(
  svc: S,
  lapsed: { name: string; renewed: string }[],
): { service: S; removed: string[]; last: boolean } | undefined {
  const removed = lapsed.filter((l) => leaseValue(svc, l.name) === l.renewed).map((l) => l.name);
  if (removed.length === 0) return undefined;
  return { ...withoutEntries(svc, removed), removed };
}

/** leftAtSeat names the entries this user's earlier daemon at this seat recorded: that daemon is gone (one serves a seat at a time). */
export function leftAtSeat(svc: ServiceLike, me: { owner: string; seat: string; key: string }): string[] {
  return [...entries(svc).values()]
    .filter((e): e is Entry => e !== undefined && e.owner === me.owner && e.seat === me.seat && e.key !== me.key)
    .map((e) => e.name);
}

/** lapseNote tells what a restore did: `restored ns/svc: OWNER's intercept NAME had lapsed N s ago (...)`. */
export function lapseNote(
  namespace: string,
  service: string,
  removed: Verdict[],
  restored: boolean,
  ttlMs = LEASE_TTL_MS,
): string {
  const each = removed.map((v) => {
    const ago = Math.round(Math.max(0, v.unchangedMs - ttlMs) / 1000);
    const clock = v.by === 'pod' ? 'the intercept pod' : 'this machine';
    return `${v.entry?.owner ?? 'an unknown owner'}'s intercept ${v.name}${v.entry ? '' : ' (malformed)'} had lapsed ${ago} s ago (not renewed for ${Math.round(v.unchangedMs / 1000)} s, by ${clock}'s clock)`;
  });
  return `${restored ? 'restored' : 'removed from'} ${namespace}/${service}: ${each.join('; ')}`;
}
