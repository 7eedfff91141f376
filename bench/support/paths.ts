// Setting up each measured path between the laptop namespace and the
// benchmark pod, as PERFORMANCE.md describes the peers' setups. A setup
// registers its undo steps with the Cleanup it is given and returns the
// device the laptop's route to the pod must use (checked with `ip route get`
// by the caller; for sshuttle the veth to a gateway that forwards nothing,
// since sshuttle redirects with iptables after routing).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB, type Lab } from './lab.ts';
import { Cleanup, DEVNET_BIN, must, run, stop } from './programs.ts';
import type { PathName } from './report.ts';

/** DIRECT_LISTEN_PORT is the gateway's direct-transport listener the bench adds (8300-8302 are the gateway's own). */
const DIRECT_LISTEN_PORT = 8303;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PathSetup makes one path; it returns the laptop's expected route device to the pod. */
export type PathSetup = (lab: Lab, c: Cleanup, log: (s: string) => void) => Promise<string>;

/** Interface names of ours, unique per bench process (the WireGuard UAPI directory is shared). */
const ifname = (tag: string) => `bn${tag}${process.pid % 100000}`;

/** direct: kernel forwarding through the gateway namespace, no tunnel. */
const direct: PathSetup = async (lab, c) => {
  await lab.laptop.ip('route', 'add', lab.podSubnet, 'via', LAB.gateway);
  c.add('direct route', () => lab.laptop.ip('route', 'del', lab.podSubnet));
  return 'bnlap0';
};

/** devnetConnect runs `devnet connect` in the laptop namespace and registers `devnet quit`. */
async function devnetConnect(lab: Lab, c: Cleanup, extra: string[]): Promise<void> {
  c.add('devnet quit', () => lab.onLaptop(process.execPath, [DEVNET_BIN, 'quit'], 60_000));
  const r = await lab.onLaptop(
    process.execPath,
    [DEVNET_BIN, 'connect', '--context', lab.cluster.context, '-n', 'bench', '--dns-mode', 'none', ...extra],
    120_000,
  );
  if (r.code !== 0) throw new Error(`devnet connect: ${(r.stderr || r.stdout).trim().slice(-800)}`);
}

/** devnet over the API server's port-forward (installs the gateway on first use). */
const devnetPortforward: PathSetup = async (lab, c) => {
  await devnetConnect(lab, c, []);
  return 'devnet0';
};

interface GatewayPod {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { containers: { args?: string[] }[] };
  status: { podIP?: string; conditions?: { type: string; status: string }[] };
}

/** directGatewayIp waits for exactly one Ready gateway pod started with --direct-listen and returns its IP. */
async function directGatewayIp(lab: Lab, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    const list = JSON.parse(
      await lab.kubectl(['get', 'pods', '-n', 'devnet', '-l', 'app.kubernetes.io/name=devnet-gateway', '-o', 'json']),
    ) as { items: GatewayPod[] };
    seen = list.items
      .map((p) => `${p.metadata.name}${p.metadata.deletionTimestamp ? ' (terminating)' : ''}`)
      .join(', ');
    const live = list.items.filter((p) => !p.metadata.deletionTimestamp);
    const pod = live[0];
    if (
      live.length === 1 &&
      pod &&
      pod.spec.containers[0]?.args?.includes('--direct-listen') &&
      pod.status.conditions?.some((k) => k.type === 'Ready' && k.status === 'True') &&
      pod.status.podIP
    ) {
      return pod.status.podIP;
    }
    await sleep(500);
  }
  throw new Error(`no single Ready gateway pod with --direct-listen after ${timeoutMs / 1000} s (pods: ${seen})`);
}

/**
 * devnet over the direct transport: the gateway Deployment gets
 * `--direct-listen 0.0.0.0:8303` (a patch, as an operator would make it), the
 * laptop a /32 route to the gateway pod through the gateway namespace, and
 * devnet leaves that /32 out of its own routes (--never-proxy).
 */
