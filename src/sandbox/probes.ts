// Container probes as the kubelet runs them: httpGet succeeds on a status
// in [200, 400), tcpSocket on an accepted connection, exec on exit code 0;
// each attempt is bounded by timeoutSeconds. Run from inside the pod's
// network namespace against the pod's IP, like the kubelet does.
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Probe } from './pod-plan.ts';

/** runProbe performs one probe attempt and resolves true on success. */
export function runProbe(probe: Probe, podIP: string): Promise<boolean> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds) * 1000;
  const a = probe.action;
  if ('tcpSocket' in a) {
    return new Promise((resolve) => {
      const s = connect({ host: podIP, port: a.tcpSocket.port, timeout: timeoutMs });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(false));
    });
  }
  if ('httpGet' in a) {
    const req = a.httpGet.scheme === 'HTTPS' ? httpsRequest : request;
    return new Promise((resolve) => {
      const r = req(
        {
          host: podIP,
          port: a.httpGet.port,
          path: a.httpGet.path,
          method: 'GET',
          timeout: timeoutMs,
          rejectUnauthorized: false,
          headers: { 'user-agent': 'kube-probe/1.32', accept: '*/*' },
        },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        },
      );
      r.once('timeout', () => r.destroy());
      r.once('error', () => resolve(false));
      r.end();
    });
  }
  return new Promise((resolve) => {
    const [cmd, ...args] = a.exec.command;
    if (!cmd) {
      resolve(false);
      return;
    }
    execFile(cmd, args, { timeout: timeoutMs }, (err) => resolve(!err));
  });
}

/** ProbeLoop runs a probe periodically and tracks the success/failure thresholds. */
export class ProbeLoop {
  readonly #probe: Probe;
  readonly #podIP: string;
  readonly #onChange: (ok: boolean) => void;
  #timer: NodeJS.Timeout | undefined;
  #successes = 0;
  #failures = 0;
  #ok: boolean | undefined;
  #stopped = false;
  readonly #eager: boolean;

  /** constructor takes the probe, the pod IP, a callback for each change of the verdict, and whether to retry fast until the first success (readiness). */
  constructor(probe: Probe, podIP: string, onChange: (ok: boolean) => void, eager = false) {
    this.#probe = probe;
    this.#podIP = podIP;
    this.#onChange = onChange;
    this.#eager = eager;
  }

  /** start begins probing after initialDelaySeconds. */
  start(): void {
    this.#timer = setTimeout(() => this.#tick(), this.#probe.initialDelaySeconds * 1000);
  }

  /** stop ends probing. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    const ok = await runProbe(this.#probe, this.#podIP);
    if (this.#stopped) return;
    if (ok) {
      this.#failures = 0;
      this.#successes++;
      if (this.#ok !== true && this.#successes >= this.#probe.successThreshold) this.#set(true);
    } else {
      this.#successes = 0;
      this.#failures++;
      if (this.#ok !== false && this.#failures >= this.#probe.failureThreshold) this.#set(false);
    }
    // Until its first success a readiness probe retries fast, so a pod becomes Ready promptly.
    const period = this.#probe.periodSeconds * 1000;
    const delay = this.#eager && this.#ok !== true ? Math.min(200, period) : period;
    this.#timer = setTimeout(() => this.#tick(), delay);
  }

  #set(ok: boolean): void {
    this.#ok = ok;
    this.#onChange(ok);
  }
}
