// Pure parts of the gateway: configuration, resolv.conf and search-list
// rules, the DNS question rewriter, dial error mapping, destination policy,
// ICMP support detection and echo replies, the token check.
import test from 'ava';
import {
  DEFAULT_DENY,
  denyList,
  gatewayDenyList,
  ownAddresses,
  parseGatewayConfig,
  parseHostPort,
} from '../src/gateway/config.ts';
import { checkDestination, dialTimeout, rejectReasonFor } from '../src/gateway/dial.ts';
import { answerSummary, buildQuery, encodeName, parseQuestion } from '../src/gateway/dns-message.ts';
import { detectIcmp, echoReply, internetChecksum } from '../src/gateway/icmp.ts';
import { parseResolvConf, searchCandidates } from '../src/gateway/resolv-conf.ts';
import { tokenMatches } from '../src/gateway/token.ts';
import { negotiateVersion } from '../src/tunnel/version.ts';

const noFile = (): string => {
  throw new Error('no file');
};

test('config: defaults, flags over env, token from env or file', (t) => {
  const c = parseGatewayConfig([], { DEVNET_GATEWAY_TOKEN: ' tok \n' }, noFile);
  t.deepEqual(c.listen, { host: '127.0.0.1', port: 8300 });
  t.deepEqual(c.healthListen, { host: '0.0.0.0', port: 8301 });
  t.is(c.directListen, undefined);
  t.is(c.token, 'tok');
  t.deepEqual(c.deny, DEFAULT_DENY);
  const f = parseGatewayConfig(
    ['--listen', '[::1]:9000', '--direct-listen', '10.0.0.5:8302', '--token-file', '/t', '--deny', ''],
    {
      DEVNET_GATEWAY_LISTEN: '127.0.0.1:1',
      DEVNET_GATEWAY_TOKEN: 'env',
      DEVNET_GATEWAY_TLS_CERT: 'CERT',
      DEVNET_GATEWAY_TLS_KEY: 'KEY',
    },
    (p) => (p === '/t' ? 'from-file' : ''),
  );
  t.deepEqual(f.listen, { host: '::1', port: 9000 });
  t.deepEqual(f.directListen, { host: '10.0.0.5', port: 8302 });
  t.deepEqual(f.tls, { cert: 'CERT', key: 'KEY' });
  t.is(f.token, 'from-file');
  t.deepEqual(f.deny, []);
  t.is(c.tcpKeepaliveMs, 60_000, 'destination sockets get keepalive after a minute of silence');
  t.is(
    parseGatewayConfig([], { DEVNET_GATEWAY_TOKEN: 'x', DEVNET_GATEWAY_TCP_KEEPALIVE: '1000' }, noFile).tcpKeepaliveMs,
    1000,
  );
  t.is(parseGatewayConfig(['--tcp-keepalive', '5000'], { DEVNET_GATEWAY_TOKEN: 'x' }, noFile).tcpKeepaliveMs, 5000);
  t.throws(() => parseGatewayConfig(['--tcp-keepalive', '0'], { DEVNET_GATEWAY_TOKEN: 'x' }, noFile));
});

test('config: the direct listener is TLS only: without a certificate and key it is a config error', (t) => {
  const e = t.throws(() =>
    parseGatewayConfig(['--direct-listen', '0.0.0.0:8303'], { DEVNET_GATEWAY_TOKEN: 'x' }, noFile),
  );
  t.regex(e?.message ?? '', /--direct-listen serves TLS only: it needs --tls-cert and --tls-key/);
});

test('config: a non-loopback tunnel listener, a missing token and bad flags are config errors', (t) => {
  const e1 = t.throws(() => parseGatewayConfig(['--listen', '0.0.0.0:8300'], { DEVNET_GATEWAY_TOKEN: 'x' }, noFile));
  t.regex(e1?.message ?? '', /not a loopback address/);
  const e2 = t.throws(() => parseGatewayConfig([], {}, noFile));
  t.regex(e2?.message ?? '', /no session token/);
  t.throws(() => parseGatewayConfig(['--bogus'], { DEVNET_GATEWAY_TOKEN: 'x' }, noFile));
  t.throws(() => parseGatewayConfig(['--max-sessions', '0'], { DEVNET_GATEWAY_TOKEN: 'x' }, noFile));
  t.throws(() => parseHostPort('localhost:80', 'x'));
  t.throws(() => denyList(['10.0.0.0/33']));
});

