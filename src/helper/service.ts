// The helper's service: the root process a user daemon asks to change the
// machine's network (ARCHITECTURE.md decision 14). It serves the control
// protocol on a socket only that user (and root) may open, journals every
// change before making it, and undoes everything when asked to tear down — or
// when its daemon's connection drops without asking (the daemon crashed).
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { ControlClient, serveControl } from '../daemon/control.ts';
import { execProgram, newConfigurator, nodeFileSystem } from '../dns/os/index.ts';
import type { DnsMode, OSConfig, OSConfigurator } from '../dns/os/types.ts';
import { DevnetError } from '../errors.ts';
import { loadAddon } from '../tun/addon.ts';
import { VERSION } from '../version.ts';
import { execArgv } from './exec.ts';
import type { FileJournal, UndoEnv } from './journal.ts';
import { addRoute, configureTun, type RouteSpec } from './network.linux.ts';
import { parseIpRouteJson } from './routes.ts';

/** OpenTunRequest asks the helper for a configured TUN, delivered to fdSocket. */
export interface OpenTunRequest {
  name: string;
  mtu: number;
  addresses: string[];
  routes: RouteSpec[];
  fdSocket: string;
}

/** HelperOptions are fixed when the helper starts. */
export interface HelperOptions {
  socketPath: string;
  /** uid/gid of the user whose daemon may connect (and who will own the TUN). */
  uid: number;
  gid: number;
  journal: FileJournal;
  undoEnv: UndoEnv;
  logger: Logger;
  /** resolvConfPath is where resolv.conf mode writes (tests point it elsewhere). */
  resolvConfPath?: string;
  /** onDone is called once everything is undone (the process then exits). */
  onDone(failures: number): void;
}

function need<T>(v: unknown, check: (v: unknown) => boolean, what: string): T {
  if (!check(v)) throw new DevnetError('internal', `helper: bad ${what}`);
  return v as T;
}

const isObject = (v: unknown) => typeof v === 'object' && v !== null;

/** startHelperService serves the helper's methods until teardown. */
export async function startHelperService(opts: HelperOptions): Promise<Server> {
  const addon = loadAddon();
  let tunName: string | undefined;
  let dns: OSConfigurator | undefined;
  let done = false;
  let daemon: Socket | undefined;

  const teardown = async (why: string): Promise<number> => {
    if (done) return 0;
    done = true;
    opts.logger.info({ why }, 'undoing every change');
    if (dns) await dns.close().catch((err: Error) => opts.logger.warn({ err: err.message }, 'DNS restore failed'));
    const failures = await opts.journal.undoAll(opts.undoEnv);
    for (const f of failures) opts.logger.error({ step: f.step, error: f.error }, 'could not undo');
    return failures.length;
  };

  const server = await serveControl(
    {
      hello: async (_params, _progress, peer) => {
        daemon ??= peer;
        return { pid: process.pid, version: VERSION };
      },
      routes: async () => {
        const v4 = await execArgv(['ip', '-j', 'route', 'show']);
        const v6 = await execArgv(['ip', '-j', '-6', 'route', 'show']);
        return [...parseIpRouteJson(v4.stdout), ...parseIpRouteJson(v6.stdout)];
      },
      openTun: async (params) => {
        const p = need<OpenTunRequest>(params, isObject, 'openTun request');
        if (tunName) throw new DevnetError('internal', `helper already made ${tunName}`);
        const tun = await configureTun(
          { name: p.name, mtu: p.mtu, ownerUid: opts.uid, persist: false, addresses: p.addresses, routes: p.routes },
          { journal: opts.journal, exec: execArgv },
        );
        tunName = tun.name;
        try {
          addon.sendFd(p.fdSocket, tun.fd);
        } finally {
          // The daemon holds the only descriptor now: the device dies with it.
          addon.closeFd(tun.fd);
        }
        return { name: tun.name };
      },
      addRoutes: async (params) => {
        const p = need<{ routes: RouteSpec[] }>(params, isObject, 'addRoutes request');
        if (!tunName) throw new DevnetError('internal', 'helper: addRoutes before openTun');
        for (const r of p.routes) await addRoute(tunName, r, { journal: opts.journal, exec: execArgv });
        return null;
      },
      dnsBaseConfig: async (params) => {
        const p = need<{ mode: DnsMode }>(params, isObject, 'dnsBaseConfig request');
        dns ??= newConfigurator(
          p.mode,
          { fs: nodeFileSystem, exec: execProgram, journal: opts.journal, logger: opts.logger },
          { link: tunName ?? 'devnet0', ...(opts.resolvConfPath ? { resolvConfPath: opts.resolvConfPath } : {}) },
        );
        return dns.getBaseConfig();
      },
      dnsSet: async (params) => {
        const p = need<{ config: OSConfig }>(params, isObject, 'dnsSet request');
        if (!dns) throw new DevnetError('internal', 'helper: dnsSet before dnsBaseConfig');
        await dns.setDNS(p.config);
        return { splitDns: dns.supportsSplitDNS() };
      },
      dnsClose: async () => {
        await dns?.close();
        return null;
      },
      teardown: async () => {
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
  readonly #c: ControlClient;

  private constructor(c: ControlClient) {
    this.#c = c;
  }

  /** connect reaches the helper, waiting up to waitMs for it to start listening. */
  static async connect(path: string, waitMs = 0): Promise<HelperClient> {
    const deadline = Date.now() + waitMs;
    let c: ControlClient;
    for (;;) {
      try {
        c = await ControlClient.connect(path, "devnet's root helper is not running", 'Run `sudo devnet connect`.');
        break;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const h = new HelperClient(c);
    await c.call('hello');
    return h;
  }

  /** onLost is called if the helper's connection drops. */
  onLost(fn: () => void): void {
    this.#c.socket.once('close', fn);
  }

  call<T>(method: string, params?: unknown): Promise<T> {
    return this.#c.call<T>(method, params);
  }

  close(): void {
    this.#c.close();
  }
}
