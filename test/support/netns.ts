// Network namespaces for tests. Every namespace a test makes is named
// dnt-<pid>-<tag>, deleted by the test's own hooks, on process exit, and
// (for a test process killed outright) by scripts/test.mjs, which sweeps
// namespaces whose pid is gone. Nothing here touches the host's own routes.
import { type ExecFileOptions, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const live = new Set<string>();
let counter = 0;

/** sh runs a program without a shell and returns its stdout; it throws with stderr on failure. */
export async function sh(cmd: string, args: string[], opts: ExecFileOptions = {}): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
    return String(stdout);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Netns is one test network namespace. */
export class Netns {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** create makes a namespace with loopback up. */
  static async create(tag: string): Promise<Netns> {
    const name = `dnt-${process.pid}-${tag}-${counter++}`;
    await sh('ip', ['netns', 'add', name]);
    live.add(name);
    await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return new Netns(name);
  }

  /** exec runs a program inside the namespace. */
  exec(cmd: string, args: string[], opts: ExecFileOptions = {}): Promise<string> {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** ip runs `ip -n NAME ...`. */
  ip(...args: string[]): Promise<string> {
    return sh('ip', ['-n', this.name, ...args]);
  }

  async delete(): Promise<void> {
    if (!live.delete(this.name)) return;
    await sh('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

/** vethPair joins two namespaces with a veth pair, each end given an address (CIDR) and set up. */
export async function vethPair(a: Netns, aAddr: string, b: Netns, bAddr: string, mtu = 65520): Promise<void> {
  await sh('ip', [
    '-n',
    a.name,
    'link',
    'add',
    'veth0',
    'mtu',
    String(mtu),
    'type',
    'veth',
    'peer',
    'name',
    'veth1',
    'netns',
    b.name,
  ]);
  await a.ip('addr', 'add', aAddr, 'dev', 'veth0');
  await b.ip('link', 'set', 'veth1', 'mtu', String(mtu));
  await b.ip('addr', 'add', bAddr, 'dev', 'veth1');
  await a.ip('link', 'set', 'veth0', 'up');
  await b.ip('link', 'set', 'veth1', 'up');
}

/** deleteAllNetns removes every namespace this process created (for after.always hooks). */
export async function deleteAllNetns(): Promise<void> {
  await Promise.all([...live].map((n) => sh('ip', ['netns', 'del', n]).catch(() => undefined)));
  live.clear();
}

process.on('exit', () => {
  for (const n of live) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});
