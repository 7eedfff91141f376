// The methods of the user daemon's control socket (src/daemon/main.ts), as
// the daemon receives them from the CLI and as the CLI — possibly running as
// root under sudo — receives the daemon's answers. Requests are checked in
// full; answers are checked for the fields the CLI reads.
import { z } from 'zod';
import type { SessionStatus } from '../daemon/session.ts';
import type { ExplainContext } from '../dns/explain.ts';
import type { InterceptInfo, ListedIntercept } from '../intercept/laptop.ts';
import { cidrText, dnsMode, noParams, shaped } from './schemas.ts';
import type { Method } from './transport.ts';

const name = z.string().min(1).max(253);

/** connectParams are `devnet connect`'s options. */
export const connectParams = z.strictObject({
  kubeconfig: z.string().max(4096).optional(),
  /** kubeconfigFiles is the KUBECONFIG list (or ~/.kube/config) the CLI resolved for the user; kubeconfig wins. */
  kubeconfigFiles: z.array(z.string().max(4096)).max(64).optional(),
  context: name.optional(),
  namespace: name.optional(),
  gatewayNamespace: name.optional(),
  transport: z.enum(['portforward', 'direct']).optional(),
  /** directAddress is host:port of the gateway's direct listener (transport direct). */
  directAddress: z.string().max(300).optional(),
  alsoProxy: z.array(cidrText).max(256).optional(),
  neverProxy: z.array(cidrText).max(256).optional(),
  allowConflict: z.array(cidrText).max(256).optional(),
  dnsMode: z.union([dnsMode, z.literal('auto')]).optional(),
  tunName: z.string().max(15).optional(),
});

/** ConnectParams are `devnet connect`'s options, as sent over the control socket. */
export type ConnectParams = z.infer<typeof connectParams>;

/** interceptParams are `devnet intercept`'s options (src/intercept/laptop.ts InterceptParams). */
export const interceptParams = z.strictObject({
  service: name,
  namespace: name.optional(),
  name: name.optional(),
  /** ports are LOCAL[:SVCPORT] each (SVCPORT a number or a port name). */
  ports: z.array(z.string().max(80)).min(1).max(64),
  headers: z.record(z.string().max(256), z.string().max(4096)).optional(),
  /** mirror: the pods keep answering; this laptop gets a copy of each request. */
  mirror: z.boolean().optional(),
  /** env: also return the environment of one of the Service's pods (--env-file, a command). */
  env: z.boolean().optional(),
  /** mount: write the pod's volumes under `dir` (`created`: devnet made it and removes it). */
  mount: z.strictObject({ dir: z.string().min(1).max(4096), created: z.boolean() }).optional(),
  /** leaveWithCaller: leave the intercept when the asking connection closes (a command's intercept). */
  leaveWithCaller: z.boolean().optional(),
});

/** InterceptParams are `devnet intercept`'s options, as sent over the control socket. */
export type InterceptParams = z.infer<typeof interceptParams>;

const sessionStatus = shaped<SessionStatus>({
  connected: z.boolean(),
  context: z.string(),
  cluster: z.string(),
  namespace: z.string(),
  device: z.string(),
  routes: z.array(z.string()),
  serviceRanges: z.looseObject({ cidrs: z.array(z.string()), source: z.string() }),
  podRanges: z.looseObject({ cidrs: z.array(z.string()), source: z.string() }),
  tunnel: z.looseObject({ up: z.boolean(), rttMs: z.number(), reconnects: z.number(), lastError: z.string() }),
  flows: z.looseObject({ tcp: z.number(), datagram: z.number() }),
});
const notConnected = z.strictObject({ connected: z.literal(false) });
const interceptPort = z.looseObject({ servicePort: z.int(), targetPort: z.int(), local: z.int() });
const interceptInfo = shaped<InterceptInfo>({
  name: z.string(),
  namespace: z.string(),
  service: z.string(),
  mode: z.enum(['global', 'personal', 'mirror']),
  headers: z.record(z.string(), z.string()),
  ports: z.array(interceptPort),
  owner: z.string(),
  notes: z.array(z.string()).optional(),
});
const withIntercepts = z.looseObject({
  intercepts: z.array(interceptInfo).optional(),
  /** notes: what connect's repair did about intercepts left behind (for the user to read). */
  notes: z.array(z.string()).optional(),
});
const listedIntercept = shaped<ListedIntercept>({
  namespace: z.string(),
  service: z.string(),
  name: z.string(),
  owner: z.string(),
  mode: z.enum(['global', 'personal', 'mirror']),
  headers: z.record(z.string(), z.string()),
  ports: z.array(interceptPort),
  health: z.string(),
  lapsedMs: z.number().nonnegative().optional(),
});
const explainContext = shaped<ExplainContext>({
  snapshot: z.looseObject({
    clusterDomain: z.string(),
    namespace: z.string(),
    namespaces: z.array(z.string()),
    services: z.array(z.looseObject({ name: z.string(), namespace: z.string() })),
    serviceCIDRs: z.array(z.string()),
    podCIDRs: z.array(z.string()),
  }),
  mode: dnsMode,
  os: z.looseObject({
    nameservers: z.array(z.looseObject({})),
    searchDomains: z.array(z.string()),
    matchDomains: z.array(z.string()),
  }),
});

/** DAEMON_PROTOCOL lists the daemon's methods with the schemas of their params and results. */
export const DAEMON_PROTOCOL = {
  connect: { params: connectParams, result: z.intersection(sessionStatus, withIntercepts) },
  status: { params: noParams, result: z.union([notConnected, z.intersection(sessionStatus, withIntercepts)]) },
  intercept: { params: interceptParams, result: interceptInfo },
  leave: {
    params: z.strictObject({ name, namespace: name.optional() }),
    result: z.strictObject({ restored: z.boolean() }),
  },
  list: { params: noParams, result: z.array(listedIntercept) },
  dnsContext: { params: noParams, result: explainContext.nullable() },
  version: { params: noParams, result: z.looseObject({ version: z.string(), gateway: z.string().nullable() }) },
  quit: { params: noParams, result: z.strictObject({ quitting: z.boolean() }) },
} satisfies Record<string, Method>;

/** DaemonProtocol is the type of DAEMON_PROTOCOL. */
export type DaemonProtocol = typeof DAEMON_PROTOCOL;
