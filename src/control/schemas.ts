// Building blocks for the control protocols' schemas (zod; see
// docs/dependencies.md): names, addresses and ports as devnet accepts them
// from a less trusted peer. Each check says in its message what was wanted.
import { isIP } from 'node:net';
import { z } from 'zod';

/** DNS_NAME matches a DNS name of letter-digit-hyphen labels (RFC 1123 §2.1), optionally with the root dot. */
const DNS_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** isDnsName says whether s is a DNS name: labels of letters, digits and inner hyphens, at most 253 bytes. */
export function isDnsName(s: string): boolean {
  return DNS_NAME.test(s);
}

/** dnsName is a DNS name (no spaces, slashes, newlines or leading hyphens: it ends up in files and argv). */
export const dnsName = z.string().refine(isDnsName, { error: (i) => `${JSON.stringify(i.input)} is not a DNS name` });

/** ipAddress is an IPv4 or IPv6 address literal (no zone, no port). */
export const ipAddress = z
  .string()
  .max(45)
  .refine((s) => isIP(s) !== 0 && !s.includes('%'), {
    error: (i) => `${JSON.stringify(i.input)} is not an IP address`,
  });

/** port is a TCP/UDP port number. */
export const port = z.int().min(1).max(65535);

/** dnsEndpoint is a DNS server's address and port. */
export const dnsEndpoint = z.strictObject({ address: ipAddress, port });

/** dnsMode is one of the OS resolver integrations (src/dns/os). */
export const dnsMode = z.enum(['resolved', 'resolvconf', 'macos', 'none']);

/** cidrText is a CIDR as text, bounded; whether it parses and is allowed is the policy's to say, with a precise message. */
export const cidrText = z.string().min(1).max(64);

/** noParams is a method that takes nothing. */
export const noParams = z.null();

/**
 * shaped checks the fields a receiver reads (other fields pass through) and
 * types the result as T: for answers whose full shape is another module's
 * interface, where the receiver needs only those fields to be sound.
 */
export function shaped<T>(fields: z.core.$ZodLooseShape): z.ZodType<T, T> {
  return z.looseObject(fields) as unknown as z.ZodType<T, T>;
}
