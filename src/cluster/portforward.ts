// The port-forward transport: one WebSocket to the API server's
// pods/{name}/portforward subresource, presented as a Duplex byte stream to
// the gateway's loopback port (k8s-wire-facts.md, "Pod port-forward").
//
// We speak the v4.channel.k8s.io framing ourselves over `ws`, with
// client-node's KubeConfig supplying TLS and credentials (including exec
// plugins), instead of client-node's PortForward class, because that class
// loses the Status body of a refused upgrade ("Unexpected server response"),
// drops error-channel bytes, never ends its output stream, and has no
// backpressure. Framing: every binary message starts with a channel byte;
// port 0's data is channel 0, its errors channel 1 (server → client only);
// the first message on each channel starts with the port as uint16
// little-endian, which we strip. v4 has no half-close: ending our side closes
// the WebSocket.
import { Duplex } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { DevnetError } from '../errors.ts';

/** PortForwardTarget names the pod and port to reach. */
export interface PortForwardTarget {
  namespace: string;
  pod: string;
  port: number;
  /** timeoutMs bounds the upgrade (default 10 s). */
  timeoutMs?: number;
}

const DATA = 0;
const ERROR = 1;
// Above this many bytes queued in the WebSocket, writes wait for the socket.
const HIGH_WATER = 4 << 20;

/** portForwardUrl is the WebSocket URL of the port-forward subresource. */
export function portForwardUrl(server: string, t: PortForwardTarget): string {
  const base = server.replace(/^http/, 'ws').replace(/\/+$/, '');
  return `${base}/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/portforward?ports=${t.port}`;
}

/** PortForwardStream is the byte stream to the pod's port; `closeReason` says why it ended. */
export class PortForwardStream extends Duplex {
  readonly #ws: WebSocket;
  #seenPrefix = [false, false];
  #errorText = '';
  closeReason = '';

  constructor(ws: WebSocket) {
    super({ allowHalfOpen: false, readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.#ws = ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    ws.on('error', (err) => this.destroy(err));
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary || data.length === 0) return;
    const channel = data[0] as number;
    let payload = data.subarray(1);
    if (channel === DATA || channel === ERROR) {
      if (!this.#seenPrefix[channel]) {
        // The kubelet first announces the port on each channel.
        const skip = Math.min(2, payload.length);
        payload = payload.subarray(skip);
        if (skip === 2) this.#seenPrefix[channel] = true;
      }
      if (payload.length === 0) return;
      if (channel === DATA) {
        if (!this.push(payload)) this.#ws.pause();
      } else {
        this.#errorText += payload.toString('utf8').slice(0, 4096);
      }
    }
  }

  #onClose(code: number, reason: string): void {
    this.closeReason = this.#errorText || reason || `WebSocket closed with code ${code}`;
    if (this.#errorText) {
      this.destroy(new DevnetError('cluster', `port-forward failed: ${this.#errorText.trim()}`));
      return;
    }
    this.push(null);
  }

  override _read(): void {
    this.#ws.resume();
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    let n = 1;
    for (const c of chunks) n += c.chunk.length;
    const frame = Buffer.allocUnsafe(n);
    frame[0] = DATA;
    let off = 1;
    for (const c of chunks) {
      c.chunk.copy(frame, off);
      off += c.chunk.length;
    }
    this.#send(frame, callback);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this._writev([{ chunk }], callback);
  }

  #send(frame: Buffer, callback: (err?: Error | null) => void): void {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      callback(new Error('port-forward WebSocket is not open'));
      return;
    }
    if (this.#ws.bufferedAmount < HIGH_WATER) {
      this.#ws.send(frame, { binary: true });
      callback();
    } else {
      this.#ws.send(frame, { binary: true }, (err) => callback(err ?? null));
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#ws.close(1000);
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) this.#ws.terminate();
    callback(err);
  }
}

function statusMessage(body: string, code: number): string {
  try {
    const s = JSON.parse(body) as { message?: string };
    if (s.message) return s.message;
  } catch {
    // not a Status
  }
  return body.trim().slice(0, 300) || `HTTP ${code}`;
}

/** openPortForward opens the WebSocket and resolves once it is upgraded. */
export async function openPortForward(kc: KubeConfig, target: PortForwardTarget): Promise<PortForwardStream> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new DevnetError('config', 'kubeconfig has no current cluster');
  const opts: WebSocket.ClientOptions = {
    perMessageDeflate: false,
    handshakeTimeout: target.timeoutMs ?? 10_000,
    // RFC 6455 §5.3 requires clients to mask frames, with a key that browsers
    // must pick at random so script cannot steer intermediaries' caches. We
    // are not a browser and the connection is TLS to the API server, so an
    // all-zero key (still a valid masked frame) lets ws skip the XOR over
    // every payload byte: measured +40 % upload through the sandbox API
    // server (docs/sandbox-apiserver.md).
    generateMask: (mask: Buffer) => mask.fill(0),
  };
  await kc.applyToHTTPSOptions(opts);
  const ws = new WebSocket(portForwardUrl(cluster.server, target), ['v4.channel.k8s.io'], opts);
  // The stream listens before the upgrade completes: the kubelet writes the
  // port prefixes (and the pod may write its first bytes) right behind the
  // 101 answer, and ws emits what arrived in that same read at once after
  // 'open', before anything awaiting the upgrade could attach a listener.
  const stream = new PortForwardStream(ws);
  const duringSetup = () => undefined;
  stream.on('error', duringSetup);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 65536) body += d;
      });
      res.on('end', () => {
        const code = res.statusCode ?? 0;
        const msg = statusMessage(body, code);
        reject(
          new DevnetError(
            code === 401 || code === 403 ? 'config' : 'cluster',
            `port-forward to pod ${target.namespace}/${target.pod} refused: ${msg}`,
            {
              hint:
                code === 403
                  ? 'You need RBAC for pods/portforward (get and create) in that namespace.'
                  : code === 404
                    ? 'The gateway pod is gone; devnet will look for a ready one.'
                    : undefined,
            },
          ),
        );
      });
    });
    ws.once('error', (err) =>
      reject(
        new DevnetError('cluster', `port-forward to pod ${target.namespace}/${target.pod} failed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
  }).catch((err: unknown) => {
    stream.destroy();
    throw err;
  });
  if (ws.protocol !== 'v4.channel.k8s.io') {
    stream.destroy();
    throw new DevnetError(
      'cluster',
      `the API server chose port-forward protocol "${ws.protocol}", devnet speaks v4.channel.k8s.io`,
    );
  }
  stream.off('error', duringSetup);
  return stream;
}
