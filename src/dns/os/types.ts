// The OS resolver integration is one interface with one implementation per
// mode (ARCHITECTURE.md decision 11, after Tailscale's net/dns
// OSConfigurator): systemd-resolved, direct /etc/resolv.conf, macOS
// /etc/resolver files, noop. Implementations receive their file system,
// exec function, journal and logger; nothing is global.
import type { Logger } from 'pino';
import type { UndoJournal } from '../../journal/journal.ts';
import type { DnsEndpoint } from '../forwarder.ts';

/** DnsMode names an OS resolver integration (`devnet connect --dns-mode`). */
export type DnsMode = 'resolved' | 'resolvconf' | 'macos' | 'none';

/** DNS_MODES lists the modes `--dns-mode` accepts besides auto. */
export const DNS_MODES: readonly DnsMode[] = ['resolved', 'resolvconf', 'macos', 'none'];

/** OSConfig is what devnet asks of the system resolver. */
export interface OSConfig {
  /** nameservers are devnet's own DNS server endpoints. */
  nameservers: DnsEndpoint[];
  /** searchDomains are appended to single-label names (the connected namespace's `<ns>.svc.<domain>`). */
  searchDomains: string[];
  /** matchDomains are routed to devnet (split DNS); modes without split DNS send every name to devnet instead. */
  matchDomains: string[];
}

/** BaseConfig is the system's DNS configuration before devnet: where devnet forwards the names it does not own. */
export interface BaseConfig {
  nameservers: DnsEndpoint[];
  searchDomains: string[];
}

/** OSConfigurator installs an OSConfig into the system resolver and takes it out again. */
export interface OSConfigurator {
  readonly mode: DnsMode;
  /** setDNS installs cfg, journaling how to undo it before the first change; calling it again replaces cfg. */
  setDNS(cfg: OSConfig): Promise<void>;
  /** supportsSplitDNS is true when only matchDomains reach devnet; false when every name does (devnet forwards the rest). */
  supportsSplitDNS(): boolean;
  /** getBaseConfig reads the configuration devnet must forward other names to (as it was before setDNS). */
  getBaseConfig(): Promise<BaseConfig>;
  /** close restores what setDNS changed. */
  close(): Promise<void>;
}

/** FileSystem is the subset of node:fs/promises the configurators use (tests pass a temp directory, never /etc). */
export interface FileSystem {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array | string, opts?: { mode?: number }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  realpath(path: string): Promise<string>;
  stat(path: string): Promise<{ mode: number }>;
  chmod(path: string, mode: number): Promise<void>;
  mkdir(path: string, opts: { recursive: true }): Promise<unknown>;
}

/** Exec runs a program (no shell) and resolves with its stdout, or rejects with its stderr. */
export type Exec = (argv: string[]) => Promise<{ stdout: string }>;

/** ConfiguratorDeps are what every configurator is given. */
export interface ConfiguratorDeps {
  fs: FileSystem;
  exec: Exec;
  journal: UndoJournal;
  logger: Logger;
}

/** MARKER starts every file devnet writes, so a leftover is recognised and never taken for the user's. */
export const MARKER = '# Written by devnet';
