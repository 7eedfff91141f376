// The sandbox cluster's PKI: a self-signed CA and the API server's serving
// certificate (SANs 127.0.0.1, localhost, 10.96.0.1, kubernetes.default.svc
// ...), made with the openssl CLI at first start under `${stateDir}/pki/`
// and reused afterwards. ECDSA P-256 keys: fast to make, accepted by Go
// (kubectl) and Node TLS alike.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevnetError } from '../../errors.ts';
import { writeFileAtomic } from './files.ts';

/** Pki holds the PEM texts the server and clients need. */
export interface Pki {
  caCertPath: string;
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

/** SERVING_SANS are the names and addresses the serving certificate is valid for. */
export const SERVING_SANS = [
  'IP:127.0.0.1',
  'DNS:localhost',
  'IP:10.96.0.1',
  'DNS:kubernetes',
  'DNS:kubernetes.default',
  'DNS:kubernetes.default.svc',
  'DNS:kubernetes.default.svc.cluster.local',
];

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new DevnetError('config', `openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`, {
      cause: err,
      hint: 'install the openssl command (Debian: apt-get install openssl)',
    });
  }
}

/** loadOrCreatePki returns the CA and serving certificate, generating them at first start; extra SANs (e.g. a non-loopback host) are added then. */
export function loadOrCreatePki(stateDir: string, extraSans: string[] = []): Pki {
  const dir = join(stateDir, 'pki');
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'apiserver.crt'), key: join(dir, 'apiserver.key') };
  if (!existsSync(files.ca) || !existsSync(files.cert) || !existsSync(files.key)) {
    const tmp = mkdtempSync(join(stateDir, '.pki-'));
    try {
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      openssl(
        [
          'req',
          '-x509',
          ...ec,
          '-keyout',
          'ca.key',
          '-out',
          'ca.crt',
          '-days',
          '3650',
          '-subj',
          '/CN=devnet-sandbox-ca',
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        ],
        tmp,
      );
      openssl(['req', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], tmp);
      const sans = [...SERVING_SANS, ...extraSans].join(',');
      writeFileSync(
        join(tmp, 'ext.cnf'),
        `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans}\n`,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          'apiserver.csr',
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-set_serial',
          `0x${randomBytes(8).toString('hex')}`,
          '-days',
          '825',
          '-extfile',
          'ext.cnf',
          '-out',
          'apiserver.crt',
        ],
        tmp,
      );
      for (const f of ['ca.key', 'apiserver.key'])
        writeFileAtomic(join(tmp, `${f}.final`), readFileSync(join(tmp, f)), 0o600);
      for (const f of ['ca.crt', 'apiserver.crt'])
        writeFileAtomic(join(tmp, `${f}.final`), readFileSync(join(tmp, f)), 0o644);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // The certificate goes last: its presence marks a complete set.
      for (const f of ['ca.key', 'apiserver.key', 'ca.crt', 'apiserver.crt'])
        renameSync(join(tmp, `${f}.final`), join(dir, f));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return {
    caCertPath: files.ca,
    caCertPem: readFileSync(files.ca, 'utf8'),
    certPem: readFileSync(files.cert, 'utf8'),
    keyPem: readFileSync(files.key, 'utf8'),
  };
}
