// CIDR arithmetic shared by route planning and cluster subnet discovery,
// on top of ip-num. Strings in, normalised strings out.
import { IPv4, IPv4CidrRange, IPv6, IPv6CidrRange, Validator } from 'ip-num';

/** Cidr is a parsed, normalised IPv4 or IPv6 prefix. */
export interface Cidr {
  family: 4 | 6;
  /** text is the normalised form, e.g. "10.96.0.0/12" or "fd00::/108". */
  text: string;
  first: bigint;
  last: bigint;
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

function compress6(v: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((v >> BigInt(i * 16)) & 0xffffn).toString(16));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** formatAddress renders an address number of a family in its usual text form. */
export function formatAddress(family: 4 | 6, v: bigint): string {
  if (family === 4) return [24, 16, 8, 0].map((s) => Number((v >> BigInt(s)) & 0xffn)).join('.');
  return compress6(v);
}

/** parseAddress reads an IPv4 or IPv6 address, or undefined. */
export function parseAddress(s: string): { family: 4 | 6; value: bigint } | undefined {
  if (Validator.isValidIPv4String(s)[0]) return { family: 4, value: IPv4.fromString(s).getValue() };
  if (Validator.isValidIPv6String(s)[0]) return { family: 6, value: IPv6.fromString(s).getValue() };
  return undefined;
}

/** makeCidr builds a Cidr from a family, any address inside it and a prefix length (host bits cleared). */
export function makeCidr(family: 4 | 6, addr: bigint, prefix: number): Cidr {
  const bits = BITS[family];
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const first = addr & ~hostMask & ((1n << BigInt(bits)) - 1n);
  return { family, first, last: first | hostMask, prefix, text: `${formatAddress(family, first)}/${prefix}` };
}

/** parseCidr reads "a.b.c.d/n" or "x::/n" (a bare address is a host prefix); host bits are cleared. */
export function parseCidr(s: string): Cidr | undefined {
  const t = s.trim();
  const slash = t.indexOf('/');
  const a = parseAddress(slash < 0 ? t : t.slice(0, slash));
  if (!a) return undefined;
  const prefix = slash < 0 ? BITS[a.family] : Number(t.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > BITS[a.family]) return undefined;
  // ip-num validates the notation; we keep our own bigint form for arithmetic.
  if (a.family === 4) IPv4CidrRange.fromCidr(`${formatAddress(4, a.value)}/${prefix}`);
  else IPv6CidrRange.fromCidr(`${formatAddress(6, a.value)}/${prefix}`);
  return makeCidr(a.family, a.value, prefix);
}

/** overlaps reports whether two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** contains reports whether outer covers all of inner. */
export function contains(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.first <= inner.first && inner.last <= outer.last;
}

/** subtract returns the prefixes covering `from` minus `hole`, fewest first-to-last. */
export function subtract(from: Cidr, hole: Cidr): Cidr[] {
  if (!overlaps(from, hole)) return [from];
  if (contains(hole, from)) return [];
  const half = from.prefix + 1;
  const lo = makeCidr(from.family, from.first, half);
  const hi = makeCidr(from.family, lo.last + 1n, half);
  return [...subtract(lo, hole), ...subtract(hi, hole)];
}

/**
 * coverAddresses groups addresses into prefixes of length v4Prefix (IPv4) or
 * v6Prefix (IPv6): the fallback when a cluster does not say its ranges.
 */
export function coverAddresses(addrs: Iterable<string>, v4Prefix = 16, v6Prefix = 64): Cidr[] {
  const out = new Map<string, Cidr>();
  for (const s of addrs) {
    const a = parseAddress(s);
    if (!a) continue;
    const c = makeCidr(a.family, a.value, a.family === 4 ? v4Prefix : v6Prefix);
    out.set(c.text, c);
  }
  return [...out.values()].sort(compareCidr);
}

/** compareCidr orders by family, then first address, then prefix. */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.first !== b.first) return a.first < b.first ? -1 : 1;
  return a.prefix - b.prefix;
}

/** mergeCidrs drops prefixes covered by others and sorts the rest. */
export function mergeCidrs(cidrs: Iterable<Cidr>): Cidr[] {
  const sorted = [...cidrs].sort(compareCidr);
  const out: Cidr[] = [];
  for (const c of sorted) {
    if (out.some((o) => contains(o, c))) continue;
    out.push(c);
  }
  return out;
}
