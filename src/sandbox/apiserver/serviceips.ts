// ClusterIP allocation for Services from the service CIDR, worded like the
// apiserver's IP allocator (pkg/registry/core/service/ipallocator): devnet
// parses "The range of valid IPs is X" to discover the range on clusters
// without ServiceCIDR objects.
import { randomInt } from 'node:crypto';
import type { FieldError } from './status.ts';

/** SERVICE_CIDR is the range ClusterIPs come from. */
export const SERVICE_CIDR = '10.96.0.0/12';
/** KUBERNETES_SERVICE_IP is the first address, held by default/kubernetes. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

const BASE = 0x0a600000; // 10.96.0.0
const SIZE = 1 << 20;
// Dynamic allocations avoid the lower band, kept for static picks such as
// 10.96.0.10 (kube-dns), like the real allocator's reserved range.
const LOWER_BAND = 256;

/** ipToInt parses a dotted IPv4 address; undefined when it is not one. */
export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** allocateClusterIP validates a requested IP or picks a free one; returns the IP or a field error. */
export function allocateClusterIP(requested: string | undefined, used: Set<string>): string | FieldError {
  if (requested !== undefined && requested !== '') {
    const n = ipToInt(requested);
    const value = [requested];
    if (n === undefined)
      return {
        type: 'Invalid',
        field: 'spec.clusterIPs[0]',
        value: requested,
        detail: 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      };
    if (n <= BASE || n >= BASE + SIZE - 1)
      return {
        type: 'Invalid',
        field: 'spec.clusterIPs',
        value,
        detail: `failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${SERVICE_CIDR}`,
      };
    if (used.has(requested))
      return {
        type: 'Invalid',
        field: 'spec.clusterIPs',
        value,
        detail: `failed to allocate IP ${requested}: provided IP is already allocated`,
      };
    return requested;
  }
  for (let tries = 0; tries < 64; tries++) {
    const ip = intToIp(BASE + LOWER_BAND + randomInt(SIZE - LOWER_BAND - 1));
    if (!used.has(ip)) return ip;
  }
  for (let n = BASE + 1; n < BASE + SIZE - 1; n++) if (!used.has(intToIp(n))) return intToIp(n);
  return { type: 'Invalid', field: 'spec.clusterIPs', value: [], detail: 'failed to allocate IP: range is full' };
}

/** allocateNodePort picks a free port in 30000-32767 or validates a requested one. */
export function allocateNodePort(requested: unknown, used: Set<number>, field: string): number | FieldError {
  if (requested !== undefined && requested !== 0) {
    if (!Number.isInteger(requested) || (requested as number) < 30000 || (requested as number) > 32767)
      return {
        type: 'Invalid',
        field,
        value: requested,
        detail: 'provided port is not in the valid range. The range of valid ports is 30000-32767',
      };
    if (used.has(requested as number))
      return { type: 'Invalid', field, value: requested, detail: 'provided port is already allocated' };
    return requested as number;
  }
  for (let tries = 0; tries < 64; tries++) {
    const p = 30000 + randomInt(2768);
    if (!used.has(p)) return p;
  }
  return { type: 'Invalid', field, value: 0, detail: 'range is full' };
}
