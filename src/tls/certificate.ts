// The direct transport's server certificate (docs/security.md, "an on-path
// observer"): a self-signed certificate the installer makes once, whose
// SHA-256 fingerprint laptops pin. Nothing here trusts a CA: the laptop
// reads the fingerprint from a Secret with the user's own Kubernetes
// credentials, so the API server's TLS and RBAC vouch for it.
//
// The key is RSA-2048 made by Node's crypto (native, fast); node-forge only
// assembles and signs the X.509 structure, which Node cannot make
// (docs/dependencies.md).
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

/** GatewayCertificate is a certificate, its private key (PEM) and its pin. */
export interface GatewayCertificate {
  certPem: string;
  keyPem: string;
  /** fingerprint is the SHA-256 of the certificate's DER, as `AB:CD:…` (what `openssl x509 -fingerprint -sha256` prints). */
  fingerprint: string;
}

/** fingerprintOf computes the pin of a PEM certificate; it throws on anything that is not one. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** isFingerprint says whether s has the form of a SHA-256 pin. */
export function isFingerprint(s: string): boolean {
  return /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(s);
}

/** makeCertificate makes a self-signed certificate for commonName, valid for `days` from now. */
export function makeCertificate(commonName: string, days = 3650): GatewayCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  // A positive serial (RFC 5280 §4.1.2.2): 16 random bytes with the top bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  return { certPem, keyPem: privateKey, fingerprint: fingerprintOf(certPem) };
}
