// PodResolver answers the tunnel's DNS_QUERY frames as a process in the
// gateway pod would resolve them: the pod's nameservers, and — when the
// client asks for it — the pod's search list and ndots. UDP first, TCP when
// the answer is truncated (RFC 1035 §4.2, RFC 7766).
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6, Socket } from 'node:net';
import type { DnsAnswerInit, DnsQuery } from '../tunnel/index.ts';
import { answerSummary, buildQuery, parseQuestion, type Question, withId } from './dns-message.ts';
import { type ResolvConf, searchCandidates } from './resolv-conf.ts';

const RCODE_NXDOMAIN = 3;

/** PodResolverOptions configure a PodResolver. */
export interface PodResolverOptions {
  conf: ResolvConf;
  /** port is the nameservers' port (53; tests may use another). */
  port?: number;
}

/** PodResolver forwards DNS queries to the pod's nameservers. */
export class PodResolver {
  readonly conf: ResolvConf;
  readonly #port: number;

  constructor(opts: PodResolverOptions) {
    this.conf = opts.conf;
    this.#port = opts.port ?? 53;
  }

  /** resolve answers one DNS_QUERY. */
  async resolve(q: DnsQuery): Promise<DnsAnswerInit> {
    const none = new Uint8Array(0);
    const question = parseQuestion(q.message);
    if (!question)
      return { message: none, error: 'malformed', errorMessage: 'not a DNS query with one question', resolvedName: '' };
    if (this.conf.nameservers.length === 0)
      return { message: none, error: 'unavailable', errorMessage: 'the pod has no nameserver', resolvedName: '' };
    const deadline =
      performance.now() + (q.timeoutMs > 0 ? Math.min(q.timeoutMs, 30_000) : this.conf.timeoutMs * this.conf.attempts);
    const names = q.useSearch ? searchCandidates(question.name, this.conf) : [question.name];
    let nodata: { message: Buffer; name: string } | undefined;
    let last: { message: Buffer; name: string } | undefined;
    for (const name of names) {
      const r = await this.#exchange(question, name, deadline);
      if (!r)
        return { message: none, error: 'timeout', errorMessage: 'no nameserver answered in time', resolvedName: '' };
      const s = answerSummary(r)!;
      const answer = { message: withId(r, question.id), name };
      if (s.rcode === 0 && s.answers > 0)
        return { message: answer.message, error: 'ok', errorMessage: '', resolvedName: name };
      if (s.rcode === 0) nodata ??= answer;
      else if (s.rcode !== RCODE_NXDOMAIN)
        return { message: answer.message, error: 'ok', errorMessage: '', resolvedName: name };
      last = answer;
    }
    const pick = nodata ?? last!;
    return { message: pick.message, error: 'ok', errorMessage: '', resolvedName: pick.name };
  }

  /** #exchange asks the nameservers in turn (for `attempts` rounds) until one answers. */
  async #exchange(q: Question, name: string, deadline: number): Promise<Buffer | undefined> {
    for (let attempt = 0; attempt < this.conf.attempts; attempt++) {
      for (const server of this.conf.nameservers) {
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        const id = randomInt(0, 65536);
        const query = buildQuery(q, name, id);
        if (!query) return undefined;
        let r = await udpExchange(server, this.#port, query, id, Math.min(left, this.conf.timeoutMs));
        if (r && answerSummary(r)?.truncated) {
          r = (await tcpExchange(server, this.#port, query, id, Math.max(1, deadline - performance.now()))) ?? r;
        }
        if (r) return r;
      }
    }
    return undefined;
  }
}

/** udpExchange sends one query over UDP and waits for the answer with the same id. */
function udpExchange(
  server: string,
  port: number,
  query: Buffer,
  id: number,
  timeoutMs: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(server) ? 'udp6' : 'udp4');
    const done = (r: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('message', (msg, rinfo) => {
      const s = answerSummary(msg);
      if (s?.id === id && rinfo.port === port) done(msg);
    });
    sock.send(query, port, server);
  });
}

/** tcpExchange sends one query over TCP (2-byte length prefix, RFC 1035 §4.2.2). */
function tcpExchange(
  server: string,
  port: number,
  query: Buffer,
  id: number,
  timeoutMs: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = new Socket();
    let buf = Buffer.alloc(0);
    const done = (r: Buffer | undefined): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        done(answerSummary(msg)?.id === id ? Buffer.from(msg) : undefined);
      }
    });
    sock.connect({ host: server, port }, () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length, 0);
      sock.write(Buffer.concat([len, query]));
    });
  });
}
