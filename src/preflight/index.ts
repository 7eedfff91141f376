// Applying the preflight plan (plan.ts): on Debian and Ubuntu, as root,
// devnet installs what is missing itself (apt-get, --no-install-recommends,
// saying what and why) and builds the TUN addon when no prebuilt one fits;
// anywhere else it names every missing tool with the exact install command
// and stops before changing anything.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { DevnetError } from '../errors.ts';
import { instructions, type Plan, type Probes, planPreflight, type Use } from './plan.ts';

/** SYSTEM_DIRS are searched besides PATH: sudo and non-root shells often leave the sbin folders out. */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** findTool looks for an executable file on PATH and in the system folders, skipping node_modules/.bin (npm puts an unrelated `nft` there). */
export function findTool(tool: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), ...SYSTEM_DIRS].filter((d) => d && !d.split(sep).includes('node_modules'));
  for (const dir of dirs) {
    const file = join(dir, tool);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readOsRelease(): string {
  for (const f of ['/etc/os-release', '/usr/lib/os-release']) {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      // next
    }
  }
  return '';
}

/** addonLoads reports whether the TUN addon loads (prebuilt or built here). */
async function addonLoads(): Promise<boolean> {
  try {
    const { loadAddon } = await import('../tun/addon.ts');
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

/** systemProbes are the real probes of this machine. */
export async function systemProbes(): Promise<Probes> {
  return {
    has: (tool) => findTool(tool) !== undefined,
    osRelease: readOsRelease(),
    root: process.getuid?.() === 0,
    addonLoads: await addonLoads(),
  };
}

/** PreflightDeps are what the preflight acts through. */
export interface PreflightDeps {
  probe(): Promise<Probes>;
  /** run executes a command with the terminal attached and resolves with its exit code. */
  run(argv: string[], env?: NodeJS.ProcessEnv): Promise<number>;
  /** buildAddon compiles the TUN addon and resolves whether it now loads. */
  buildAddon(): Promise<boolean>;
  print(line: string): void;
}

function runAttached(argv: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
    });
    child.on('error', () => resolve(127));
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

/** PACKAGE_ROOT holds scripts/build-native.mjs (src/ and dist/ both sit one level below it). */
const PACKAGE_ROOT = new URL('../..', import.meta.url);

/** systemDeps act on this machine. */
export const systemDeps: PreflightDeps = {
  probe: systemProbes,
  run: runAttached,
  buildAddon: async () => {
    const script = new URL('scripts/build-native.mjs', PACKAGE_ROOT).pathname;
    const code = await runAttached([process.execPath, script], {
      npm_config_build_from_source: 'true',
      DEVNET_REQUIRE_ADDON: '1',
    });
    return code === 0;
  },
  print: (line) => process.stderr.write(`${line}\n`),
};

/**
 * preflight makes sure the tools for a use are there. With install (the
 * demo, `devnet preflight`), root on Debian/Ubuntu installs them; otherwise,
 * or elsewhere, it throws one error naming each missing tool and the exact
 * command, having changed nothing.
 */
export async function preflight(use: Use, deps: PreflightDeps, opts: { install: boolean }): Promise<Plan> {
  const plan = planPreflight(use, await deps.probe());
  if (plan.action === 'ok') return plan;
  if (plan.action === 'instruct' || !opts.install) {
    if (plan.missing.length === 0) {
      throw new DevnetError('config', "devnet's TUN addon is not built for this machine", {
        hint: 'Run `sudo devnet preflight`, which builds it, or `npm rebuild devnet` (python3, make and g++ needed).',
      });
    }
    const { message, hint } = instructions(plan);
    throw new DevnetError('config', message, {
      hint: plan.action === 'install' ? `${hint} \`sudo devnet preflight --for ${use}\` installs them for you.` : hint,
    });
  }
  if (plan.install) {
    const why = [...new Set(plan.missing.map((r) => r.tool))].join(', ');
    deps.print(`devnet: installing ${plan.packages.join(' ')} (for ${why}): ${plan.install.join(' ')}`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    const updated = await deps.run(['apt-get', 'update', '-qq'], env);
    const code = updated === 0 ? await deps.run(plan.install, env) : updated;
    if (code !== 0) {
      throw new DevnetError('config', `installing ${plan.packages.join(' ')} failed (apt-get exited with ${code})`, {
        hint: `See apt-get's messages above, fix them, and run \`${plan.install.join(' ')}\` yourself.`,
      });
    }
    const after = planPreflight(use, await deps.probe());
    if (after.missing.length > 0) {
      throw new DevnetError('config', `still missing after apt-get: ${after.missing.map((r) => r.tool).join(', ')}`, {
        hint: `Check that ${after.packages.join(' ')} installed them (\`dpkg -L PACKAGE\`).`,
      });
    }
  }
  if (plan.buildAddon) {
    deps.print(`devnet: building the TUN addon from source (no prebuilt one fits ${process.platform}-${process.arch})`);
    if (!(await deps.buildAddon())) {
      throw new DevnetError('config', 'building the TUN addon failed', {
        hint: 'See the compiler messages above; python3, make and g++ are needed.',
      });
    }
  }
  return plan;
}
