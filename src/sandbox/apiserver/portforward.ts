// Pod port-forward over WebSocket, framed exactly like the kubelet's
// (pkg/kubelet/cri/streaming/portforward/websocket.go):
// - subprotocols v4.channel.k8s.io, channel.k8s.io (binary) and their
//   base64 variants; the first *client-offered* supported one is echoed;
// - right after the upgrade, per port i, two messages [2i, lo, hi] and
//   [2i+1, lo, hi] (port little-endian); data flows on channel 2i both
//   ways, errors server→client on 2i+1 as
//   `error forwarding port P to pod NAME, uid UID: <err>`;
// - no half-close (v4): when the pod side of every port is done the
//   WebSocket closes with 1000; when the client closes, the pod connections
//   are closed.
// The pod's loopback is reached through the runtime's per-pod shim on the
// unix socket `${runDir}/pods/${ns}/${pod}/portforward.sock`: we write
// `<port>\n`; it answers `OK\n` then relays raw bytes (half-close
// propagated), or `ERR <message>\n` and closes.
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { KubeObject } from './object.ts';
import { badRequest } from './status.ts';

/** SUPPORTED_PROTOCOLS are the subprotocols served, binary first; base64 ones use text frames. */
export const SUPPORTED_PROTOCOLS = [
  'v4.channel.k8s.io',
  'channel.k8s.io',
  'v4.base64.channel.k8s.io',
  'base64.channel.k8s.io',
];

/** SHIM_ANSWER_TIMEOUT_MS bounds how long the shim may take to answer the port line. */
export const SHIM_ANSWER_TIMEOUT_MS = 10_000;
const MAX_SHIM_LINE = 4096;
const HIGH_WATER = 1024 * 1024;

/** shimSocketPath is where the runtime's shim for a pod listens. */
export function shimSocketPath(runDir: string, namespace: string, pod: string): string {
  return join(runDir, 'pods', namespace, pod, 'portforward.sock');
}

/** parsePorts reads `?ports=80,443` (or repeated `ports`), like the kubelet; returns the ports or throws a 400. */
export function parsePorts(values: string[]): number[] {
  const out: number[] = [];
  for (const v of values.flatMap((x) => x.split(','))) {
    const s = v.trim();
    if (s === '') continue;
    if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw badRequest(`unable to parse "${s}" as a port: invalid syntax`);
    if (Number(s) === 0) throw badRequest(`port "${s}" must be > 0`);
    out.push(Number(s));
  }
  if (out.length === 0) throw badRequest('query parameter "port" is required');
  return out;
}

/** chooseProtocol picks the first client-offered protocol we support ('' when the client offered none). */
export function chooseProtocol(offered: Set<string>): string | false {
  if (offered.size === 0) return '';
  for (const p of offered) if (SUPPORTED_PROTOCOLS.includes(p)) return p;
  return false;
}

/** newPortForwardWss makes the WebSocket server used for port-forward upgrades (no compression, kubelet protocol choice). */
export function newPortForwardWss(): WebSocketServer {
  return new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (offered) => {
      const p = chooseProtocol(offered);
      return p === '' ? false : p;
    },
  });
}

