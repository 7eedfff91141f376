// Chooses and builds the OS resolver integration for this machine: gathers
// the probes (the only place that looks at process.platform and the real
// system), detects the mode, and constructs its configurator.
import { execFile } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import type { DnsProbes } from './detect.ts';
import { MacResolverConfigurator } from './macos.ts';
import { NoopConfigurator } from './noop.ts';
import { ResolvConfConfigurator } from './resolvconf.ts';
import { ResolvedConfigurator } from './resolved.ts';
import type { BaseConfig, ConfiguratorDeps, DnsMode, Exec, FileSystem, OSConfigurator } from './types.ts';

export { type Detected, type DnsProbes, detectMode, parseDnsMode } from './detect.ts';

const execFileP = promisify(execFile);

/** nodeFileSystem is the real file system. */
export const nodeFileSystem: FileSystem = {
  readFile: (p) => fsp.readFile(p),
  writeFile: (p, d, o) => fsp.writeFile(p, d, o),
  rename: (a, b) => fsp.rename(a, b),
  unlink: (p) => fsp.unlink(p),
  realpath: (p) => fsp.realpath(p),
  stat: (p) => fsp.stat(p),
  chmod: (p, m) => fsp.chmod(p, m),
  mkdir: (p, o) => fsp.mkdir(p, o),
};

/** execProgram runs argv without a shell. */
export const execProgram: Exec = async (argv) => {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('empty command');
  try {
    const { stdout } = await execFileP(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return { stdout };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw Object.assign(new Error(`${argv.join(' ')}: ${e.stderr?.trim() || e.message}`), {
      code: (err as NodeJS.ErrnoException).code,
    });
  }
};

/** gatherProbes looks at this machine: its OS, /etc/resolv.conf, and whether systemd-resolved answers. */
export async function gatherProbes(
  deps: { exec: Exec; resolvConfPath?: string } = { exec: execProgram },
): Promise<DnsProbes> {
  const path = deps.resolvConfPath ?? '/etc/resolv.conf';
  const os = process.platform === 'linux' ? 'linux' : process.platform === 'darwin' ? 'darwin' : 'other';
  const symlinkTarget = await fsp.readlink(path).catch(() => undefined);
  const content = await fsp.readFile(path, 'utf8').catch(() => undefined);
  let resolvectl = os === 'linux';
  let resolvedRunning = false;
  if (os === 'linux') {
    try {
      await deps.exec(['resolvectl', 'status']);
      resolvedRunning = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolvectl = false;
    }
  }
  return {
    os,
    resolvConf: {
      exists: content !== undefined,
      ...(symlinkTarget !== undefined ? { symlinkTarget } : {}),
      ...(content !== undefined ? { content } : {}),
    },
    resolvectl,
    resolvedRunning,
  };
}

/** ConfiguratorTargets name what a configurator changes; tests point them at temp files, never the host's. */
export interface ConfiguratorTargets {
  /** link is devnet's TUN, which carries the per-link DNS settings in resolved mode. */
  link: string;
  resolvConfPath?: string;
  resolverDir?: string;
  /** noneUpstreams are where devnet forwards in mode none (defaults to the resolv.conf servers). */
  noneUpstreams?: BaseConfig;
}

/** newConfigurator builds the configurator for a mode. */
export function newConfigurator(mode: DnsMode, deps: ConfiguratorDeps, targets: ConfiguratorTargets): OSConfigurator {
  switch (mode) {
    case 'resolved':
      return new ResolvedConfigurator(deps, targets.link);
    case 'resolvconf':
      return new ResolvConfConfigurator(deps, targets.resolvConfPath);
    case 'macos':
      return new MacResolverConfigurator(deps, targets.resolverDir);
    case 'none':
      return new NoopConfigurator(deps, targets.noneUpstreams);
  }
}
