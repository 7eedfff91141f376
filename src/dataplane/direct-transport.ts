// The direct transport: the tunnel carrier as a plain TCP connection to the
// gateway's direct listener (`--direct-listen`), for clusters where the laptop
// has a route to the gateway pod. The port-forward transport lives in
// src/cluster/portforward.ts; both give the session a connected Duplex.
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { DevnetError } from '../errors.ts';

/** DialCarrier opens one tunnel carrier: a connected, ordered, reliable byte stream to the gateway. */
export type DialCarrier = () => Promise<Duplex>;

/** directCarrier returns a DialCarrier that connects over TCP to `address` (HOST:PORT, an IPv6 host in brackets). */
export function directCarrier(address: string | undefined): DialCarrier {
  return async () => {
    const m = address ? /^(.+):(\d+)$/.exec(address) : null;
    if (!m) throw new DevnetError('user', '--transport direct needs --direct-address HOST:PORT');
    const sock = tcpConnect({ host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) });
    sock.setNoDelay(true);
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', (err) =>
        rej(
          new DevnetError('cluster', `cannot reach the gateway at ${address}: ${err.message}`, {
            hint: 'Is the gateway started with --direct-listen on that address, and routable from here?',
          }),
        ),
      );
    });
    return sock;
  };
}
