// The pods/log subresource (`kubectl logs [-f] [--tail N]`), served from the
// output file the sandbox's kubelet keeps per pod:
// `${runDir}/pods/${namespace}/${pod}/pod.log` (all of the pod's containers
// share it). Errors are worded like the kubelet's.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { KubeObject } from './object.ts';
import { badRequest } from './status.ts';

/** FOLLOW_POLL_MS is how often a followed log is checked for new output. */
export const FOLLOW_POLL_MS = 250;
/** MAX_LOG_READ is the most a single (non-follow) answer returns without limitBytes. */
export const MAX_LOG_READ = 16 * 1024 * 1024;

/** podLogPath is where the kubelet writes a pod's output. */
export function podLogPath(runDir: string, namespace: string, pod: string): string {
  return join(runDir, 'pods', namespace, pod, 'pod.log');
}

/** LogOptions are the query parameters of a log request. */
export interface LogOptions {
  container: string | null;
  follow: boolean;
  tailLines: number | undefined;
  limitBytes: number | undefined;
}

/** checkContainer resolves the container a log request is for, or throws the kubelet's 400. */
export function checkContainer(pod: KubeObject, container: string | null): string {
  const names: string[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map(
    (c: { name: string }) => c.name,
  );
  const name = pod.metadata.name;
  if (container) {
    if (!names.includes(container)) throw badRequest(`container ${container} is not valid for pod ${name}`);
    return container;
  }
  const main = (pod.spec?.containers ?? []).map((c: { name: string }) => c.name);
  const preferred = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (preferred && main.includes(preferred)) return preferred;
  if (main.length !== 1)
    throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${main.join(' ')}]`);
  return main[0]!;
}

function readRange(path: string, start: number, end: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, end - start));
    const n = readSync(fd, buf, 0, buf.length, start);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** lastLinesStart finds the byte offset where the last n lines of a file begin. */
function lastLinesStart(path: string, size: number, n: number): number {
  if (n <= 0) return size;
  const CHUNK = 64 * 1024;
  let pos = size;
  let newlines = 0;
  // A trailing newline ends the last line; it does not start a new one.
  let skipFinal = size > 0 && readRange(path, size - 1, size)[0] === 0x0a;
  while (pos > 0) {
    const from = Math.max(0, pos - CHUNK);
    const buf = readRange(path, from, pos);
    for (let i = buf.length - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) continue;
      if (skipFinal) {
        skipFinal = false;
        continue;
      }
      if (++newlines === n) return from + i + 1;
    }
    pos = from;
  }
  return 0;
}

/** servePodLog answers a log request; with follow it streams new output until the client leaves or stillRunning() turns false. */
export function servePodLog(
  res: ServerResponse,
  pod: KubeObject,
  runDir: string,
  opts: LogOptions,
  stillRunning: () => boolean,
): void {
  const container = checkContainer(pod, opts.container);
  const path = podLogPath(runDir, pod.metadata.namespace!, pod.metadata.name!);
  if (!existsSync(path))
    throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`);
  const size = statSync(path).size;
  let start = opts.tailLines === undefined ? 0 : lastLinesStart(path, size, opts.tailLines);
  let budget = opts.limitBytes ?? (opts.follow ? Number.POSITIVE_INFINITY : MAX_LOG_READ);
  if (!opts.follow) start = Math.max(start, size - budget);
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  let offset = start;
  const pump = (): boolean => {
    let end: number;
    try {
      end = statSync(path).size;
    } catch {
      return false;
    }
    if (end < offset) offset = 0; // truncated or replaced
    end = Math.min(end, offset + budget);
    if (end > offset) {
      const chunk = readRange(path, offset, end);
      offset += chunk.length;
      budget -= chunk.length;
      res.write(chunk);
    }
    return budget > 0;
  };
  const more = pump();
  if (!opts.follow || !more) {
    res.end();
    return;
  }
  const timer = setInterval(() => {
    if (!pump() || !stillRunning()) {
      clearInterval(timer);
      res.end();
    }
  }, FOLLOW_POLL_MS);
  res.on('close', () => clearInterval(timer));
}