test('resolv.conf: nameservers, search, ndots, timeout, attempts as Kubernetes writes them', (t) => {
  const c = parseResolvConf(
    '# generated\nsearch ns1.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\noptions ndots:5 timeout:2 attempts:3 edns0\n',
  );
  t.deepEqual(c, {
    nameservers: ['10.96.0.10', 'fe80::1'],
    search: ['ns1.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
    ndots: 5,
    timeoutMs: 2000,
    attempts: 3,
  });
  t.deepEqual(parseResolvConf('').nameservers, []);
});

test('search candidates follow ndots: short names try the search list first, absolute names never', (t) => {
  const conf = { search: ['ns1.svc.cluster.local', 'svc.cluster.local'], ndots: 5 };
  t.deepEqual(searchCandidates('web', conf), ['web.ns1.svc.cluster.local', 'web.svc.cluster.local', 'web']);
  t.deepEqual(searchCandidates('web.ns1.svc.cluster.local.', conf), ['web.ns1.svc.cluster.local']);
  t.deepEqual(searchCandidates('a.b.c.d.e.f', conf), [
    'a.b.c.d.e.f',
    'a.b.c.d.e.f.ns1.svc.cluster.local',
    'a.b.c.d.e.f.svc.cluster.local',
  ]);
});

test('DNS question: parse, rewrite the name keeping id, flags and EDNS, and reject malformed input', (t) => {
  const q = Buffer.concat([
    Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1]),
    encodeName('web')!,
    Buffer.from([0, 1, 0, 1]),
    Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]), // EDNS OPT
  ]);
  const p = parseQuestion(q)!;
  t.is(p.name, 'web');
  t.is(p.id, 0x1234);
  const r = buildQuery(p, 'web.ns1.svc.cluster.local', 7)!;
  const p2 = parseQuestion(r)!;
  t.is(p2.id, 7);
  t.is(p2.name, 'web.ns1.svc.cluster.local');
  t.is(p2.flags, 0x0100);
  t.deepEqual([...p2.rest], [...p.rest]);
  t.is(parseQuestion(Buffer.alloc(5)), undefined);
  t.is(parseQuestion(Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1])), undefined);
  t.is(encodeName('x'.repeat(64)), undefined);
  t.is(answerSummary(q), undefined); // a query is no answer
  const ans = Buffer.from(q);
  ans[2] = 0x83; // QR + TC
  ans[3] = 0x03; // NXDOMAIN
  t.deepEqual(answerSummary(ans), { id: 0x1234, truncated: true, rcode: 3, answers: 0 });
});

test('dial errors map to OPEN_REJECT reasons; destinations are checked before dialling', (t) => {
  t.is(rejectReasonFor('ECONNREFUSED'), 'refused');
  t.is(rejectReasonFor('EHOSTUNREACH'), 'unreachable');
  t.is(rejectReasonFor('ENETUNREACH'), 'unreachable');
  t.is(rejectReasonFor('ETIMEDOUT'), 'timeout');
  t.is(rejectReasonFor('EACCES'), 'forbidden');
  t.is(rejectReasonFor('EMFILE'), 'limit');
  t.is(rejectReasonFor(undefined), 'unreachable');
  const deny = denyList(DEFAULT_DENY);
  t.like(checkDestination('127.0.0.1', 80, 'tcp', deny), { reason: 'forbidden' });
  t.like(checkDestination('::1', 80, 'tcp', deny), { reason: 'forbidden' });
  t.like(checkDestination('svc.ns', 80, 'tcp', deny), { reason: 'invalid' });
  t.like(checkDestination('10.0.0.1', 0, 'tcp', deny), { reason: 'invalid' });
  t.is(checkDestination('10.0.0.1', 0, 'icmp', deny), undefined);
  t.is(checkDestination('10.96.0.1', 443, 'tcp', deny), undefined);
  t.is(dialTimeout(0), 10_000);
  t.is(dialTimeout(999_999), 120_000);
});