const devnetDirect: PathSetup = async (lab, c, log) => {
  const installed = await lab.kubectl(['get', 'deploy', '-n', 'devnet', 'devnet-gateway']).then(
    () => true,
    () => false,
  );
  if (!installed) {
    log('installing the gateway (a port-forward connect and quit)');
    const once = new Cleanup();
    await devnetConnect(lab, once, []);
    await once.run(log);
  }
  const deploy = JSON.parse(await lab.kubectl(['get', 'deploy', '-n', 'devnet', 'devnet-gateway', '-o', 'json'])) as {
    spec: { template: { spec: { containers: { name: string; args: string[] }[] } } };
  };
  const container = deploy.spec.template.spec.containers[0] as { name: string; args: string[] };
  if (!container.args.includes('--direct-listen')) {
    const args = [...container.args, '--direct-listen', `0.0.0.0:${DIRECT_LISTEN_PORT}`];
    const patch = { spec: { template: { spec: { containers: [{ name: container.name, args }] } } } };
    await lab.kubectl(['patch', 'deploy', '-n', 'devnet', 'devnet-gateway', '-p', JSON.stringify(patch)]);
    log('gateway patched with --direct-listen; waiting for its new pod');
  }
  const ip = await directGatewayIp(lab);
  await lab.laptop.ip('route', 'add', `${ip}/32`, 'via', LAB.gateway);
  c.add('route to the gateway pod', () => lab.laptop.ip('route', 'del', `${ip}/32`));
  await devnetConnect(lab, c, [
    '--transport',
    'direct',
    '--direct-address',
    `${ip}:${DIRECT_LISTEN_PORT}`,
    '--never-proxy',
    `${ip}/32`,
  ]);
  return 'devnet0';
};

/** selfSigned makes a throwaway EC key and certificate; it returns the certificate's SHA-256 fingerprint. */
async function selfSigned(dir: string, name: string): Promise<string> {
  await must('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.crt`),
  ]);
  const fp = await must('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', join(dir, `${name}.crt`)]);
  return (/=([0-9A-F:]+)/.exec(fp)?.[1] ?? '').trim();
}

/** routeArgs writes an IPv4 CIDR as OpenVPN's `route` wants it: network and netmask ("10.244.0.0/16" → "10.244.0.0 255.255.0.0"). */
export function routeArgs(cidr: string): string {
  const [net, bits] = cidr.split('/');
  const n = Number(bits);
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return `${net} ${[24, 16, 8, 0].map((s) => (mask >>> s) & 0xff).join('.')}`;
}

/** waitFor polls check until it returns true. */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what}: not up after ${timeoutMs / 1000} s`);
}

const linkExists = (ns: string, dev: string) => run('ip', ['-n', ns, 'link', 'show', dev]).then((r) => r.code === 0);

/**
 * openvpn 2.6 in TCP mode (one stream, like devnet): TLS with self-signed
 * certificates pinned by `peer-fingerprint`, AES-256-GCM, TCP_NODELAY on the
 * carrier socket on both ends (without it OpenVPN's TCP mode is 4× slower,
 * PERFORMANCE.md), the pod route on the client's tunnel.
 */
const openvpn: PathSetup = async (lab, c) => {
  const dir = join(lab.work, 'openvpn');
  await must('mkdir', ['-p', dir]);
  const serverFp = await selfSigned(dir, 'server');
  const clientFp = await selfSigned(dir, 'client');
  const sdev = ifname('ovs');
  const cdev = ifname('ovc');
  const conf = (role: 'server' | 'client') => {
    return [
      'dev-type tun',
      `proto tcp-${role}`,
      'port 1194',
      'dh none',
      'data-ciphers AES-256-GCM',
      'socket-flags TCP_NODELAY',
      'verb 3',
      `dev ${role === 'server' ? sdev : cdev}`,
      `log ${join(dir, `${role}.log`)}`,
      `tls-${role}`,
      `cert ${join(dir, `${role}.crt`)}`,
      `key ${join(dir, `${role}.key`)}`,
      `peer-fingerprint ${role === 'server' ? clientFp : serverFp}`,
      ...(role === 'server'
        ? [`local ${LAB.gateway}`, 'ifconfig 10.250.8.1 10.250.8.2']
        : [`remote ${LAB.gateway}`, 'ifconfig 10.250.8.2 10.250.8.1', `route ${routeArgs(lab.podSubnet)} 10.250.8.1`]),
    ].join('\n');
  };
  writeFileSync(join(dir, 'server.conf'), conf('server'));
  writeFileSync(join(dir, 'client.conf'), conf('client'));
  const server = lab.background('ip', [
    'netns',
    'exec',
    lab.gateway.name,
    'openvpn',
    '--config',
    join(dir, 'server.conf'),
  ]);
  c.add('openvpn server', () => stop(server));
  await waitFor('openvpn server', () => linkExists(lab.gateway.name, sdev));
  const client = lab.background('ip', [
    'netns',
    'exec',
    lab.laptop.name,
    'openvpn',
    '--config',
    join(dir, 'client.conf'),
  ]);
  c.add('openvpn client', () => stop(client));
  await waitFor('openvpn tunnel', async () => (await lab.routeToPod()) === cdev, 30_000).catch((err) => {
    const said = readFileSync(join(dir, 'client.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${(err as Error).message}; openvpn client log: ${said}`);
  });
  return cdev;
};

