// DnsServer carries a Responder's bytes over UDP and TCP (RFC 1035 §4.2,
// RFC 7766). UDP answers are sized to the client's EDNS payload size and
// truncated with TC set when larger, so the client retries over TCP. TCP
// connections may pipeline queries and get answers out of order (RFC 7766
// §6.2.1.1); they are bounded in number, idle time and queries in flight.
// Malformed input is answered FORMERR or dropped by the Responder; nothing a
// peer sends can throw out of a socket handler.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DnsEndpoint } from './forwarder.ts';

/** MessageHandler answers one DNS message: bytes to send, undefined to drop, or a promise of either. It must not throw. */
export interface MessageHandler {
  respond(msg: Uint8Array, tcp: boolean): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

/** ServerLimits bounds the TCP side. */
export interface ServerLimits {
  maxTcpConnections: number;
  /** tcpIdleMs closes a connection with nothing in flight (RFC 7766 §6.2.3). */
  tcpIdleMs: number;
  maxInFlightPerConnection: number;
}

const DEFAULT_LIMITS: ServerLimits = { maxTcpConnections: 256, tcpIdleMs: 10_000, maxInFlightPerConnection: 64 };

/** DnsServer listens on UDP and TCP at the same addresses and answers with a MessageHandler (a Responder). */
export class DnsServer {
  readonly #responder: MessageHandler;
  readonly #log: Logger;
  readonly #limits: ServerLimits;
  readonly #udp: UdpSocket[] = [];
  readonly #tcp: Server[] = [];
  readonly #conns = new Set<Socket>();

  constructor(responder: MessageHandler, logger: Logger, limits: Partial<ServerLimits> = {}) {
    this.#responder = responder;
    this.#log = logger;
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** listen binds UDP and TCP on each endpoint (port 0 picks one port for both) and returns the bound endpoints. */
  async listen(endpoints: DnsEndpoint[]): Promise<DnsEndpoint[]> {
    const bound: DnsEndpoint[] = [];
    try {
      for (const e of endpoints) bound.push(await this.#listenRetrying(e));
    } catch (err) {
      await this.close();
      throw err;
    }
    return bound;
  }

  /** #listenRetrying retries port 0 when the UDP port the kernel picked is taken for TCP. */
  async #listenRetrying(e: DnsEndpoint): Promise<DnsEndpoint> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#listenOne(e);
      } catch (err) {
        if (e.port !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        const udp = this.#udp.pop();
        this.#tcp.pop();
        udp?.close();
      }
    }
  }

  async #listenOne(e: DnsEndpoint): Promise<DnsEndpoint> {
    // With port 0, take the UDP port the kernel chose and ask TCP for the same.
    const udp = createSocket({ type: isIPv6(e.address) ? 'udp6' : 'udp4' });
    this.#udp.push(udp);
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(e.port, e.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    try {
      udp.setRecvBufferSize(4 << 20);
    } catch {
      // keep the kernel default
    }
    udp.on('error', (err) => this.#log.warn({ err: err.message }, 'DNS UDP socket error'));
    udp.on('message', (msg, rinfo) => this.#onDatagram(udp, msg, rinfo.port, rinfo.address));
    const port = udp.address().port;
    const tcp = createServer({ noDelay: true, allowHalfOpen: true }, (sock) => this.#onConnection(sock));
    this.#tcp.push(tcp);
    tcp.maxConnections = this.#limits.maxTcpConnections;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port, host: e.address }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.#log.warn({ err: err.message }, 'DNS TCP listener error'));
    return { address: e.address, port };
  }

  #onDatagram(udp: UdpSocket, msg: Buffer, port: number, address: string): void {
    let r: ReturnType<MessageHandler['respond']>;
    try {
      r = this.#responder.respond(msg, false);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'DNS responder failed');
      return;
    }
    const send = (out: Uint8Array | undefined) => {
      if (out) udp.send(out, port, address, (err) => err && this.#log.debug({ err: err.message }, 'DNS UDP send'));
    };
    if (r instanceof Promise) r.then(send, () => undefined);
    else send(r);
  }

  #onConnection(sock: Socket): void {
    this.#conns.add(sock);
    let buf = Buffer.alloc(0);
    let inFlight = 0;
    let paused = false;
    sock.setTimeout(this.#limits.tcpIdleMs, () => {
      if (inFlight === 0) sock.destroy();
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.#conns.delete(sock));
    const write = (out: Uint8Array | undefined) => {
      inFlight--;
      if (out && !sock.destroyed) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        sock.write(Buffer.concat([len, out]));
      }
      if (paused && inFlight < this.#limits.maxInFlightPerConnection) {
        paused = false;
        sock.resume();
      }
      if (inFlight === 0 && sock.readableEnded && !sock.destroyed) sock.end();
    };
    sock.on('data', (chunk) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      // RFC 1035 §4.2.2: two-byte length, then the message.
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        inFlight++;
        let r: ReturnType<MessageHandler['respond']>;
        try {
          r = this.#responder.respond(msg, true);
        } catch {
          r = undefined;
        }
        if (r instanceof Promise) r.then(write, () => write(undefined));
        else write(r);
      }
      if (inFlight >= this.#limits.maxInFlightPerConnection && !paused) {
        paused = true;
        sock.pause();
      }
    });
    sock.on('end', () => {
      // A partial message at EOF is a framing error: nothing to answer.
      if (inFlight === 0 && !sock.destroyed) sock.end();
    });
  }

  /** close stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const c of this.#conns) c.destroy();
    this.#conns.clear();
    await Promise.all([
      ...this.#udp.map(
        (u) =>
          new Promise<void>((resolve) => {
            try {
              u.close(() => resolve());
            } catch {
              resolve(); // never bound
            }
          }),
      ),
      ...this.#tcp.map((t) => new Promise<void>((resolve) => t.close(() => resolve()))),
    ]);
    this.#udp.length = 0;
    this.#tcp.length = 0;
  }
}