test('ICMP support is detected from capabilities and ping_group_range', (t) => {
  const files = (status: string, range: string) => (p: string) => (p.endsWith('status') ? status : range);
  const base = { exists: (p: string) => p === '/usr/bin/ping', gids: () => [65532] };
  t.like(detectIcmp({ ...base, read: files('CapEff:\t0000000000002000\n', '1 0') }), { ok: true }); // CAP_NET_RAW
  t.like(detectIcmp({ ...base, read: files('CapEff:\t0000000000000000\n', '65532 65532') }), { ok: true });
  const no = detectIcmp({ ...base, read: files('CapEff:\t0000000000000000\n', '1 0') });
  t.false(no.ok);
  if (!no.ok) t.regex(no.reason, /ping_group_range/);
  t.like(detectIcmp({ ...base, exists: () => false }), { ok: false, reason: 'no ping binary in the gateway image' });
});

test('echo replies keep id, sequence and data, with a valid ICMPv4 checksum', (t) => {
  const req = Buffer.from([8, 0, 0, 0, 0xab, 0xcd, 0, 9, 1, 2, 3]);
  req.writeUInt16BE(internetChecksum(req), 2);
  const rep = echoReply(req, false)!;
  t.is(rep[0], 0);
  t.deepEqual([...rep.subarray(4)], [...req.subarray(4)]);
  t.is(internetChecksum(rep), 0); // a correct checksum sums to zero
  t.is(echoReply(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), false), undefined);
  t.is(echoReply(Buffer.from([128, 0, 0, 0, 0, 1, 0, 1]), true)![0], 129);
});

test('the token check is exact and refuses an empty expected token', (t) => {
  t.true(tokenMatches('abc', 'abc'));
  t.false(tokenMatches('abc', 'abd'));
  t.false(tokenMatches('abc', 'abcd'));
  t.false(tokenMatches('', ''));
});

test('version negotiation picks the highest common version', (t) => {
  t.is(negotiateVersion(1, 1), 1);
  t.is(negotiateVersion(1, 5), 1);
  t.is(negotiateVersion(2, 3), undefined);
  t.is(negotiateVersion(3, 1), undefined);
  t.is(negotiateVersion(1, 4, 2, 6), 4);
});

test('the default deny-list covers link-local and cloud metadata addresses, IPv4 and IPv6 (also IPv4-mapped)', (t) => {
  const deny = denyList(DEFAULT_DENY);
  for (const host of [
    '169.254.169.254', // AWS, GCP, Azure, OpenStack instance metadata
    '169.254.170.2', // ECS task metadata
    '::ffff:169.254.169.254',
    'fd00:ec2::254', // AWS instance metadata over IPv6
    'fe80::1',
    '100.100.100.200', // Alibaba Cloud metadata
    '168.63.129.16', // Azure host services
  ])
    t.like(checkDestination(host, 80, 'tcp', deny), { reason: 'forbidden' }, host);
});

test("the gateway always refuses its own pod's addresses and loopback, whatever --deny says", (t) => {
  const own = ownAddresses({
    lo: [{ address: '127.0.0.1' }, { address: '::1' }],
    eth0: [{ address: '10.244.3.7' }, { address: 'fd00:10:244::3:7' }, { address: 'fe80::a8b1:2ff:fe33:4455%eth0' }],
  });
  t.deepEqual(own, ['127.0.0.1', '::1', '10.244.3.7', 'fd00:10:244::3:7', 'fe80::a8b1:2ff:fe33:4455']);
  for (const configured of [[], DEFAULT_DENY]) {
    const deny = gatewayDenyList(configured, own);
    for (const host of ['10.244.3.7', 'fd00:10:244::3:7', '127.0.0.1', '::1', '0.0.0.0'])
      t.like(
        checkDestination(host, 8301, 'tcp', deny),
        { reason: 'forbidden' },
        `${host} with --deny ${configured.join(',')}`,
      );
    t.is(checkDestination('10.244.3.8', 8080, 'tcp', deny), undefined);
  }
});
