// Which of a Service's ports an intercept takes: `--port LOCAL[:SVCPORT]`,
// repeatable, SVCPORT a port number or a port's name. Pure: the Service's
// ports come in resolved (reconcile.resolveTargetPorts).
import { DevnetError } from '../errors.ts';
import type { InterceptPort } from './model.ts';

/** PortSpec is one parsed --port value. */
export interface PortSpec {
  local: number;
  /** service is the Service port's number or name; undefined: the Service's only port. */
  service: number | string | undefined;
}

/** ServicePort is a Service port with its numeric container port. */
export interface ServicePort {
  name?: string;
  port: number;
  targetPort: number;
}

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** parsePortSpec parses LOCAL[:SVCPORT], SVCPORT being a number or an IANA_SVC_NAME (RFC 6335 §5.1). */
export function parsePortSpec(spec: string): PortSpec {
  const m = /^(\d{1,5})(?::(\d{1,5}|[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?))?$/.exec(spec);
  const local = Number(m?.[1]);
  const raw = m?.[2];
  const service = raw === undefined ? undefined : /^\d+$/.test(raw) ? Number(raw) : raw;
  if (!m || !isPort(local) || (typeof service === 'number' && !isPort(service)))
    throw new DevnetError('user', `--port "${spec}" is not LOCAL[:SVCPORT]`, {
      hint: 'e.g. --port 8080, --port 8080:80 or --port 8080:http (repeat --port for several ports)',
    });
  return { local, service };
}

function describe(p: ServicePort): string {
  return p.name ? `${p.port} (${p.name})` : String(p.port);
}

/**
 * choosePorts maps each --port to a Service port. A spec without SVCPORT
 * needs a Service with one port; a Service port may be taken once.
 */
export function choosePorts(service: string, specs: PortSpec[], ports: ServicePort[]): InterceptPort[] {
  const list = ports.map(describe).join(', ') || 'none';
  if (specs.length === 0) throw new DevnetError('user', 'give at least one --port LOCAL[:SVCPORT]');
  const out: InterceptPort[] = [];
  for (const s of specs) {
    let chosen: ServicePort | undefined;
    if (s.service === undefined) {
      if (ports.length > 1)
        throw new DevnetError('user', `Service ${service} has several ports (${list})`, {
          hint: `Say which: --port ${s.local}:SVCPORT (a number or a name); repeat --port to take several.`,
        });
      chosen = ports[0];
    } else chosen = ports.find((p) => (typeof s.service === 'number' ? p.port : p.name) === s.service);
    if (!chosen)
      throw new DevnetError('user', `Service ${service} has no port ${s.service ?? ''}`.trim(), {
        hint: `Its ports: ${list}.`,
      });
    const port = chosen.port;
    if (out.some((o) => o.servicePort === port))
      throw new DevnetError('user', `--port names Service port ${describe(chosen)} twice`);
    out.push({ servicePort: port, targetPort: chosen.targetPort, local: s.local });
  }
  return out;
}
