// Choosing the OS resolver integration. detectMode is a pure function of
// probes gathered elsewhere (gatherProbes in index.ts), after Tailscale's
// net/dns manager_linux.go: it is table-tested with fake environments.
import { DevnetError } from '../../errors.ts';
import type { DnsMode } from './types.ts';

/** DnsProbes is what detection looks at. */
export interface DnsProbes {
  os: 'linux' | 'darwin' | 'other';
  resolvConf: {
    exists: boolean;
    /** symlinkTarget is where /etc/resolv.conf points, if it is a symlink. */
    symlinkTarget?: string;
    content?: string;
  };
  /** resolvectl is true when the resolvectl program exists. */
  resolvectl: boolean;
  /** resolvedRunning is true when systemd-resolved answers (`resolvectl status` succeeds). */
  resolvedRunning: boolean;
}

/** Detected is the chosen mode and why, shown by `devnet status`. */
export interface Detected {
  mode: DnsMode;
  reason: string;
}

const STUB = /^nameserver\s+127\.0\.0\.53\s*$/m;

function resolvConfUsesResolved(p: DnsProbes): boolean {
  const t = p.resolvConf.symlinkTarget ?? '';
  return /\/run\/systemd\/resolve\//.test(t) || STUB.test(p.resolvConf.content ?? '');
}

/** detectMode picks the mode for `--dns-mode requested`; an explicit mode that cannot work is a config error. */
export function detectMode(requested: DnsMode | 'auto', p: DnsProbes): Detected {
  const usesResolved = resolvConfUsesResolved(p);
  switch (requested) {
    case 'none':
      return { mode: 'none', reason: 'requested with --dns-mode none' };
    case 'macos':
      if (p.os !== 'darwin') throw new DevnetError('user', '--dns-mode macos works only on macOS');
      return { mode: 'macos', reason: 'requested with --dns-mode macos' };
    case 'resolved':
      if (p.os !== 'linux') throw new DevnetError('user', '--dns-mode resolved works only on Linux');
      if (!p.resolvectl || !p.resolvedRunning)
        throw new DevnetError('config', 'systemd-resolved is not running here', {
          hint: 'use --dns-mode resolvconf, or start systemd-resolved',
        });
      return {
        mode: 'resolved',
        reason: usesResolved
          ? 'requested with --dns-mode resolved'
          : 'requested with --dns-mode resolved (note: /etc/resolv.conf does not point at systemd-resolved, so programs that read it will not see cluster names)',
      };
    case 'resolvconf':
      if (p.os !== 'linux') throw new DevnetError('user', '--dns-mode resolvconf works only on Linux');
      return { mode: 'resolvconf', reason: 'requested with --dns-mode resolvconf' };
    case 'auto':
      break;
  }
  if (p.os === 'darwin') return { mode: 'macos', reason: 'macOS: /etc/resolver files' };
  if (p.os !== 'linux') return { mode: 'none', reason: 'no resolver integration for this OS' };
  if (usesResolved && p.resolvedRunning && p.resolvectl)
    return { mode: 'resolved', reason: '/etc/resolv.conf points at systemd-resolved, which is running' };
  if (usesResolved && !p.resolvedRunning)
    return {
      mode: 'resolvconf',
      reason: '/etc/resolv.conf names systemd-resolved, but it is not running: devnet edits resolv.conf directly',
    };
  if (usesResolved && !p.resolvectl)
    return { mode: 'resolvconf', reason: 'systemd-resolved runs but resolvectl is missing: devnet edits resolv.conf' };
  if (p.resolvedRunning)
    return {
      mode: 'resolvconf',
      reason: 'systemd-resolved runs but /etc/resolv.conf does not use it: programs read the file, so devnet edits it',
    };
  return {
    mode: 'resolvconf',
    reason: p.resolvConf.exists ? '/etc/resolv.conf is a plain file' : 'no /etc/resolv.conf: devnet creates one',
  };
}

/** parseDnsMode checks a `--dns-mode` value. */
export function parseDnsMode(value: string): DnsMode | 'auto' {
  if (value === 'auto' || value === 'resolved' || value === 'resolvconf' || value === 'macos' || value === 'none')
    return value;
  throw new DevnetError('user', `unknown DNS mode ${JSON.stringify(value)}`, {
    hint: 'use one of auto, resolved, resolvconf, macos, none',
  });
}