/** Logger is the subset of pino the server uses. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** forwardPorts runs one upgraded port-forward session for a pod until every port is done or the client leaves. */
export function forwardPorts(ws: WebSocket, pod: KubeObject, ports: number[], runDir: string, log: Logger): void {
  const base64 = ws.protocol.includes('base64');
  const name = pod.metadata.name!;
  const uid = pod.metadata.uid ?? '';
  const sockPath = shimSocketPath(runDir, pod.metadata.namespace!, name);
  const conns: (Socket | undefined)[] = ports.map(() => undefined);
  const done = ports.map(() => false);
  let closed = false;

  const send = (channel: number, payload: Buffer, cb?: () => void) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(String.fromCharCode(48 + channel) + payload.toString('base64'), cb);
    else ws.send(Buffer.concat([Buffer.from([channel]), payload]), { binary: true }, cb);
  };
  const closeAll = () => {
    if (closed) return;
    closed = true;
    for (const c of conns) c?.destroy();
    if (ws.readyState === ws.OPEN) ws.close(1000);
  };
  const finish = (i: number) => {
    done[i] = true;
    if (done.every(Boolean)) closeAll();
  };
  const fail = (i: number, err: string) => {
    if (done[i]) return;
    releasePending(i);
    log.debug({ pod: name, port: ports[i], err }, 'port-forward failed');
    send(2 * i + 1, Buffer.from(`error forwarding port ${ports[i]} to pod ${name}, uid ${uid}: ${err}`));
    conns[i]?.destroy();
    finish(i);
  };

  ports.forEach((port, i) => {
    const lohi = Buffer.from([port & 0xff, port >> 8]);
    send(2 * i, lohi);
    send(2 * i + 1, lohi);
  });

  // Client data that arrives before the shim's OK waits here; past
  // HIGH_WATER the WebSocket is paused until the shim answers.
  const pending: Buffer[][] = ports.map(() => []);
  const pendingBytes = ports.map(() => 0);
  const ready = ports.map(() => false);
  const releasePending = (i: number) => {
    pending[i] = [];
    if (pendingBytes[i]! > HIGH_WATER) ws.resume();
    pendingBytes[i] = 0;
  };
  ports.forEach((port, i) => {
    const sock = connect(sockPath);
    conns[i] = sock;
    let answered = false;
    let line = Buffer.alloc(0);
    const timer = setTimeout(() => fail(i, 'port-forward shim did not answer'), SHIM_ANSWER_TIMEOUT_MS);
    timer.unref();
    sock.on('connect', () => sock.write(`${port}\n`));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!answered) {
        const why =
          err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
            ? `pod is not running (no port-forward shim at ${sockPath})`
            : `port-forward shim: ${err.message}`;
        fail(i, why);
      } else finish(i);
    });
    sock.on('data', (chunk: Buffer) => {
      if (answered) {
        send(2 * i, chunk, () => {
          if (ws.bufferedAmount < HIGH_WATER / 2 && sock.isPaused()) sock.resume();
        });
        if (ws.bufferedAmount > HIGH_WATER) sock.pause();
        return;
      }
      line = Buffer.concat([line, chunk]);
      const nl = line.indexOf(0x0a);
      if (nl < 0) {
        if (line.length > MAX_SHIM_LINE) fail(i, 'port-forward shim sent a malformed answer');
        return;
      }
      answered = true;
      clearTimeout(timer);
      const answer = line.subarray(0, nl).toString('utf8');
      const rest = line.subarray(nl + 1);
      if (answer === 'OK') {
        ready[i] = true;
        for (const b of pending[i]!) sock.write(b);
        releasePending(i);
        if (rest.length > 0) send(2 * i, rest);
      } else if (answer.startsWith('ERR ')) fail(i, answer.slice(4));
      else fail(i, 'port-forward shim sent a malformed answer');
    });
    sock.on('end', () => {
      // The pod closed its side. v4 has no half-close, so this port is done.
      if (!answered) fail(i, 'port-forward shim closed the connection without answering');
      else finish(i);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (answered) finish(i);
    });
  });

  ws.on('message', (data: RawData, isBinary: boolean) => {
    let buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    let channel: number;
    if (base64 || !isBinary) {
      const text = buf.toString('utf8');
      if (text.length === 0) return;
      channel = text.charCodeAt(0) - 48;
      buf = Buffer.from(text.slice(1), 'base64');
    } else {
      if (buf.length === 0) return;
      channel = buf[0]!;
      buf = buf.subarray(1);
    }
    if (channel % 2 === 1 || channel / 2 >= ports.length || buf.length === 0) return;
    const i = channel / 2;
    const sock = conns[i];
    if (done[i] || !sock) return;
    if (!ready[i]) {
      pending[i]!.push(buf);
      pendingBytes[i]! += buf.length;
      if (pendingBytes[i]! > HIGH_WATER && pendingBytes[i]! - buf.length <= HIGH_WATER) ws.pause();
      return;
    }
    if (!sock.write(buf)) {
      ws.pause();
      sock.once('drain', () => ws.resume());
    }
  });
  ws.on('close', () => {
    closed = true;
    for (const c of conns) c?.destroy();
  });
  ws.on('error', () => {
    closed = true;
    for (const c of conns) c?.destroy();
  });
}
