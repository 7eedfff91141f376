// NetstackLab: the conformance-test and benchmark rig. The "laptop" is a
// network namespace whose only way to the lab's destination prefixes is a
// TUN device driven by a NetStack in this process; flows are dialed with
// LocalDial to servers on this process's loopback. Everything is removed by
// close() (and namespaces on exit by test/support/netns.ts).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LocalDial, type LocalDialOptions } from '../../src/dataplane/local-dial.ts';
import { StackDriver, type StackDriverOptions } from '../../src/dataplane/stack-driver.ts';
import { TUN_TXQUEUELEN } from '../../src/helper/network.linux.ts';
import type { Upstream } from '../../src/netstack/upstream.ts';
import { NativeTun } from '../../src/tun/native.ts';
import { Netns, sh } from './netns.ts';

/** LAB_V4 and LAB_V6 are the addresses the laptop namespace reaches through the TUN (dst port is kept, host is loopback). */
export const LAB_V4 = '10.213.1.1';
export const LAB_V6 = 'fd21:3:1::1';
const PEER = join(import.meta.dirname, 'netstack-peer.ts');

/** LabOptions tune the stack and the dialer. */
export interface LabOptions {
  mtu?: number;
  /** maxBatch is the most packets read from the TUN per wakeup (default: NativeTun's). */
  maxBatch?: number;
  dial?: LocalDialOptions;
  stack?: Partial<Omit<StackDriverOptions, 'upstream' | 'secret'>>;
  /** upstream wraps the local dialer (default: the dialer itself). */
  upstream?: (dial: LocalDial) => Upstream;
}

/** NetstackLab is one namespace + TUN + stack + local dialer. */
export class NetstackLab {
  readonly ns: Netns;
  readonly tun: NativeTun;
  readonly driver: StackDriver;
  readonly dial: LocalDial;

  private constructor(ns: Netns, tun: NativeTun, driver: StackDriver, dial: LocalDial) {
    this.ns = ns;
    this.tun = tun;
    this.driver = driver;
    this.dial = dial;
  }

  /** create builds the lab; the TUN is named dvns<pid> so parallel engineers' devices never collide. */
  static async create(tag: string, opts: LabOptions = {}): Promise<NetstackLab> {
    const mtu = opts.mtu ?? 65520;
    const ns = await Netns.create(tag);
    let tun: NativeTun | undefined;
    try {
      tun = NativeTun.open(`dvns${process.pid % 100000}${tag.slice(0, 4)}`.slice(0, 15), {
        mtu,
        ...(opts.maxBatch ? { maxBatch: opts.maxBatch } : {}),
      });
      await sh('ip', ['link', 'set', 'dev', tun.name, 'netns', ns.name]);
      // As the helper sets up devnet0: MTU and the queue towards the stack.
      await ns.ip('link', 'set', 'dev', tun.name, 'mtu', String(mtu), 'txqueuelen', String(TUN_TXQUEUELEN), 'up');
      await ns.ip('addr', 'add', '10.213.0.1/32', 'dev', tun.name);
      await ns.ip('route', 'add', '10.213.1.0/24', 'dev', tun.name, 'src', '10.213.0.1');
      await ns.ip('-6', 'addr', 'add', 'fd21:3::1/128', 'dev', tun.name, 'nodad');
      await ns.ip('-6', 'route', 'add', 'fd21:3:1::/64', 'dev', tun.name, 'src', 'fd21:3::1');
    } catch (err) {
      tun?.close();
      await ns.delete();
      throw err;
    }
    const dial = new LocalDial({
      resolve: (f) => ({ host: f.version === 4 ? '127.0.0.1' : '::1', port: f.dst.port }),
      ...opts.dial,
    });
    const driver = new StackDriver(tun, {
      upstream: opts.upstream ? opts.upstream(dial) : dial,
      secret: randomBytes(16),
      mtu,
      verifyChecksums: true, // conformance: every kernel checksum is checked (the bench passes false, as the daemon does)
      ...opts.stack,
    });
    return new NetstackLab(ns, tun, driver, dial);
  }

  /** peer runs test/support/netstack-peer.ts inside the namespace and returns its JSON result. */
  async peer(args: Array<string | number>, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const stdout = await this.ns.exec(process.execPath, [PEER, ...args.map(String)], { timeout: timeoutMs });
    const line = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** close stops the stack, closes the dialer's sockets and the TUN, and deletes the namespace. */
  async close(): Promise<void> {
    this.driver.close();
    this.dial.close();
    this.tun.close();
    await this.ns.delete();
  }
}
