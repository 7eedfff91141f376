// Gateway configuration from flags with environment fallbacks (pure: argv,
// env and a file reader are passed in). The tunnel listener must be a
// loopback address (ARCHITECTURE decision 2): the API server's port-forward
// dials the pod's loopback, so nothing else in the cluster can reach it.
import { BlockList, isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { DevnetError } from '../errors.ts';
import { DEFAULT_TCP_KEEPALIVE_MS } from './dial.ts';

/** HostPort is a listen address. */
export interface HostPort {
  host: string;
  port: number;
}

/** GatewayConfig is the gateway process's configuration. */
export interface GatewayConfig {
  listen: HostPort;
  healthListen: HostPort;
  directListen: HostPort | undefined;
  /** interceptListen is where intercept pods connect (routable; they present a derived token). */
  interceptListen: HostPort | undefined;
  /** tls is the direct listener's certificate and key (PEM), required with directListen. */
  tls: { cert: string; key: string } | undefined;
  token: string;
  resolvConf: string;
  dnsPort: number;
  deny: string[];
  maxSessions: number;
  maxChannels: number;
  drainTimeoutMs: number;
  /** tcpKeepaliveMs is the silence after which dialed sockets send keepalive probes (see dialTcp). */
  tcpKeepaliveMs: number;
  logLevel: string;
}

/** ALWAYS_DENY is refused whatever --deny says: the pod's own loopback (its tunnel and health listeners) and unspecified addresses. */
export const ALWAYS_DENY = ['127.0.0.0/8', '::1/128', '0.0.0.0/8', '::/128'];

/**
 * DEFAULT_DENY is the deny-list unless --deny replaces it: ALWAYS_DENY plus
 * link-local ranges, where clouds serve instance metadata and credentials
 * (169.254.169.254 on AWS, GCP, Azure and OpenStack, 169.254.170.2 on ECS,
 * fd00:ec2::254 on AWS over IPv6), and the other well-known metadata and host
 * service addresses (Alibaba Cloud 100.100.100.200, Azure 168.63.129.16).
 * IPv4-mapped IPv6 forms are covered too (node:net BlockList maps them).
 */
export const DEFAULT_DENY = [
  ...ALWAYS_DENY,
  '169.254.0.0/16',
  'fe80::/10',
  'fd00:ec2::254/128',
  '100.100.100.200/32',
  '168.63.129.16/32',
];

/** ownAddresses lists the pod's own addresses from os.networkInterfaces() (zone ids dropped). */
export function ownAddresses(ifaces: Record<string, { address: string }[] | undefined>): string[] {
  return Object.values(ifaces)
    .flatMap((list) => list ?? [])
    .map((i) => i.address.replace(/%.*$/, ''))
    .filter((a) => isIP(a) !== 0);
}

/** gatewayDenyList is what the gateway enforces: ALWAYS_DENY, the configured list and the pod's own addresses. */
export function gatewayDenyList(configured: string[], own: string[]): BlockList {
  return denyList([...ALWAYS_DENY, ...configured, ...own.map((a) => (isIP(a) === 6 ? `${a}/128` : `${a}/32`))]);
}

/** USAGE is the gateway's --help text. */
export const USAGE = `usage: node src/gateway/main.ts [flags]
  --listen ADDR:PORT         tunnel listener, loopback only (env DEVNET_GATEWAY_LISTEN, default 127.0.0.1:8300)
  --health-listen ADDR:PORT  /healthz, /readyz, /metrics (env DEVNET_GATEWAY_HEALTH_LISTEN, default 0.0.0.0:8301)
  --direct-listen ADDR:PORT  optional listener for the direct transport: TLS 1.3 only, token required
                             (env DEVNET_GATEWAY_DIRECT_LISTEN); needs --tls-cert and --tls-key
  --tls-cert PATH, --tls-key PATH  the direct listener's certificate and key files, PEM
                             (else env DEVNET_GATEWAY_TLS_CERT, _KEY holding the PEM text itself)
  --intercept-listen ADDR:PORT  listener for intercept pods, derived tokens only (env DEVNET_GATEWAY_INTERCEPT_LISTEN)
  --token-file PATH          session token file (else env DEVNET_GATEWAY_TOKEN)
  --resolv-conf PATH         the pod's resolver configuration (default /etc/resolv.conf)
  --deny CIDR[,CIDR]         destinations refused besides the pod's own addresses and loopback
                             (env DEVNET_GATEWAY_DENY, default ${DEFAULT_DENY.join(',')}; "" = only those)
  --max-sessions N           (default 64)
  --max-channels N           per session (default 16384)
  --drain-timeout MS         on SIGTERM: how long sessions may drain (default 20000)
  --tcp-keepalive MS         keepalive probes on destination sockets after MS of silence
                             (env DEVNET_GATEWAY_TCP_KEEPALIVE, default 60000)
  --log-level LEVEL          pino level (env DEVNET_GATEWAY_LOG_LEVEL, default info)`;

/** parseHostPort parses ADDR:PORT or [V6]:PORT. */
export function parseHostPort(s: string, what: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = Number(m?.[2]);
  if (!m || isIP(m[1]!) === 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new DevnetError('config', `${what}: "${s}" is not ADDR:PORT with an IP address`);
  return { host: m[1]!, port };
}

function positive(v: string | undefined, def: number, what: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new DevnetError('config', `${what} must be a positive integer, got "${v}"`);
  return n;
}

/** denyList builds a BlockList from CIDRs; a bad CIDR is a config error. */
export function denyList(cidrs: string[]): BlockList {
  const bl = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const family = isIP(addr ?? '');
    const prefix = Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
      throw new DevnetError('config', `--deny: "${c}" is not a CIDR`);
    bl.addSubnet(addr!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return bl;
}

/** parseGatewayConfig reads flags (argv without node and script) with env fallbacks. */
export function parseGatewayConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
): GatewayConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string' },
        'health-listen': { type: 'string' },
        'direct-listen': { type: 'string' },
        'intercept-listen': { type: 'string' },
        'token-file': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'resolv-conf': { type: 'string' },
        'dns-port': { type: 'string' },
        deny: { type: 'string' },
        'max-sessions': { type: 'string' },
        'max-channels': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'tcp-keepalive': { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new DevnetError('config', (err as Error).message, { hint: USAGE });
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const listen = parseHostPort(str('listen') ?? env.DEVNET_GATEWAY_LISTEN ?? '127.0.0.1:8300', '--listen');
  const lb = new BlockList();
  lb.addSubnet('127.0.0.0', 8, 'ipv4');
  lb.addAddress('::1', 'ipv6');
  if (!lb.check(listen.host, isIP(listen.host) === 6 ? 'ipv6' : 'ipv4'))
    throw new DevnetError('config', `--listen ${listen.host} is not a loopback address`, {
      hint: 'the tunnel listener is reached through the port-forward on the pod loopback; use --direct-listen for a routable listener',
    });
  const direct = str('direct-listen') ?? env.DEVNET_GATEWAY_DIRECT_LISTEN;
  const interceptListen = str('intercept-listen') ?? env.DEVNET_GATEWAY_INTERCEPT_LISTEN;
  const tokenFile = str('token-file') ?? env.DEVNET_GATEWAY_TOKEN_FILE;
  const token = (tokenFile ? readFile(tokenFile) : (env.DEVNET_GATEWAY_TOKEN ?? '')).trim();
  if (token.length === 0)
    throw new DevnetError('config', 'no session token: DEVNET_GATEWAY_TOKEN is empty and no --token-file was given', {
      hint: 'set the token in the devnet-gateway Secret (`devnet gateway install` does this)',
    });
  const certFile = str('tls-cert');
  const keyFile = str('tls-key');
  const cert = certFile ? readFile(certFile) : env.DEVNET_GATEWAY_TLS_CERT;
  const key = keyFile ? readFile(keyFile) : env.DEVNET_GATEWAY_TLS_KEY;
  if (direct && (!cert?.trim() || !key?.trim()))
    throw new DevnetError('config', '--direct-listen serves TLS only: it needs --tls-cert and --tls-key', {
      hint: 'the devnet-gateway-tls Secret holds them (`devnet gateway install` makes it)',
    });
  const tls = cert?.trim() && key?.trim() ? { cert, key } : undefined;
  const denyRaw = str('deny') ?? env.DEVNET_GATEWAY_DENY;
  return {
    listen,
    healthListen: parseHostPort(
      str('health-listen') ?? env.DEVNET_GATEWAY_HEALTH_LISTEN ?? '0.0.0.0:8301',
      '--health-listen',
    ),
    directListen: direct ? parseHostPort(direct, '--direct-listen') : undefined,
    interceptListen: interceptListen ? parseHostPort(interceptListen, '--intercept-listen') : undefined,
    tls,
    token,
    resolvConf: str('resolv-conf') ?? '/etc/resolv.conf',
    dnsPort: positive(str('dns-port'), 53, '--dns-port'),
    deny: denyRaw === undefined ? DEFAULT_DENY : denyRaw.split(',').filter((c) => c.trim() !== ''),
    maxSessions: positive(str('max-sessions'), 64, '--max-sessions'),
    maxChannels: positive(str('max-channels'), 16384, '--max-channels'),
    drainTimeoutMs: positive(str('drain-timeout'), 20_000, '--drain-timeout'),
    tcpKeepaliveMs: positive(
      str('tcp-keepalive') ?? env.DEVNET_GATEWAY_TCP_KEEPALIVE,
      DEFAULT_TCP_KEEPALIVE_MS,
      '--tcp-keepalive',
    ),
    logLevel: str('log-level') ?? env.DEVNET_GATEWAY_LOG_LEVEL ?? 'info',
  };
}
