// Reaching the API server, and saying why not. A request that cannot reach
// the server fails deep inside fetch ("fetch failed") or not at all (a black
// hole); before a verb does anything else it asks the server for /version
// with a deadline, and a failure becomes one message that names the server,
// the context and the cause (refused, timeout, TLS, DNS, ...) with the
// likely fixes.
import type { KubeConfig } from '@kubernetes/client-node';
import { VersionApi } from '@kubernetes/client-node';
import { DevnetError } from '../errors.ts';

/** PROBE_TIMEOUT_MS bounds the reachability check: a server that has not answered by then is reported as a timeout. */
export const PROBE_TIMEOUT_MS = 3000;

/** NetworkCause is why a connection to the API server failed. */
export type NetworkCause = 'refused' | 'timeout' | 'dns' | 'tls' | 'reset' | 'unreachable' | 'proxy' | 'other';

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|EPROTO$)/;

/** classifyNetworkError finds the network cause in an error's cause chain (fetch wraps it in "fetch failed"), or undefined. */
export function classifyNetworkError(err: unknown): { cause: NetworkCause; code: string } | undefined {
  for (let e = err as { code?: unknown; cause?: unknown; name?: unknown } | undefined, i = 0; e && i < 8; i++) {
    const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : '';
    if (code === 'ECONNREFUSED') return { cause: 'refused', code };
    if (/^(ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|TimeoutError|AbortError)$/.test(code))
      return { cause: 'timeout', code };
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return { cause: 'dns', code };
    if (TLS_CODES.test(code)) return { cause: 'tls', code };
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return { cause: 'reset', code };
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN')
      return { cause: 'unreachable', code };
    if (/^ERR_PROXY|^UND_ERR_PROXY|SocksClientError/.test(code)) return { cause: 'proxy', code };
    // fetch's own refusals (a blocked port, a bad URL) carry no code: "fetch failed" caused by an Error.
    if (
      e instanceof TypeError &&
      e.message === 'fetch failed' &&
      e.cause instanceof Error &&
      !(e.cause as { code?: unknown }).code
    ) {
      return { cause: 'other', code: e.cause.message };
    }
    e = e.cause as typeof e;
  }
  return undefined;
}

/** ServerTarget names the server being reached, for messages. */
export interface ServerTarget {
  server: string;
  context: string;
  proxyUrl?: string;
}

const CAUSE_TEXT: Record<NetworkCause, string> = {
  refused: 'connection refused',
  timeout: 'no answer (timeout)',
  dns: 'its name does not resolve (DNS)',
  tls: 'the TLS handshake failed',
  reset: 'the connection was reset',
  unreachable: 'no route to it',
  proxy: 'the proxy failed',
  other: 'the request could not be made',
};

function hintFor(cause: NetworkCause, t: ServerTarget, code: string, timeoutMs: number): string {
  const check = `Check the context ("${t.context}"; pick another with --context) and that \`kubectl cluster-info\` works with the same kubeconfig.`;
  const host = (() => {
    try {
      return new URL(t.server).host;
    } catch {
      return t.server;
    }
  })();
  switch (cause) {
    case 'refused':
      return `Nothing listens at ${host}: is the cluster running (for the sandbox: \`sudo devnet sandbox up\`)? ${check}`;
    case 'timeout':
      return `It did not answer within ${timeoutMs / 1000} s: the cluster may only be reachable over a VPN or through a proxy (proxy-url), or a firewall drops the traffic. ${check}`;
    case 'dns':
      return `The name ${host} does not resolve here: check the server address in the kubeconfig and your VPN (it may provide the cluster's DNS). ${check}`;
    case 'tls':
      return `${code}: the server's certificate does not match the kubeconfig's certificate-authority (or tls-server-name), or this is not the cluster you mean. ${check}`;
    case 'reset':
    case 'unreachable':
      return `${code}: a VPN may be needed to reach ${host}, or the network is down. ${check}`;
    case 'proxy':
      return `${code}: the proxy ${t.proxyUrl ?? ''} refused or failed the connection. ${check}`;
    case 'other':
      return `${code}: check the server address in the kubeconfig. ${check}`;
  }
}

/** unreachableError is the one message for a server that cannot be reached, or undefined when err is not a network failure. */
export function unreachableError(t: ServerTarget, err: unknown, timeoutMs = PROBE_TIMEOUT_MS): DevnetError | undefined {
  const c = classifyNetworkError(err);
  if (!c) return undefined;
  return new DevnetError(
    'cluster',
    `cannot reach the API server ${t.server} (context "${t.context}"): ${CAUSE_TEXT[c.cause]}`,
    {
      hint: hintFor(c.cause, t, c.code, timeoutMs),
      cause: err,
    },
  );
}

/**
 * probeApiServer asks the server for /version within timeoutMs and turns a
 * network failure into unreachableError. Any HTTP answer (even 401/403) means
 * the server is reachable: credentials are judged by the request that needs them.
 */
export async function probeApiServer(kc: KubeConfig, t: ServerTarget, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('probe timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
  });
  try {
    await Promise.race([kc.makeApiClient(VersionApi).getCode(), deadline]);
  } catch (err) {
    const unreachable = unreachableError(t, err, timeoutMs);
    if (unreachable) throw unreachable;
    // An HTTP error status: the server answered.
  } finally {
    clearTimeout(timer);
  }
}
