// The helper's service: the root process a user daemon asks to change the
// machine's network (ARCHITECTURE.md decision 14). It serves the helper
// protocol (src/control/helper-protocol.ts) on a socket only that user (and
// root) may open, treats every request as untrusted — checked against the
// schema, then against the policy (policy.ts), with the routing table read
// here, not taken from the daemon — journals every change before making it,
// and undoes everything when asked to tear down, or when its daemon's
// connection drops without asking (the daemon crashed). The paths it uses
// are its own choice: the TUN goes only to the socket it named in the user's
// folder, reached without following a symlink.
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { DNS_ADDRESS, HELPER_PROTOCOL, type HelperProtocol, TUN_ADDRESS } from '../control/helper-protocol.ts';
import { userSocket } from '../control/owned-files.linux.ts';
import { ControlClient, type ParamsOf, type ResultOf, serveControl } from '../control/transport.ts';
import { execProgram, newConfigurator, nodeFileSystem } from '../dns/os/index.ts';
import type { DnsMode, OSConfigurator } from '../dns/os/types.ts';
import { DevnetError } from '../errors.ts';
import type { FileJournal, UndoEnv } from '../journal/journal.ts';
import { loadAddon } from '../tun/addon.ts';
import { VERSION } from '../version.ts';
import { execArgv } from './exec.ts';
import { addRoute, configureTun } from './network.linux.ts';
import { checkDnsConfig, checkDnsMode, checkRoute, type HelperPolicy } from './policy.ts';
import { type LocalRoute, parseIpRouteJson } from './routes.ts';

/** DNS_MODES_HERE are the resolver integrations the Linux helper offers. */
const DNS_MODES_HERE: readonly DnsMode[] = ['resolved', 'resolvconf', 'none'];

/** HelperOptions are fixed when the helper starts, by the root CLI (never by the daemon). */
export interface HelperOptions {
  socketPath: string;
  /** uid/gid of the user whose daemon may connect (and who will own the TUN). */
  uid: number;
  gid: number;
  /** fdSocket is the socket in the user's folder where the TUN is delivered (the helper's choice). */
  fdSocket: string;
  policy: HelperPolicy;
  policyPath: string;
  /** allowConflicts are the user's `--allow-conflict` CIDRs from the command line. */
  allowConflicts: string[];
  journal: FileJournal;
  undoEnv: UndoEnv;
  logger: Logger;
  /** resolvConfPath is where resolv.conf mode writes (tests point it elsewhere). */
  resolvConfPath?: string;
  /** onDone is called once everything is undone (the process then exits). */
  onDone(failures: number): void;
}

async function machineRoutes(): Promise<LocalRoute[]> {
  const v4 = await execArgv(['ip', '-j', 'route', 'show']);
  const v6 = await execArgv(['ip', '-j', '-6', 'route', 'show']);
  return [...parseIpRouteJson(v4.stdout), ...parseIpRouteJson(v6.stdout)];
}

