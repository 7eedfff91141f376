// Direct mode: devnet rewrites /etc/resolv.conf to name only its own server,
// answers cluster names and forwards every other name, unchanged, to the
// servers the file named before (saved in getBaseConfig). The original is
// journaled (bytes and mode) before the first write and restored byte for
// byte by close(). A symlinked resolv.conf keeps its symlink: devnet writes
// the file it points to.
import { DevnetError } from '../../errors.ts';
import { baseConfigFromResolvConf, compileResolvConf, parseResolvConf } from './compile.ts';
import type { BaseConfig, ConfiguratorDeps, DnsMode, OSConfig, OSConfigurator } from './types.ts';
import { readFileOrNull, writeFileReplacing } from './undo.ts';

interface Original {
  realPath: string;
  bytes: Uint8Array | null;
  mode: number;
}

/** ResolvConfConfigurator is direct /etc/resolv.conf mode; path is injectable so tests never touch the host's file. */
export class ResolvConfConfigurator implements OSConfigurator {
  readonly mode: DnsMode = 'resolvconf';
  readonly #deps: ConfiguratorDeps;
  readonly #path: string;
  #original: Original | undefined;
  /** #written is what devnet last wrote, to tell its own file from one another program wrote since. */
  #written: string | undefined;
  #nameservers: OSConfig['nameservers'] = [];

  constructor(deps: ConfiguratorDeps, path = '/etc/resolv.conf') {
    this.#deps = deps;
    this.#path = path;
  }

  supportsSplitDNS(): boolean {
    return false;
  }

  async #readOriginal(): Promise<Original> {
    const { fs } = this.#deps;
    const realPath = await fs.realpath(this.#path).catch(() => this.#path);
    const bytes = await readFileOrNull(fs, realPath);
    const mode = bytes === null ? 0o644 : (await fs.stat(realPath)).mode & 0o7777;
    return { realPath, bytes, mode };
  }

  async getBaseConfig(): Promise<BaseConfig> {
    const o = this.#original ?? (await this.#readOriginal());
    return baseConfigFromResolvConf(
      parseResolvConf(new TextDecoder().decode(o.bytes ?? new Uint8Array())),
      this.#nameservers,
    );
  }

  async setDNS(cfg: OSConfig): Promise<void> {
    this.#nameservers = cfg.nameservers;
    if (!this.#original) {
      const o = await this.#readOriginal();
      if (o.bytes && parseResolvConf(new TextDecoder().decode(o.bytes)).writtenByDevnet)
        throw new DevnetError('config', `${this.#path} was left changed by an earlier devnet run`, {
          hint: 'run `devnet quit` to replay the undo journal, or restore the file by hand',
        });
      await this.#deps.journal.record({
        kind: 'restore-file',
        path: o.realPath,
        contentBase64: o.bytes === null ? null : Buffer.from(o.bytes).toString('base64'),
        mode: o.mode,
      });
      this.#original = o;
    }
    const o = this.#original;
    const text = compileResolvConf(parseResolvConf(new TextDecoder().decode(o.bytes ?? new Uint8Array())), cfg);
    await writeFileReplacing(this.#deps.fs, o.realPath, text, o.mode);
    this.#written = text;
    this.#deps.logger.info({ path: o.realPath }, 'DNS: resolv.conf now points at devnet');
  }

  /**
   * close restores the original — unless another program (a VPN client,
   * NetworkManager, DHCP) rewrote the file while devnet was connected: its
   * newer file is the machine's current truth and is left alone
   * (telepresence#2165 is the opposite mistake).
   */
  async close(): Promise<void> {
    const o = this.#original;
    if (!o) return;
    this.#original = undefined;
    const current = await readFileOrNull(this.#deps.fs, o.realPath);
    if (current !== null && this.#written !== undefined && new TextDecoder().decode(current) !== this.#written) {
      this.#deps.logger.warn(
        { path: o.realPath },
        'DNS: resolv.conf was rewritten by another program while devnet was connected; leaving that version in place',
      );
      return;
    }
    if (o.bytes === null) await this.#deps.fs.unlink(o.realPath).catch(() => undefined);
    else await writeFileReplacing(this.#deps.fs, o.realPath, o.bytes, o.mode);
    this.#deps.logger.info({ path: o.realPath }, 'DNS: resolv.conf restored');
  }
}
