// docs/protocol.md must describe what the code does, compared as structure,
// not as substrings: the frame table row by row against FrameType and the
// roles' receive sets, the limits table row by row against the values in
// code (no row missing, none extra, every value as the code has it), the
// version history against PROTOCOL_HISTORY, and every protocol name the
// reference quotes against the names that exist.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { DEFAULT_DRAIN_MS } from '../src/dataplane/tunnel-sessions.ts';
import { parseGatewayConfig } from '../src/gateway/config.ts';
import { DEFAULT_MAX_HANDSHAKES } from '../src/gateway/handshake-gate.ts';
import { ICMP_MAX_IN_FLIGHT } from '../src/gateway/icmp.ts';
import { UDP_IDLE_MS } from '../src/gateway/server.ts';
import { FrameType } from '../src/tunnel/frame.ts';
import { CLIENT_HANDSHAKE, CLIENT_RECEIVES, GATEWAY_HANDSHAKE, GATEWAY_RECEIVES } from '../src/tunnel/handshake.ts';
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_LIMITS, MAX_DIAL_TIMEOUT_MS } from '../src/tunnel/limits.ts';
import { PROTOCOL_HISTORY } from '../src/tunnel/version.ts';

const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
const proto = readFileSync(new URL('../src/tunnel/tunnel.proto', import.meta.url), 'utf8');

/** MdTable is one markdown table: the heading it sits under, its header cells and its rows. */
interface MdTable {
  heading: string;
  header: string[];
  rows: string[][];
}

/** mdTables parses every pipe table of a markdown document. */
function mdTables(md: string): MdTable[] {
  const out: MdTable[] = [];
  let heading = '';
  let current: MdTable | undefined;
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  for (const line of md.split('\n')) {
    if (/^#+ /.test(line)) heading = line.replace(/^#+ /, '').trim();
    if (!line.trim().startsWith('|')) {
      current = undefined;
      continue;
    }
    if (!current) {
      current = { heading, header: cells(line), rows: [] };
      out.push(current);
    } else if (!/^\|[\s:|-]+\|$/.test(line.trim())) {
      current.rows.push(cells(line));
    }
  }
  return out;
}

function table(heading: RegExp, firstHeader: string): MdTable {
  const found = mdTables(doc).filter((x) => heading.test(x.heading) && x.header[0] === firstHeader);
  if (found.length !== 1) throw new Error(`expected one table under ${heading} starting with ${firstHeader}`);
  return found[0] as MdTable;
}

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

test('the frame table lists exactly the frame types, with their codes and directions', (t) => {
  const receivers = (type: number) => {
    const client = CLIENT_RECEIVES.has(type) || CLIENT_HANDSHAKE.has(type);
    const gateway = GATEWAY_RECEIVES.has(type) || GATEWAY_HANDSHAKE.has(type);
    return client && gateway ? 'both' : gateway ? 'client → gateway' : 'gateway → client';
  };
  const expected = Object.entries(FrameType)
    .map(([name, code]) => [hex(code), name, receivers(code)])
    .sort();
  const documented = table(/^Frames$/, 'code')
    .rows.map((r) => [r[0], r[1], r[2]])
    .sort();
  t.deepEqual(documented, expected);
});

test('the limits table has one row per limit in code, each with the value the code has', (t) => {
  const kib = (n: number): string => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`);
  const s = (ms: number) => `${ms / 1000} s`;
  const L = DEFAULT_LIMITS;
  const gw = parseGatewayConfig([], { DEVNET_GATEWAY_TOKEN: 'x' }, () => '');
  const expected: Record<string, string> = {
    'DATA payload': kib(L.maxDataPayload),
    'control payload': `${kib(L.maxControlPayload)} (${kib(L.maxHandshakePayload)} before the handshake)`,
    'initial channel window (announced)': kib(L.initialChannelWindow),
    'channel window after auto-tuning': `≤ ${kib(L.maxChannelWindow)}`,
    'session window (announced)': kib(L.sessionWindow),
    'channels open per session': `${L.maxChannels.toLocaleString('en')} (gateway: \`--max-channels\`, announced in WELCOME)`,
    'sessions per gateway': `${gw.maxSessions} (\`--max-sessions\`)`,
    'DNS queries in flight per session': String(L.maxDnsInFlight),
    'intercept registrations per session': String(L.maxIntercepts),
    'ICMP echo requests in flight per channel': String(ICMP_MAX_IN_FLIGHT),
    'carrier write buffer before DATA waits': kib(L.carrierHighWater),
    'carrier write buffer before reading pauses': kib(L.carrierHardLimit),
    'PING interval / deadline (unanswered and silent)': `${s(L.pingIntervalMs)} / ${s(L.pingTimeoutMs)}`,
    'PINGs awaiting a PONG': String(L.maxUnansweredPings),
    handshake: s(L.handshakeTimeoutMs),
    'connections in their handshake, per gateway listener': String(DEFAULT_MAX_HANDSHAKES),
    'gateway drain after GOAWAY `SHUTTING_DOWN`': `\`--drain-timeout\`, default ${s(gw.drainTimeoutMs)}`,
    'daemon drain of a replaced session': s(DEFAULT_DRAIN_MS),
    'dial timeout': `\`timeout_ms\`, default ${s(DEFAULT_DIAL_TIMEOUT_MS)}, at most ${s(MAX_DIAL_TIMEOUT_MS)}`,
    'UDP channel idle': s(UDP_IDLE_MS),
    'destination socket silent (gateway)': `TCP keepalive after ${s(gw.tcpKeepaliveMs)} (\`--tcp-keepalive\`), then 10 probes 1 s apart`,
    'channel ids': '2³¹ per side',
  };
  const documented = Object.fromEntries(table(/^Limits/, 'limit').rows.map((r) => [r[0], r[1]]));
  t.deepEqual(documented, expected);
  t.is(gw.maxChannels, L.maxChannels);
});

test('the version history table is PROTOCOL_HISTORY', (t) => {
  const documented = table(/^Version history$/, 'version').rows.map((r) => ({ version: Number(r[0]), summary: r[1] }));
  t.deepEqual(documented, [...PROTOCOL_HISTORY]);
});

test('every enum value of tunnel.proto is named in the reference, and every name it quotes exists', (t) => {
  const enumValues = new Set<string>();
  for (const m of proto.matchAll(/^\s+([A-Z][A-Z0-9_]+) = \d+;/gm)) {
    enumValues.add(m[1] as string);
    if (m[1]?.startsWith('DNS_')) enumValues.add(m[1].slice(4)); // the reference names DNS errors without the prefix
  }
  const quoted = new Set<string>();
  for (const m of doc.matchAll(/`([A-Z][A-Z0-9_]{2,})`/g)) quoted.add(m[1] as string);
  const missing = [...enumValues].filter(
    (n) => !n.endsWith('UNSPECIFIED') && !n.startsWith('DNS_') && n !== 'OK' && !quoted.has(n) && !doc.includes(n),
  );
  t.deepEqual(missing, [], 'proto enum values the reference never names');
  const frameNames = new Set(Object.keys(FrameType));
  // Names from outside the protocol the reference quotes: errno codes, kernel and socket names, code identifiers.
  const foreign = (n: string) => /^E[A-Z]+$/.test(n) || ['TCP_NODELAY', 'CAP_NET_RAW', 'PROTOCOL_HISTORY'].includes(n);
  const unknown = [...quoted].filter((n) => !enumValues.has(n) && !frameNames.has(n) && !foreign(n));
  t.deepEqual(unknown, [], 'names the reference quotes that exist nowhere in the protocol');
});
