// macOS mode: one /etc/resolver/<domain> file per routing domain (resolver(5)),
// naming devnet's server and port. A file devnet did not write is never
// overwritten (the user's own split-DNS config wins, with a warning). Each
// file's absence is journaled before it is created, so undo deletes it.
// Programs with their own resolver (Go's pure resolver, the JVM) ignore these
// files on macOS (telepresence#2682); see docs/dns.md.
import { compileMacResolverFiles } from './compile.ts';
import {
  type BaseConfig,
  type ConfiguratorDeps,
  type DnsMode,
  MARKER,
  type OSConfig,
  type OSConfigurator,
} from './types.ts';
import { readFileOrNull, writeFileReplacing } from './undo.ts';

/** MacResolverConfigurator is macOS /etc/resolver mode; dir is injectable for tests. */
export class MacResolverConfigurator implements OSConfigurator {
  readonly mode: DnsMode = 'macos';
  readonly #deps: ConfiguratorDeps;
  readonly #dir: string;
  readonly #ours = new Set<string>();

  constructor(deps: ConfiguratorDeps, dir = '/etc/resolver') {
    this.#deps = deps;
    this.#dir = dir;
  }

  supportsSplitDNS(): boolean {
    return true;
  }

  async getBaseConfig(): Promise<BaseConfig> {
    // Only routed domains reach devnet; scutil's resolvers answer the rest.
    return { nameservers: [], searchDomains: [] };
  }

  async setDNS(cfg: OSConfig): Promise<void> {
    const { fs, journal, logger } = this.#deps;
    const files = compileMacResolverFiles(this.#dir, cfg);
    await fs.mkdir(this.#dir, { recursive: true });
    for (const [path, body] of files) {
      if (!this.#ours.has(path)) {
        const existing = await readFileOrNull(fs, path);
        if (existing !== null && !new TextDecoder().decode(existing).startsWith(MARKER)) {
          logger.warn({ path }, 'DNS: keeping an existing resolver file devnet did not write');
          continue;
        }
        await journal.record({ kind: 'restore-file', path, contentBase64: null });
        this.#ours.add(path);
      }
      await writeFileReplacing(fs, path, body, 0o644);
    }
    for (const path of [...this.#ours]) {
      if (files.has(path)) continue;
      await fs.unlink(path).catch(() => undefined);
      this.#ours.delete(path);
    }
  }

  async close(): Promise<void> {
    for (const path of this.#ours) await this.#deps.fs.unlink(path).catch(() => undefined);
    this.#ours.clear();
  }
}
