// The root helper's network changes on Linux: create the TUN device (owned by
// the user whose daemon will use it), give it addresses and an MTU, and route
// the cluster's CIDRs to it. Every change is journaled before it is made
// (journal.ts), so a crash at any point can be undone.

import { DevnetError } from '../errors.ts';
import type { ExecResult, UndoJournal } from '../journal/journal.ts';
import { loadAddon } from '../tun/addon.ts';

/** RouteSpec is one destination routed into the TUN. */
export interface RouteSpec {
  /** dst is a CIDR (IPv4 or IPv6). */
  dst: string;
  metric?: number;
}

/** TunSpec says what device to make and how to configure it. */
export interface TunSpec {
  /** name of the device, e.g. devnet0 (at most 15 bytes). */
  name: string;
  mtu: number;
  /** ownerUid lets that user attach to the device (TUNSETOWNER); omit for root only. */
  ownerUid?: number;
  /**
   * persist keeps the device after the helper's descriptor closes, so the
   * owner can attach by name; the journal then removes it. Without persist the
   * device lives exactly as long as some process holds its descriptor.
   */
  persist: boolean;
  /** addresses (CIDRs) for the device itself. */
  addresses: string[];
  routes: RouteSpec[];
}

/**
 * TUN_TXQUEUELEN sizes the queue of packets the kernel holds for the daemon
 * to read (Linux gives a TUN 500). Apps burst: 10,000 sockets closed at once
 * send 10,000 FINs in one go, and whatever overflows the queue is dropped,
 * then retransmitted in lockstep by every sender and dropped again, while
 * new SYNs drop with it. The queue holds only what the daemon has not read
 * yet; the bytes themselves stay charged to the senders' socket buffers.
 */
export const TUN_TXQUEUELEN = 10_000;

/** NetworkDeps are passed in: the journal, a command runner. */
export interface NetworkDeps {
  journal: UndoJournal;
  exec(argv: string[]): Promise<ExecResult>;
}

/** ConfiguredTun is the open device: its descriptor is the caller's to pass on or close. */
export interface ConfiguredTun {
  fd: number;
  name: string;
}

async function run(deps: NetworkDeps, argv: string[], what: string): Promise<void> {
  const r = await deps.exec(argv);
  if (r.code !== 0) {
    throw new DevnetError('config', `could not ${what}: ${argv.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`, {
      hint: 'Check that no other VPN or devnet session manages this device or route, then try again.',
    });
  }
}

/** linkExists reports whether a network device of that name exists in this namespace. */
export async function linkExists(deps: Pick<NetworkDeps, 'exec'>, name: string): Promise<boolean> {
  return (await deps.exec(['ip', '-o', 'link', 'show', 'dev', name])).code === 0;
}

/**
 * configureTun creates and configures the TUN device described by spec. On
 * failure, what was done so far stays in the journal for the caller to undo.
 */
export async function configureTun(spec: TunSpec, deps: NetworkDeps): Promise<ConfiguredTun> {
  if (await linkExists(deps, spec.name)) {
    throw new DevnetError('config', `a network device named ${spec.name} already exists`, {
      hint: 'Another devnet session may be running (devnet quit), or choose another device name.',
    });
  }
  const addon = loadAddon();
  await deps.journal.record({ kind: 'link-delete', name: spec.name });
  const { fd, name } = addon.openTun(spec.name);
  try {
    if (spec.ownerUid !== undefined) addon.tunIoctl(fd, 'owner', spec.ownerUid, name);
    if (spec.persist) addon.tunIoctl(fd, 'persist', 1, name);
    addon.setMtu(name, spec.mtu);
    await run(deps, ['ip', 'link', 'set', 'dev', name, 'txqueuelen', String(TUN_TXQUEUELEN)], `size ${name}'s queue`);
    for (const cidr of spec.addresses) {
      await deps.journal.record({ kind: 'addr-delete', dev: name, cidr });
      await run(deps, ['ip', 'addr', 'add', cidr, 'dev', name], `add address ${cidr} to ${name}`);
    }
    addon.setUp(name, true);
    for (const r of spec.routes) {
      const metric = r.metric ?? 0;
      await deps.journal.record({ kind: 'route-delete', dst: r.dst, dev: name, metric });
      await run(
        deps,
        ['ip', 'route', 'add', r.dst, 'dev', name, 'metric', String(metric)],
        `route ${r.dst} to ${name}`,
      );
    }
  } catch (err) {
    addon.closeFd(fd);
    throw err;
  }
  return { fd, name };
}

/** addRoute routes one more CIDR into an existing device (pod CIDRs change while connected). */
export async function addRoute(dev: string, route: RouteSpec, deps: NetworkDeps): Promise<void> {
  const metric = route.metric ?? 0;
  await deps.journal.record({ kind: 'route-delete', dst: route.dst, dev, metric });
  await run(
    deps,
    ['ip', 'route', 'add', route.dst, 'dev', dev, 'metric', String(metric)],
    `route ${route.dst} to ${dev}`,
  );
}
