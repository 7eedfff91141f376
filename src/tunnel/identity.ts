// Session identity (docs/security.md, "another cluster tenant"): each laptop
// session holds an Ed25519 key pair for as long as its daemon runs (every
// tunnel reconnect included). HELLO carries the public key; WELCOME carries a
// fresh random challenge; each INTERCEPT_REGISTER carries a signature over
// that challenge and the intercept id (RFC 8032), so a session proves it
// holds the key it claims, and a proof is worth nothing on any other session.
// The key is what an intercept's owner records on the intercepted Service
// (with their own Kubernetes credentials); the gateway hands an intercept's
// connections only to a session proving that key.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';

/** KEY_BYTES is the size of a raw Ed25519 public key. */
export const KEY_BYTES = 32;
/** CHALLENGE_BYTES is the size of WELCOME's challenge. */
export const CHALLENGE_BYTES = 32;

const CONTEXT = Buffer.from('devnet intercept-register v1\0');

/** keyId is the text form of a raw public key (base64url, 43 characters): what Service entries record. */
export function keyId(raw: Uint8Array): string {
  return Buffer.from(raw).toString('base64url');
}

/** registrationMessage is what a registration proof signs: context, challenge, intercept id. */
export function registrationMessage(challenge: Uint8Array, interceptId: string): Buffer {
  return Buffer.concat([CONTEXT, challenge, Buffer.from(interceptId, 'utf8')]);
}

/** verifyRegistration checks a proof against the session's key and challenge; malformed input is simply false. */
export function verifyRegistration(
  publicKey: Uint8Array,
  challenge: Uint8Array,
  interceptId: string,
  proof: Uint8Array,
): boolean {
  if (publicKey.length !== KEY_BYTES || challenge.length !== CHALLENGE_BYTES || proof.length !== 64) return false;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: keyId(publicKey) }, format: 'jwk' });
    return verify(null, registrationMessage(challenge, interceptId), key, proof);
  } catch {
    return false;
  }
}

/** SessionIdentity is one laptop session's key pair; the private key never leaves the daemon's memory. */
export class SessionIdentity {
  readonly #private: KeyObject;
  /** publicKey is the raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;

  private constructor(privateKey: KeyObject) {
    this.#private = privateKey;
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string };
    this.publicKey = Buffer.from(jwk.x, 'base64url');
  }

  /** generate makes a new identity. */
  static generate(): SessionIdentity {
    return new SessionIdentity(generateKeyPairSync('ed25519').privateKey);
  }

  /** fromPem restores an identity (tests). */
  static fromPem(pem: string): SessionIdentity {
    return new SessionIdentity(createPrivateKey(pem));
  }

  /** id is keyId(publicKey). */
  get id(): string {
    return keyId(this.publicKey);
  }

  /** proveRegistration signs a registration for this session's challenge. */
  proveRegistration(challenge: Uint8Array, interceptId: string): Uint8Array {
    return sign(null, registrationMessage(challenge, interceptId), this.#private);
  }
}
