// None mode: devnet's DNS server runs but the system resolver is left alone.
// The user points whatever they like at the server (`dig @addr`, a
// container's --dns); setDNS only logs what it would have routed.
import type { BaseConfig, ConfiguratorDeps, DnsMode, OSConfig, OSConfigurator } from './types.ts';

/** NoopConfigurator changes nothing. */
export class NoopConfigurator implements OSConfigurator {
  readonly mode: DnsMode = 'none';
  readonly #deps: Pick<ConfiguratorDeps, 'logger'>;
  readonly #upstreams: BaseConfig;

  /** upstreams are where devnet forwards non-cluster names it is asked directly (usually the resolv.conf servers). */
  constructor(deps: Pick<ConfiguratorDeps, 'logger'>, upstreams: BaseConfig = { nameservers: [], searchDomains: [] }) {
    this.#deps = deps;
    this.#upstreams = upstreams;
  }

  supportsSplitDNS(): boolean {
    return false;
  }

  async getBaseConfig(): Promise<BaseConfig> {
    return this.#upstreams;
  }

  async setDNS(cfg: OSConfig): Promise<void> {
    this.#deps.logger.info(
      { nameservers: cfg.nameservers, searchDomains: cfg.searchDomains },
      'DNS: --dns-mode none: the system resolver is unchanged; query devnet directly',
    );
  }

  async close(): Promise<void> {}
}
