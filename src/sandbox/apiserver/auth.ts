// Authentication: bearer tokens from `${stateDir}/tokens.json`, generated at
// first start and reused after. Two static users: the admin (group
// system:masters, allowed everything) and the developer `dev` (allowed what
// RBAC grants). Service-account tokens are HMAC-signed and verified here.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DevnetError } from '../../errors.ts';
import { writeFileAtomic } from './files.ts';

/** UserInfo is an authenticated identity as RBAC sees it. */
export interface UserInfo {
  name: string;
  groups: string[];
}

/** Tokens are the bearer tokens of the two static users. */
export interface Tokens {
  admin: string;
  dev: string;
}

/** ADMIN_USER is the administrator's user name (group system:masters). */
export const ADMIN_USER = 'admin';
/** DEV_USER is the developer's user name, confined by RBAC to its namespace. */
export const DEV_USER = 'dev';

/** loadOrCreateTokens reads tokens.json, creating it with fresh random tokens on first start. */
export function loadOrCreateTokens(stateDir: string): Tokens {
  const path = join(stateDir, 'tokens.json');
  if (existsSync(path)) {
    let t: Partial<Tokens>;
    try {
      t = JSON.parse(readFileSync(path, 'utf8')) as Partial<Tokens>;
    } catch (err) {
      throw new DevnetError('config', `the sandbox API server's token file ${path} is not valid JSON`, {
        cause: err,
        hint: 'fix or delete it (a deleted file gets new tokens; then rewrite the kubeconfig)',
      });
    }
    if (typeof t.admin === 'string' && typeof t.dev === 'string' && t.admin && t.dev)
      return { admin: t.admin, dev: t.dev };
  }
  const tokens: Tokens = { admin: randomBytes(32).toString('base64url'), dev: randomBytes(32).toString('base64url') };
  writeFileAtomic(path, `${JSON.stringify(tokens, null, 2)}\n`, 0o600);
  return tokens;
}

function loadOrCreateSigningKey(stateDir: string): Buffer {
  const path = join(stateDir, 'pki', 'sa-signing.key');
  if (existsSync(path)) return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  const key = randomBytes(32);
  writeFileAtomic(path, `${key.toString('base64')}\n`, 0o600);
  return key;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Authenticator maps bearer tokens to users. */
export class Authenticator {
  #tokens: Tokens;
  #key: Buffer;

  constructor(stateDir: string, tokens: Tokens) {
    this.#tokens = tokens;
    this.#key = loadOrCreateSigningKey(stateDir);
  }

  /** authenticate returns the user for an Authorization header value, or undefined. */
  authenticate(header: string | undefined): UserInfo | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return undefined;
    const token = m[1]!;
    if (safeEqual(token, this.#tokens.admin))
      return { name: ADMIN_USER, groups: ['system:masters', 'system:authenticated'] };
    if (safeEqual(token, this.#tokens.dev)) return { name: DEV_USER, groups: ['system:authenticated'] };
    return this.#verifyServiceAccountToken(token);
  }

  /** issueServiceAccountToken signs a token for a service account (the TokenRequest API). */
  issueServiceAccountToken(namespace: string, name: string, uid: string, expiresAtSec: number): string {
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({
        iss: 'https://kubernetes.default.svc.cluster.local',
        sub: `system:serviceaccount:${namespace}:${name}`,
        aud: ['https://kubernetes.default.svc.cluster.local'],
        exp: expiresAtSec,
        iat: Math.floor(Date.now() / 1000),
        'kubernetes.io': { namespace, serviceaccount: { name, uid } },
      }),
    ).toString('base64url');
    const sig = createHmac('sha256', this.#key).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${sig}`;
  }

  #verifyServiceAccountToken(token: string): UserInfo | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const sig = createHmac('sha256', this.#key).update(`${parts[0]}.${parts[1]}`).digest('base64url');
    if (!safeEqual(sig, parts[2]!)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: string; exp?: number };
      if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return undefined;
      const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? '');
      if (!m) return undefined;
      return {
        name: claims.sub!,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${m[1]}`, 'system:authenticated'],
      };
    } catch {
      return undefined;
    }
  }
}