/** startHelperService serves the helper's methods until teardown. */
export async function startHelperService(opts: HelperOptions): Promise<Server> {
  const addon = loadAddon();
  let tunName: string | undefined;
  let dns: OSConfigurator | undefined;
  let done = false;
  let daemon: Socket | undefined;
  const net = { journal: opts.journal, exec: execArgv };

  const teardown = async (why: string): Promise<number> => {
    if (done) return 0;
    done = true;
    opts.logger.info({ why }, 'undoing every change');
    if (dns) await dns.close().catch((err: Error) => opts.logger.warn({ err: err.message }, 'DNS restore failed'));
    const failures = await opts.journal.undoAll(opts.undoEnv);
    for (const f of failures) opts.logger.error({ step: f.step, error: f.error }, 'could not undo');
    return failures.length;
  };

  // The helper serves one daemon: the first connection that asks anything.
  // Its going away undoes everything; nobody else may speak for it.
  const serving = (peer: Socket): void => {
    daemon ??= peer;
    if (peer !== daemon) throw new DevnetError('user', 'the devnet helper already serves this session’s daemon');
  };

  const allowedRoutes = async (name: string, routes: { dst: string }[]): Promise<string[]> => {
    const ctx = {
      policy: opts.policy,
      policyPath: opts.policyPath,
      local: await machineRoutes(),
      allowConflicts: opts.allowConflicts,
      tunName: name,
    };
    return routes.map((r) => checkRoute(r.dst, ctx).text);
  };

  const server = await serveControl(
    HELPER_PROTOCOL,
    {
      hello: async (_params, _progress, peer) => {
        serving(peer);
        return { pid: process.pid, version: VERSION };
      },
      routes: async (_params, _progress, peer) => {
        serving(peer);
        return machineRoutes();
      },
      openTun: async (p, _progress, peer) => {
        serving(peer);
        if (tunName) throw new DevnetError('user', `the devnet helper already made ${tunName}`);
        if (p.fdSocket !== opts.fdSocket)
          throw new DevnetError(
            'user',
            `fdSocket ${p.fdSocket} is not the socket the helper chose (${opts.fdSocket})`,
            {
              hint: 'The TUN is delivered only to the daemon’s socket in your own devnet folder.',
            },
          );
        const routes = await allowedRoutes(p.name, p.routes);
        // Check the delivery socket before making anything: a planted symlink refuses here.
        userSocket(opts.fdSocket, opts.uid).release?.();
        const tun = await configureTun(
          {
            name: p.name,
            mtu: p.mtu,
            ownerUid: opts.uid,
            persist: false,
            addresses: [`${TUN_ADDRESS}/32`],
            routes: [...routes.map((dst) => ({ dst })), { dst: `${DNS_ADDRESS}/32` }],
          },
          net,
        );
        tunName = tun.name;
        try {
          const target = userSocket(opts.fdSocket, opts.uid);
          try {
            addon.sendFd(target.via as string, tun.fd);
          } finally {
            target.release?.();
          }
        } finally {
          // The daemon holds the only descriptor now: the device dies with it.
          addon.closeFd(tun.fd);
        }
        return { name: tun.name };
      },
      addRoutes: async (p, _progress, peer) => {
        serving(peer);
        if (!tunName) throw new DevnetError('user', 'the devnet helper got addRoutes before openTun');
        for (const dst of await allowedRoutes(tunName, p.routes)) await addRoute(tunName, { dst }, net);
        return null;
      },
      dnsBaseConfig: async (p, _progress, peer) => {
        serving(peer);
        checkDnsMode(p.mode, DNS_MODES_HERE);
        if (dns && dns.mode !== p.mode)
          throw new DevnetError('user', `the devnet helper already configures DNS in mode ${dns.mode}`);
        dns ??= newConfigurator(
          p.mode,
          { fs: nodeFileSystem, exec: execProgram, journal: opts.journal, logger: opts.logger },
          { link: tunName ?? 'devnet0', ...(opts.resolvConfPath ? { resolvConfPath: opts.resolvConfPath } : {}) },
        );
        return dns.getBaseConfig();
      },
      dnsSet: async (p, _progress, peer) => {
        serving(peer);
        if (!dns) throw new DevnetError('user', 'the devnet helper got dnsSet before dnsBaseConfig');
        checkDnsConfig(p.config);
        await dns.setDNS(p.config);
        return { splitDns: dns.supportsSplitDNS() };
      },
      dnsClose: async (_params, _progress, peer) => {
        serving(peer);
        await dns?.close();
        return null;
      },
      teardown: async (_params, _progress, peer) => {
        serving(peer);
        const failures = await teardown('the daemon asked');
        setImmediate(() => opts.onDone(failures));
        return { failures };
      },
    },
    {
      path: opts.socketPath,
      ownerUid: opts.uid,
      ownerGid: opts.gid,
      logger: opts.logger,
      onDisconnect: (peer) => {
        if (peer !== daemon || done) return;
        teardown('the daemon went away without tearing down').then((f) => opts.onDone(f));
      },
    },
  );
  return server;
}

/** HelperClient is the daemon's handle on its helper. */
export class HelperClient {
  readonly #c: ControlClient<HelperProtocol>;

  private constructor(c: ControlClient<HelperProtocol>) {
    this.#c = c;
  }

  /** connect reaches the helper, waiting up to waitMs for it to start listening. */
  static async connect(path: string, waitMs = 0): Promise<HelperClient> {
    const deadline = Date.now() + waitMs;
    let c: ControlClient<HelperProtocol>;
    for (;;) {
      try {
        c = await ControlClient.connect(
          HELPER_PROTOCOL,
          path,
          "devnet's root helper is not running",
          'Run `sudo devnet connect`.',
        );
        break;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const h = new HelperClient(c);
    await c.call('hello', null);
    return h;
  }

  /** onLost is called if the helper's connection drops. */
  onLost(fn: () => void): void {
    this.#c.socket.once('close', fn);
  }

  /** call asks the helper for one method. */
  call<K extends keyof HelperProtocol & string>(
    method: K,
    params: ParamsOf<HelperProtocol, K>,
  ): Promise<ResultOf<HelperProtocol, K>> {
    return this.#c.call(method, params);
  }

  close(): void {
    this.#c.close();
  }
}
