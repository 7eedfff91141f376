// The pod's resolver configuration, read from its /etc/resolv.conf
// (resolv.conf(5)): nameservers, search list, ndots, timeout, attempts.
// Kubernetes writes e.g. "search ns.svc.cluster.local svc.cluster.local
// cluster.local" and "options ndots:5".

/** ResolvConf is the part of resolv.conf the gateway applies. */
export interface ResolvConf {
  nameservers: string[];
  search: string[];
  ndots: number;
  timeoutMs: number;
  attempts: number;
}

/** parseResolvConf parses resolv.conf text; unknown lines are ignored, like the C library does. */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], ndots: 1, timeoutMs: 5000, attempts: 2 };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [key, ...args] = line.split(/\s+/);
    if (key === 'nameserver' && args[0] && conf.nameservers.length < 3) {
      conf.nameservers.push(args[0].replace(/%.*$/, ''));
    } else if (key === 'search' || key === 'domain') {
      conf.search = args.map((d) => d.replace(/\.$/, '')).filter((d) => d.length > 0);
    } else if (key === 'options') {
      for (const opt of args) {
        const [name, value] = opt.split(':');
        const n = Number(value);
        if (name === 'ndots' && Number.isInteger(n) && n >= 0) conf.ndots = Math.min(n, 15);
        if (name === 'timeout' && Number.isInteger(n) && n > 0) conf.timeoutMs = Math.min(n, 30) * 1000;
        if (name === 'attempts' && Number.isInteger(n) && n > 0) conf.attempts = Math.min(n, 5);
      }
    }
  }
  return conf;
}

/** searchCandidates lists the names to try for `name`, in the order a pod's resolver tries them. */
export function searchCandidates(name: string, conf: Pick<ResolvConf, 'search' | 'ndots'>): string[] {
  if (name.endsWith('.') || name === '') return [name.replace(/\.$/, '')];
  const dots = name.split('.').length - 1;
  const expanded = conf.search.map((d) => `${name}.${d}`);
  return dots >= conf.ndots ? [name, ...expanded] : [...expanded, name];
}
