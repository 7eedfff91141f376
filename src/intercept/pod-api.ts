// The laptop's requests to an intercept pod's health port (POST /sync,
// GET /stats), carried through the tunnel: the gateway dials the pod.
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { channelDuplex, type Session, StreamChannel } from '../tunnel/index.ts';
import { INTERCEPT_HEALTH_PORT } from './manifests.ts';

/** MAX_ANSWER bounds what the laptop reads from an intercept pod. */
const MAX_ANSWER = 1 << 20;

/** podRequest sends one request to an intercept pod's health port and parses its JSON answer. */
export function podRequest<T>(s: Session | undefined, podIP: string, method: 'GET' | 'POST', path: string): Promise<T> {
  if (!s || s.closed || !podIP) return Promise.reject(new Error('no tunnel'));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        method,
        host: podIP,
        port: INTERCEPT_HEALTH_PORT,
        path,
        timeout: 3000,
        createConnection: (_o, cb) => {
          s.open({ protocol: 'tcp', host: podIP, port: INTERCEPT_HEALTH_PORT, timeoutMs: 3000 }).then((r) => {
            if (r.ok && r.channel instanceof StreamChannel) cb(null, channelDuplex(r.channel) as unknown as Socket);
            else cb(new Error(r.ok ? 'not a stream' : r.message), undefined as unknown as Socket);
          });
          return undefined;
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_ANSWER) return req.destroy(new Error('answer too large'));
          chunks.push(d);
        });
        res.on('end', () => {
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
            resolve(JSON.parse(Buffer.concat(chunks).toString()) as T);
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
