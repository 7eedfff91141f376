// The methods of the root helper's control socket (src/helper/service.ts),
// as the helper receives them from the user daemon — which it treats as
// untrusted (ARCHITECTURE decision 14, docs/security.md). The schemas here
// check shapes and bounds; the helper's policy (src/helper/policy.ts) then
// decides what is allowed: which routes, which DNS servers, which paths.
import { z } from 'zod';
import type { BaseConfig } from '../dns/os/types.ts';
import type { LocalRoute } from '../helper/routes.ts';
import { cidrText, dnsEndpoint, dnsMode, dnsName, noParams, shaped } from './schemas.ts';
import type { Method } from './transport.ts';

/** TUN_ADDRESS is the TUN device's own address (RFC 2544 benchmarking range, never on the internet); the helper assigns it. */
export const TUN_ADDRESS = '198.18.0.1';
/** DNS_ADDRESS is devnet's DNS server inside the TUN; the helper routes it and allows only it as a nameserver. */
export const DNS_ADDRESS = '198.18.0.2';
/** MAX_ROUTES bounds the routes of one request. */
export const MAX_ROUTES = 1024;

/** routeSpec is one destination to route into the TUN. */
export const routeSpec = z.strictObject({ dst: cidrText });

/** tunName is a device name devnet may create: devnet, devnet0 … devnet999 (interface names are argv for `ip`). */
export const tunName = z
  .string()
  .regex(/^devnet\d{0,3}$/, { error: (i) => `${JSON.stringify(i.input)} is not a devnet device name (devnet0…)` });

/** openTunRequest asks for the TUN, configured and delivered to the socket the helper chose. */
export const openTunRequest = z.strictObject({
  name: tunName,
  mtu: z.int().min(1280).max(65535),
  routes: z.array(routeSpec).max(MAX_ROUTES),
  /** fdSocket must be the path the helper itself chose in the user's folder; anything else is refused. */
  fdSocket: z.string().max(107),
});

/** OpenTunRequest is what openTun takes. */
export type OpenTunRequest = z.infer<typeof openTunRequest>;

/** osConfig is what the daemon asks of the system resolver (src/dns/os/types.ts OSConfig). */
export const osConfig = z.strictObject({
  nameservers: z.array(dnsEndpoint).min(1).max(3),
  searchDomains: z.array(dnsName).max(32),
  matchDomains: z.array(dnsName).max(20_000),
});

const localRoute = shaped<LocalRoute>({ dst: z.string() });

/** HELPER_PROTOCOL lists the helper's methods with the schemas of their params and results. */
export const HELPER_PROTOCOL = {
  hello: { params: noParams, result: z.looseObject({ pid: z.int(), version: z.string() }) },
  /** routes: the machine's routing table (IPv4 and IPv6 main tables), for the daemon's early conflict message. */
  routes: { params: noParams, result: z.array(localRoute) },
  openTun: { params: openTunRequest, result: z.strictObject({ name: z.string() }) },
  addRoutes: { params: z.strictObject({ routes: z.array(routeSpec).min(1).max(MAX_ROUTES) }), result: z.null() },
  dnsBaseConfig: {
    params: z.strictObject({ mode: dnsMode }),
    result: shaped<BaseConfig>({ nameservers: z.array(dnsEndpoint), searchDomains: z.array(z.string()) }),
  },
  dnsSet: { params: z.strictObject({ config: osConfig }), result: z.strictObject({ splitDns: z.boolean() }) },
  dnsClose: { params: noParams, result: z.null() },
  teardown: { params: noParams, result: z.strictObject({ failures: z.int() }) },
} satisfies Record<string, Method>;

/** HelperProtocol is the type of HELPER_PROTOCOL. */
export type HelperProtocol = typeof HELPER_PROTOCOL;
