// Redaction for `devnet gather-logs`: what a user attaches to a bug report
// must carry no credential. Two layers: the exact secrets devnet knows
// (the kubeconfig user's token, password, key and certificate data, the
// gateway's session token) are replaced wherever they appear, and patterns
// catch the rest: PEM blocks, JWTs, `Bearer` values and the values of keys
// named like a credential (token, password, secret, key data) in YAML,
// JSON, flags and environment lines. Pure.

/** REDACTED replaces every secret. */
export const REDACTED = '[REDACTED]';

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/** A key named like a credential, then `:` or `=` (YAML, JSON, env, flags), then its value. */
const KEYED =
  /((?:["']?)(?:[A-Za-z0-9_.-]*(?:token|password|passwd|secret|credential|key-data|keydata|private-key|client-key|api-key|apikey)[A-Za-z0-9_.-]*)(?:["']?)\s*(?:[:=]|\s--?>)\s*)("[^"\n]*"|'[^'\n]*'|[^\s,}\]]+)/gi;

/** redact removes every known secret and every credential-shaped value from text. */
export function redact(text: string, known: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const secret of [...new Set(known)].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  out = out.replace(PEM, (_m, kind: string) => `-----BEGIN ${kind}----- ${REDACTED} -----END ${kind}-----`);
  out = out.replace(JWT, REDACTED);
  out = out.replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`);
  out = out.replace(KEYED, (_m, key: string, value: string) => {
    if (value === REDACTED || value === `"${REDACTED}"` || value === '""' || value === "''") return `${key}${value}`;
    return `${key}${value.startsWith('"') ? `"${REDACTED}"` : REDACTED}`;
  });
  return out;
}

/** secretsOf collects the exact credential strings of a kubeconfig user entry (raw and base64-decoded data). */
export function secretsOf(user: Record<string, unknown> | undefined): string[] {
  if (!user) return [];
  const out: string[] = [];
  for (const key of ['token', 'password', 'client-key-data', 'client-certificate-data']) {
    const v = user[key];
    if (typeof v !== 'string' || !v) continue;
    out.push(v);
    if (key.endsWith('-data')) out.push(Buffer.from(v, 'base64').toString('utf8').trim());
  }
  const auth = user['auth-provider'] as { config?: Record<string, unknown> } | undefined;
  for (const v of Object.values(auth?.config ?? {})) if (typeof v === 'string' && v.length >= 16) out.push(v);
  return out;
}
