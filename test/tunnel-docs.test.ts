// docs/protocol.md must describe what the code does: every frame type with
// its code, every GOAWAY / reject / reset code, the version history, and the
// default limits the reference quotes.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { FrameType } from '../src/tunnel/frame.ts';
import { DEFAULT_LIMITS } from '../src/tunnel/limits.ts';
import { PROTOCOL_HISTORY } from '../src/tunnel/version.ts';

const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
const proto = readFileSync(new URL('../src/tunnel/tunnel.proto', import.meta.url), 'utf8');

test('every frame type appears in the frame table with its code', (t) => {
  for (const [name, code] of Object.entries(FrameType)) {
    const hex = `0x${code.toString(16).padStart(2, '0')}`;
    t.regex(doc, new RegExp(`\\| ${hex} \\| ${name} \\|`), name);
  }
});

test('every enum value of tunnel.proto is named in the reference', (t) => {
  for (const m of proto.matchAll(/^\s+([A-Z_]+) = \d+;/gm)) {
    const name = m[1]!;
    if (name.endsWith('UNSPECIFIED') || name.startsWith('DNS_') || name === 'DNS_OK') continue;
    t.true(doc.includes(`\`${name}\``) || doc.includes(name), name);
  }
});

test('the version history in the reference is the one in code', (t) => {
  for (const v of PROTOCOL_HISTORY) t.true(doc.includes(`| ${v.version} | ${v.summary} |`), `version ${v.version}`);
});

test('the limits table quotes the default limits', (t) => {
  const kib = (n: number): string => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`);
  t.true(doc.includes(`| DATA payload | ${kib(DEFAULT_LIMITS.maxDataPayload)} |`));
  t.true(doc.includes(`| control payload | ${kib(DEFAULT_LIMITS.maxControlPayload)} (4 KiB before the handshake) |`));
  t.is(DEFAULT_LIMITS.maxHandshakePayload, 4096);
  t.true(doc.includes(`| initial channel window (announced) | ${kib(DEFAULT_LIMITS.initialChannelWindow)} |`));
  t.true(doc.includes(`| channel window after auto-tuning | ≤ ${kib(DEFAULT_LIMITS.maxChannelWindow)} |`));
  t.true(doc.includes(`| session window (announced) | ${kib(DEFAULT_LIMITS.sessionWindow)} |`));
  t.true(doc.includes(`| carrier write buffer before DATA waits | ${kib(DEFAULT_LIMITS.carrierHighWater)} |`));
  t.true(doc.includes(`| carrier write buffer before reading pauses | ${kib(DEFAULT_LIMITS.carrierHardLimit)} |`));
  t.true(
    doc.includes(
      `| PING interval / deadline (unanswered and silent) | ${DEFAULT_LIMITS.pingIntervalMs / 1000} s / ${DEFAULT_LIMITS.pingTimeoutMs / 1000} s |`,
    ),
  );
  t.true(doc.includes(`| handshake | ${DEFAULT_LIMITS.handshakeTimeoutMs / 1000} s |`));
  t.true(doc.includes(`| DNS queries in flight per session | ${DEFAULT_LIMITS.maxDnsInFlight} |`));
  t.true(doc.includes(`| intercept registrations per session | ${DEFAULT_LIMITS.maxIntercepts} |`));
});
