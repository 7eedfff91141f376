// The intercept pod's volume listener and the laptop's way in. The listener
// is reachable from the cluster, so a client first proves it holds the
// Service's SFTP token (model.sftpToken, derived from the gateway token):
//
//   client → pod   "DEVNET-SFTP <token>\n"     (at most AUTH_LINE_MAX bytes, within AUTH_TIMEOUT_MS)
//   pod → client   "OK\n"                       then SFTP v3 both ways (sftp-server.ts)
//
// A wrong token, an over-long or late line closes the connection with
// nothing said.
import { type Socket, connect as tcpConnect } from 'node:net';
import type { Logger } from 'pino';
import { tokenMatches } from '../gateway/token.ts';
import { serveSftp } from './sftp-server.ts';

/** AUTH_LINE_MAX bounds the greeting line. */
export const AUTH_LINE_MAX = 256;
/** AUTH_TIMEOUT_MS is how long the pod waits for the greeting. */
export const AUTH_TIMEOUT_MS = 5000;
const GREETING = 'DEVNET-SFTP ';

/** acceptSftp checks a connection's greeting, then serves `root` read-only over SFTP. */
export function acceptSftp(sock: Socket, o: { token: string; root: string; log: Logger }): void {
  let buf = Buffer.alloc(0);
  const timer = setTimeout(() => sock.destroy(), AUTH_TIMEOUT_MS);
  sock.on('error', () => undefined);
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    const nl = buf.indexOf(0x0a);
    if (nl < 0) {
      if (buf.length > AUTH_LINE_MAX) sock.destroy();
      return;
    }
    clearTimeout(timer);
    sock.off('data', onData);
    const line = buf.subarray(0, nl).toString('latin1');
    const rest = buf.subarray(nl + 1);
    if (nl > AUTH_LINE_MAX || !line.startsWith(GREETING) || !tokenMatches(o.token, line.slice(GREETING.length))) {
      o.log.warn({ remote: sock.remoteAddress }, 'volume client refused: wrong token');
      sock.destroy();
      return;
    }
    sock.write('OK\n');
    if (rest.length > 0) sock.unshift(rest);
    serveSftp(sock, { root: o.root, onError: (err) => o.log.debug({ err: err.message }, 'sftp session ended') });
  };
  sock.on('data', onData);
}

/** dialSftp connects to an intercept pod's volume listener and returns the socket once the pod said OK. */
export function dialSftp(host: string, port: number, token: string, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host, port, noDelay: true });
    const fail = (why: string) => {
      sock.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail(`no answer from ${host}:${port} within ${timeoutMs / 1000} s`), timeoutMs);
    let buf = '';
    sock.once('error', (err) => {
      clearTimeout(timer);
      fail(err.message);
    });
    sock.once('connect', () => sock.write(`${GREETING}${token}\n`));
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.length < 3) return;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.pause();
      if (buf !== 'OK\n') return fail('the intercept pod refused the volume token');
      sock.removeAllListeners('error');
      sock.off('close', onClose);
      resolve(sock);
    };
    sock.on('data', onData);
    const onClose = () => fail('the intercept pod closed the volume connection');
    sock.once('close', onClose);
  });
}
