// systemd-resolved mode: per-link DNS on devnet's TUN with `~domain` routing
// domains and no default route, so only cluster names reach devnet and every
// other name keeps its usual path (systemd-resolved.service(8)). Changes go
// through resolvectl; the undo step, journaled first, is `resolvectl revert
// LINK`, which drops every per-link setting (and the link's own deletion
// drops them too).
import { compileResolvedCommands, parseResolvectlDns } from './compile.ts';
import type { BaseConfig, ConfiguratorDeps, DnsMode, OSConfig, OSConfigurator } from './types.ts';

/** ResolvedConfigurator is systemd-resolved mode on one link (devnet's TUN). */
export class ResolvedConfigurator implements OSConfigurator {
  readonly mode: DnsMode = 'resolved';
  readonly #deps: ConfiguratorDeps;
  readonly #link: string;
  #journaled = false;

  constructor(deps: ConfiguratorDeps, link: string) {
    this.#deps = deps;
    this.#link = link;
  }

  supportsSplitDNS(): boolean {
    return true;
  }

  async getBaseConfig(): Promise<BaseConfig> {
    const { stdout } = await this.#deps.exec(['resolvectl', 'dns']);
    const { stdout: domains } = await this.#deps.exec(['resolvectl', 'domain']);
    const search = new Set<string>();
    for (const line of domains.split('\n')) {
      const m = /^(Global|Link \d+ \(([^)]+)\)):\s*(.*)$/.exec(line.trim());
      if (!m || m[2] === this.#link) continue;
      for (const d of (m[3] ?? '').split(/\s+/)) if (d && !d.startsWith('~')) search.add(d);
    }
    return { nameservers: parseResolvectlDns(stdout, this.#link), searchDomains: [...search] };
  }

  async setDNS(cfg: OSConfig): Promise<void> {
    if (!this.#journaled) {
      await this.#deps.journal.record({
        kind: 'run',
        argv: ['resolvectl', 'revert', this.#link],
        description: `drop devnet's DNS settings from link ${this.#link}`,
        // Exit 1 is what resolvectl returns when the link or resolved itself is
        // gone (after a crash the TUN usually is): then the per-link state is gone too.
        okExitCodes: [0, 1],
      });
      this.#journaled = true;
    }
    for (const argv of compileResolvedCommands(this.#link, cfg)) await this.#deps.exec(argv);
    this.#deps.logger.info(
      { link: this.#link, domains: cfg.matchDomains.length },
      'DNS: systemd-resolved routes cluster names to devnet',
    );
  }

  async close(): Promise<void> {
    if (!this.#journaled) return;
    await this.#deps.exec(['resolvectl', 'revert', this.#link]);
    this.#journaled = false;
  }
}
