// The processes of the DNS netns tests, run inside a network namespace with
// `ip netns exec`. Role "peers": the cluster DNS stand-in at 10.96.0.10, a
// fake internet DNS at 192.0.2.53 and HTTP servers on two ClusterIPs. Role
// "devnet": devnet's DnsSession (resolv.conf mode on 127.0.0.153:53, or
// systemd-resolved mode on a link) with a FileJournal (the helper's journal).
// Each prints "ready" when up; SIGTERM is `devnet quit`.
import { createServer } from 'node:http';
import { pino } from 'pino';
import { DnsForwarder } from '../../src/dns/forwarder.ts';
import { execProgram, nodeFileSystem } from '../../src/dns/os/index.ts';
import { ResolvConfConfigurator } from '../../src/dns/os/resolvconf.ts';
import { ResolvedConfigurator } from '../../src/dns/os/resolved.ts';
import { DnsSession } from '../../src/dns/session.ts';
import { ClusterZone, serveZone } from '../../src/dns/zone.ts';
import { processStartTime } from '../../src/helper/process.linux.ts';
import { FileJournal } from '../../src/journal/journal.ts';
import { demoSnapshot, HELLO_IP, INTERNET, OTHER_HELLO_IP } from './fixture.ts';
import { serveUpstream } from './upstream.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  role: 'peers' | 'devnet';
  journalPath: string;
  /** resolvConfPath selects resolv.conf mode; link + resolvectl select systemd-resolved mode. */
  resolvConfPath?: string;
  link?: string;
  resolvectl?: string[];
  listen?: string;
};
const logger = pino({ level: 'warn' }, pino.destination(2));
const snapshot = demoSnapshot();
const closers: (() => unknown)[] = [];

if (args.role === 'peers') {
  // The world around the laptop: the cluster DNS (reached through the
  // "tunnel" in production), the internet's DNS, and two Services' pods.
  const zone = await serveZone(new ClusterZone(snapshot), { address: '10.96.0.10', port: 53 });
  const internet = await serveUpstream(INTERNET, { address: '192.0.2.53', port: 53 });
  closers.push(
    () => zone.close(),
    () => internet.close(),
  );
  for (const [ip, body] of [
    [HELLO_IP, 'hello from hello-7d4b9c6f5-x2x4z'],
    [OTHER_HELLO_IP, 'hello from other/hello-5f6c7d8e9-abcde'],
  ] as const) {
    const s = createServer((_req, res) => res.end(`${body}\n`));
    await new Promise<void>((done) => s.listen(80, ip, done));
    closers.push(() => {
      s.close();
    });
  }
  process.stdout.write('ready\n');
} else {
  const deps = {
    fs: nodeFileSystem,
    exec: execProgram,
    journal: await FileJournal.create(args.journalPath, {
      pid: process.pid,
      startTime: await processStartTime(process.pid),
      description: 'dns test',
    }),
    logger,
  };
  const prefix = args.resolvectl ?? [];
  const configurator = args.link
    ? new ResolvedConfigurator(
        { ...deps, exec: (argv) => execProgram(argv[0] === 'resolvectl' ? [...prefix, ...argv.slice(1)] : argv) },
        args.link,
      )
    : new ResolvConfConfigurator(deps, args.resolvConfPath);
  const session = await DnsSession.start({
    logger,
    snapshot,
    cluster: new DnsForwarder({ servers: [{ address: '10.96.0.10', port: 53 }], timeoutMs: 1000 }),
    listen: [{ address: args.listen ?? '127.0.0.153', port: 53 }],
    configurator,
    reason: 'test',
  });
  closers.push(() => session.close());
  process.stdout.write(`ready ${JSON.stringify(session.status().upstreams)}\n`);
}

process.on('SIGTERM', async () => {
  for (const c of closers) await c();
  process.exit(0);
});
