// The direct transport's carrier: TLS 1.3 to the gateway's direct listener,
// with the gateway's certificate pinned by its SHA-256 fingerprint (read from
// the gateway's Secret with the user's own credentials, src/cluster/gateway.ts).
// No CA and no host name are involved: a peer whose certificate is not the
// pinned one is refused before a byte of the tunnel — the session token
// included — is written. TLS 1.3 proves the peer holds that certificate's key
// (CertificateVerify, RFC 8446 §4.4.3) and protects every record
// (confidentiality and integrity), so an on-path observer sees only TLS
// records and can neither read nor inject.
import type { Duplex } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import { DevnetError } from '../errors.ts';

/** TlsCarrierOptions say where the gateway is and which certificate it must present. */
export interface TlsCarrierOptions {
  /** address is HOST:PORT ([V6]:PORT) of the gateway's direct listener. */
  address: string;
  /** fingerprint is the pinned SHA-256 of the gateway's certificate (`AB:CD:…`). */
  fingerprint: string;
  /** timeoutMs bounds connect plus handshake (default 10 s). */
  timeoutMs?: number;
}

/** parseAddress splits HOST:PORT; an IPv6 host is in brackets. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535)
    throw new DevnetError('user', `--direct-address "${address}" is not HOST:PORT`, {
      hint: 'e.g. --direct-address 10.0.0.5:8303 or [fd00::5]:8303',
    });
  return { host: (m[1] ?? m[2]) as string, port };
}

/** tlsCarrier returns a function that opens one pinned TLS 1.3 connection to the gateway (the tunnel's carrier). */
export function tlsCarrier(o: TlsCarrierOptions): () => Promise<Duplex> {
  return () => {
    const { host, port } = parseAddress(o.address);
    return new Promise<Duplex>((resolve, reject) => {
      let settled = false;
      const fail = (err: DevnetError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        reject(err);
      };
      // Chain and name checks are replaced by the pin, checked on 'secureConnect' before anything is written.
      const sock: TLSSocket = connect({
        host,
        port,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        rejectUnauthorized: false,
      });
      const timer = setTimeout(
        () =>
          fail(
            new DevnetError(
              'cluster',
              `no TLS answer from the gateway at ${o.address} within ${o.timeoutMs ?? 10_000} ms`,
            ),
          ),
        o.timeoutMs ?? 10_000,
      );
      sock.once('secureConnect', () => {
        const presented = sock.getPeerCertificate().fingerprint256;
        if (presented !== o.fingerprint)
          return fail(
            new DevnetError(
              'cluster',
              `the server at ${o.address} presented certificate ${presented ?? '(none)'}, not the gateway's pinned ${o.fingerprint}`,
              {
                hint: 'Someone may be intercepting this connection, or the gateway was reinstalled: check --direct-address and `devnet gateway status`.',
              },
            ),
          );
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.setNoDelay(true);
        resolve(sock);
      });
      sock.once('error', (err) =>
        fail(
          new DevnetError('cluster', `cannot reach the gateway at ${o.address} over TLS: ${err.message}`, {
            hint: 'Is the gateway started with --direct-listen on that address, and routable from here?',
          }),
        ),
      );
    });
  };
}
