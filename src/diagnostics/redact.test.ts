import test from 'ava';
import { REDACTED, redact, secretsOf } from './redact.ts';

const KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIBk1Kx3LZoF8mZ0a0l3q9XbBx0YkK8+8s5eWc6l8o9S6oAoGCCqGSM49
-----END EC PRIVATE KEY-----`;

test('PEM blocks, JWTs and Bearer values are removed', (t) => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
  const out = redact(`key:\n${KEY}\nAuthorization: Bearer abc.def-123\nid ${jwt} end`);
  t.false(out.includes('MHcCAQEE'));
  t.false(out.includes('abc.def-123'));
  t.false(out.includes(jwt));
  t.regex(out, /-----BEGIN EC PRIVATE KEY----- \[REDACTED\] -----END EC PRIVATE KEY-----/);
  t.regex(out, /Bearer \[REDACTED\]/);
});

test('values of credential-named keys in YAML, JSON, env and flags', (t) => {
  const text = [
    'token: s3cr3t-yaml',
    '"token":"s3cr3t-json", "name":"keep-me"',
    'DEVNET_GATEWAY_TOKEN=s3cr3t-env',
    '--token-file /var/run/x --password=s3cr3t-flag',
    'client-key-data: LS0tLS1CRUdJTg==',
    'refresh-token: "s3cr3t quoted"',
  ].join('\n');
  const out = redact(text);
  t.notRegex(out, /s3cr3t/);
  t.false(out.includes('LS0tLS1CRUdJTg=='));
  t.regex(out, /"name":"keep-me"/);
  t.regex(out, /"token":"\[REDACTED\]"/);
  t.is(out.split('\n')[0], `token: ${REDACTED}`);
});

test('known secrets are removed wherever they appear, even unlabelled', (t) => {
  const secret = 'Zm9vYmFyYmF6cXV4';
  const out = redact(`hello ${secret} in a log line; again:${secret}`, [secret]);
  t.is(out, `hello ${REDACTED} in a log line; again:${REDACTED}`);
});

test("secretsOf takes a kubeconfig user's token, password and decoded key data", (t) => {
  const key = Buffer.from(KEY).toString('base64');
  const s = secretsOf({ token: 'tok-123456', password: 'hunter22', 'client-key-data': key });
  t.true(s.includes('tok-123456'));
  t.true(s.includes('hunter22'));
  t.true(s.includes(key));
  t.true(s.includes(KEY));
});

test('ordinary text is left alone', (t) => {
  const text = 'connected to devnet-sandbox (https://127.0.0.1:16443)\nroute 10.96.0.0/12 dev devnet0 metric 100';
  t.is(redact(text), text);
});
