// kube-proxy for the sandbox: ClusterIP:port DNATs to the ready endpoints
// of each Service, in nftables, in the node namespace (which every pod's
// traffic crosses). The whole table is recompiled from API state and
// swapped atomically with one `nft -f` transaction.
//
// A ClusterIP port without ready endpoints gets no rule: the node
// namespace routes all of 10.96.0.0/12 as local (setupHost), so such
// traffic reaches the node itself and a TCP connect is refused at once,
// as with kube-proxy's reject rules. Cluster DNS listens on 10.96.0.10 in
// the node namespace the same way. A pod reaching its own Service is
// masqueraded (hairpin), so replies come back through the node.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { Exec } from './exec.ts';

/** PROXY_TABLE is the nftables table kube-proxy owns in the node namespace. */
export const PROXY_TABLE = 'devnet-kube-proxy';
const MASQ_MARK = '0x4000';

/** ServiceRule is one ClusterIP port and where it goes. */
export interface ServiceRule {
  /** id names the rule's chains (namespace/name:port), for readability in `nft list`. */
  id: string;
  clusterIP: string;
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  endpoints: { ip: string; port: number }[];
}

/** serviceRules derives the DNAT rules from Services and their EndpointSlices (ready endpoints only). */
export function serviceRules(services: V1Service[], slices: V1EndpointSlice[]): ServiceRule[] {
  const rules: ServiceRule[] = [];
  for (const svc of services) {
    const spec = svc.spec;
    const ip = spec?.clusterIP;
    if (!spec || !ip || ip === 'None' || spec.type === 'ExternalName') continue;
    const ns = svc.metadata?.namespace;
    const name = svc.metadata?.name;
    const mine = slices.filter(
      (s) =>
        s.metadata?.namespace === ns &&
        s.metadata?.labels?.['kubernetes.io/service-name'] === name &&
        s.addressType === 'IPv4',
    );
    for (const sp of spec.ports ?? []) {
      const protocol = (sp.protocol ?? 'TCP').toLowerCase() as ServiceRule['protocol'];
      const endpoints: ServiceRule['endpoints'] = [];
      for (const slice of mine) {
        const port = slice.ports?.find(
          (p) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === (sp.protocol ?? 'TCP'),
        );
        if (!port?.port) continue;
        for (const ep of slice.endpoints ?? []) {
          if (ep.conditions?.ready === false) continue;
          for (const a of ep.addresses ?? []) endpoints.push({ ip: a, port: port.port });
        }
      }
      endpoints.sort((a, b) => a.ip.localeCompare(b.ip) || a.port - b.port);
      rules.push({ id: `${ns}/${name}:${sp.name || sp.port}`, clusterIP: ip, port: sp.port, protocol, endpoints });
    }
  }
  return rules.sort((a, b) => a.id.localeCompare(b.id) || a.protocol.localeCompare(b.protocol));
}

/** compileRuleset renders the kube-proxy table as an nft script that atomically replaces the previous one. */
export function compileRuleset(rules: ServiceRule[]): string {
  const out: string[] = [];
  const t = PROXY_TABLE;
  out.push(`table ip ${t}`, `delete table ip ${t}`, `table ip ${t} {`);
  out.push(
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    jump services',
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    '    jump services',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    meta mark & ${MASQ_MARK} == ${MASQ_MARK} masquerade`,
    '  }',
  );
  const services: string[] = [];
  const chains: string[] = [];
  rules.forEach((r, i) => {
    if (r.endpoints.length === 0) return;
    const svcChain = `svc-${i}`;
    services.push(
      `    ip daddr ${r.clusterIP} ${r.protocol} dport ${r.port} jump ${svcChain} comment "${r.id}/${r.protocol}"`,
    );
    const eps = r.endpoints.map((ep, j) => {
      const epChain = `svc-${i}-ep-${j}`;
      chains.push(
        `  chain ${epChain} {`,
        `    ip saddr ${ep.ip} meta mark set meta mark | ${MASQ_MARK}`,
        `    meta l4proto ${r.protocol} dnat to ${ep.ip}:${ep.port}`,
        '  }',
      );
      return epChain;
    });
    if (eps.length === 1) {
      chains.push(`  chain ${svcChain} {`, `    jump ${eps[0]}`, '  }');
    } else {
      const vmap = eps.map((c, j) => `${j} : jump ${c}`).join(', ');
      chains.push(`  chain ${svcChain} {`, `    numgen random mod ${eps.length} vmap { ${vmap} }`, '  }');
    }
  });
  out.push('  chain services {', ...services, '  }', ...chains, '}', '');
  return out.join('\n');
}

/** KubeProxy applies rulesets in a network namespace, skipping unchanged ones. */
export class KubeProxy {
  readonly #netns: string;
  readonly #exec: Exec;
  #applied = '';

  constructor(netns: string, exec: Exec) {
    this.#netns = netns;
    this.#exec = exec;
  }

  /** sync compiles and applies the ruleset for the given state. */
  async sync(services: V1Service[], slices: V1EndpointSlice[]): Promise<void> {
    const script = compileRuleset(serviceRules(services, slices));
    if (script === this.#applied) return;
    await this.#exec('ip', ['netns', 'exec', this.#netns, '/usr/sbin/nft', '-f', '-'], script);
    this.#applied = script;
  }
}