/** wireguard-go (userspace, UDP), configured with `wg set`; the pod route on the laptop's wg device. */
const wireguard: PathSetup = async (lab, c) => {
  const dir = join(lab.work, 'wireguard');
  await must('mkdir', ['-p', dir]);
  const key = async (name: string) => {
    const priv = (await must('wg', ['genkey'])).trim();
    writeFileSync(join(dir, `${name}.key`), `${priv}\n`, { mode: 0o600 });
    return (await must('wg', ['pubkey'], { input: `${priv}\n` })).trim();
  };
  const spub = await key('server');
  const cpub = await key('client');
  const sdev = ifname('wgs');
  const cdev = ifname('wgc');
  for (const [ns, dev] of [
    [lab.gateway.name, sdev],
    [lab.laptop.name, cdev],
  ] as const) {
    const p = lab.background('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', dev], {
      ...process.env,
      WG_PROCESS_FOREGROUND: '1',
    });
    c.add(`wireguard-go ${dev}`, () => stop(p));
    await waitFor(`wireguard-go ${dev}`, () => linkExists(ns, dev));
  }
  const gw = lab.gateway;
  await gw.exec('wg', [
    'set',
    sdev,
    'private-key',
    join(dir, 'server.key'),
    'listen-port',
    '51820',
    'peer',
    cpub,
    'allowed-ips',
    '10.250.9.2/32',
  ]);
  await gw.ip('addr', 'add', '10.250.9.1/24', 'dev', sdev);
  await gw.ip('link', 'set', sdev, 'up');
  const lap = lab.laptop;
  await lap.exec('wg', [
    'set',
    cdev,
    'private-key',
    join(dir, 'client.key'),
    'peer',
    spub,
    'endpoint',
    `${LAB.gateway}:51820`,
    'allowed-ips',
    `10.250.9.0/24,${lab.podSubnet}`,
  ]);
  await lap.ip('addr', 'add', '10.250.9.2/24', 'dev', cdev);
  await lap.ip('link', 'set', cdev, 'up');
  await lap.ip('route', 'add', lab.podSubnet, 'dev', cdev);
  return cdev;
};

/**
 * sshuttle (nat method, iptables in the laptop namespace) over OpenSSH: sshd
 * in the gateway namespace on port 2222 with a throwaway host and user key,
 * forwarding off there, so traffic reaches the pod only as sshd's own
 * connections. The laptop's default route points at the gateway (sshuttle
 * redirects after routing), which drops whatever sshuttle does not carry.
 */
const sshuttle: PathSetup = async (lab, c) => {
  const dir = join(lab.work, 'ssh');
  // Fresh keys each time: one run sets the path up once per benchmark (ssh-keygen will not overwrite).
  rmSync(dir, { recursive: true, force: true });
  await must('mkdir', ['-p', dir]);
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user.pub')));
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress ${LAB.gateway}:2222`,
      `HostKey ${join(dir, 'host')}`,
      'PermitRootLogin prohibit-password',
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PidFile none',
      '',
    ].join('\n'),
  );
  // sshd insists on its privilege-separation directory.
  await must('mkdir', ['-p', '/run/sshd']);
  const sshd = lab.background('ip', [
    'netns',
    'exec',
    lab.gateway.name,
    '/usr/sbin/sshd',
    '-D',
    '-e',
    '-f',
    join(dir, 'sshd_config'),
  ]);
  c.add('sshd', () => stop(sshd));
  await lab.setForwarding(false);
  c.add('gateway forwarding back on', () => lab.setForwarding(true));
  await lab.laptop.ip('route', 'add', 'default', 'via', LAB.gateway);
  c.add('laptop default route', () => lab.laptop.ip('route', 'del', 'default'));
  const ssh = `ssh -i ${join(dir, 'user')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR`;
  const client = lab.background('ip', [
    'netns',
    'exec',
    lab.laptop.name,
    'sshuttle',
    '--python',
    '/usr/bin/python3',
    '-e',
    ssh,
    '-r',
    `root@${LAB.gateway}:2222`,
    lab.podSubnet,
  ]);
  // sshuttle removes its iptables rules on the way out: stop() waits for it.
  c.add('sshuttle', () => stop(client));
  return 'bnlap0';
};

/** SETUPS maps every path to its setup. */
export const SETUPS: Record<PathName, PathSetup> = {
  direct,
  'devnet-direct': devnetDirect,
  'devnet-portforward': devnetPortforward,
  openvpn,
  'wireguard-go': wireguard,
  sshuttle,
};
