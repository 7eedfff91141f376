// DnsForwarder sends a DNS message to a list of servers, in order, and
// returns the first matching answer: UDP first, TCP when the answer comes
// back truncated (RFC 1035 §4.2.1, RFC 7766 §5) or when asked to. Each query
// gets its own socket with a random source port and a fresh random ID, and a
// reply counts only if it comes from the server and answers the same
// question (RFC 5452 §9.1). It is how devnet forwards non-cluster names to
// the saved upstream servers, and how a cluster DNS is queried directly.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import { questionMatches } from './message.ts';

/** DnsEndpoint is a DNS server's address and port. */
export interface DnsEndpoint {
  address: string;
  port: number;
}

/**
 * ClusterResolver answers raw DNS queries for cluster names. In production it
 * goes through the tunnel to the gateway, which asks the cluster DNS named in
 * its pod's resolv.conf. It returns complete answers (retrying over TCP when
 * the cluster DNS truncates), honours the abort signal, and rejects quickly
 * when it cannot answer (tunnel down).
 */
export interface ClusterResolver {
  query(message: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** ForwarderOptions tunes a DnsForwarder. */
export interface ForwarderOptions {
  servers: DnsEndpoint[];
  /** timeoutMs bounds each attempt (one server, one transport). */
  timeoutMs?: number;
}

/** endpointLabel formats an endpoint as address:port ([v6]:port). */
export function endpointLabel(e: DnsEndpoint): string {
  return isIPv6(e.address) ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** DnsForwarder is a stub client over UDP with TCP fallback; see the file comment. */
export class DnsForwarder implements ClusterResolver {
  readonly servers: DnsEndpoint[];
  readonly #timeoutMs: number;

  constructor(opts: ForwarderOptions) {
    this.servers = opts.servers;
    this.#timeoutMs = opts.timeoutMs ?? 2000;
  }

  /** query returns the first server's answer (with the caller's ID); it rejects when every server failed. */
  async query(message: Uint8Array, signal?: AbortSignal, opts: { tcp?: boolean } = {}): Promise<Uint8Array> {
    if (message.length < 12) throw new Error('DNS message shorter than its header');
    const errors: string[] = [];
    for (const server of this.servers) {
      signal?.throwIfAborted();
      const out = Uint8Array.from(message);
      const id = randomInt(0x10000);
      out[0] = id >> 8;
      out[1] = id & 0xff;
      try {
        let answer = opts.tcp ? await this.#tcp(server, out, signal) : await this.#udp(server, out, signal);
        // Truncated: ask again over TCP; a server without TCP leaves the truncated answer (TC set) to the caller.
        if (!opts.tcp && ((answer[2] as number) & 0x02) !== 0)
          answer = await this.#tcp(server, out, signal).catch((err) => {
            if (signal?.aborted) throw err;
            return answer;
          });
        answer[0] = message[0] as number;
        answer[1] = message[1] as number;
        return answer;
      } catch (err) {
        if (signal?.aborted) throw err;
        errors.push(`${endpointLabel(server)}: ${(err as Error).message}`);
      }
    }
    throw new Error(
      this.servers.length === 0 ? 'no upstream DNS servers' : `no DNS server answered (${errors.join('; ')})`,
    );
  }

  #udp(server: DnsEndpoint, query: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const sock = createSocket(isIPv6(server.address) ? 'udp6' : 'udp4');
      let done = false;
      const finish = (err: Error | undefined, answer?: Uint8Array) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sock.close();
        if (err) reject(err);
        else resolve(answer as Uint8Array);
      };
      const onAbort = () => finish(signal?.reason ?? new Error('aborted'));
      const timer = setTimeout(() => finish(new Error(`timed out after ${this.#timeoutMs} ms`)), this.#timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', (err) => finish(err));
      sock.on('message', (msg) => {
        // Connected socket: only the server's datagrams arrive. Ignore
        // answers to other IDs or questions (late or forged).
        if (msg.length >= 12 && msg[0] === query[0] && msg[1] === query[1] && questionMatches(query, msg))
          finish(undefined, Uint8Array.from(msg));
      });
      sock.connect(server.port, server.address, () => {
        if (!done) sock.send(query);
      });
    });
  }

  #tcp(server: DnsEndpoint, query: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: server.address, port: server.port, noDelay: true });
      let done = false;
      let buf = Buffer.alloc(0);
      const finish = (err: Error | undefined, answer?: Uint8Array) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        if (err) reject(err);
        else resolve(answer as Uint8Array);
      };
      const onAbort = () => finish(signal?.reason ?? new Error('aborted'));
      const timer = setTimeout(() => finish(new Error(`TCP timed out after ${this.#timeoutMs} ms`)), this.#timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', (err) => finish(err));
      sock.on('end', () => finish(new Error('TCP connection closed before the answer')));
      sock.on('data', (chunk) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        // RFC 1035 §4.2.2: each message is preceded by a two-byte length.
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const msg = Uint8Array.prototype.slice.call(buf, 2, 2 + len);
          buf = buf.subarray(2 + len);
          if (msg[0] === query[0] && msg[1] === query[1] && questionMatches(query, msg)) return finish(undefined, msg);
        }
      });
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
  }
}
