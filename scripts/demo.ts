// The quick start (`sudo npm run demo`): bring up the local sandbox cluster,
// connect devnet to it, and show the laptop using the cluster's network —
// a Service by name and by ClusterIP, a pod IP, TCP and UDP echo, and a
// StatefulSet pod's DNS name — with the figures measured on the way.
// Leaves devnet connected so you can try it yourself; `--cleanup` quits
// and takes the sandbox down again (the test suite runs it that way).
// It starts with `devnet preflight`: on a fresh Debian or Ubuntu machine it
// installs the system tools the demo needs (elsewhere it names them, with
// the command, and stops before changing anything).
import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { cleanup: { type: 'boolean' } } });
const root = resolve(import.meta.dirname, '..');
const bin = resolve(root, 'bin/devnet.mjs');

function run(
  cmd: string,
  args: string[],
  input?: string,
  attached = false,
): Promise<{ code: number; out: string; ms: number }> {
  const t0 = performance.now();
  if (attached) {
    // The terminal sees the command's own output as it comes (apt-get's progress).
    return new Promise((res) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', () => res({ code: 127, out: '', ms: performance.now() - t0 }));
      child.on('exit', (code) => res({ code: code ?? 1, out: '', ms: performance.now() - t0 }));
    });
  }
  return new Promise((res) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      res({ code, out: `${stdout}${code ? stderr : ''}`, ms: performance.now() - t0 });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function step(title: string, cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  process.stdout.write(
    `\n$ ${[cmd === process.execPath ? 'devnet' : cmd, ...(cmd === process.execPath ? args.slice(1) : args)].join(' ')}   # ${title} (${r.ms.toFixed(0)} ms)\n${r.out.trimEnd()}\n`,
  );
  if (r.code !== 0) throw new Error(`${title} failed (exit ${r.code})`);
  return r.out;
}

const devnet = (title: string, ...args: string[]) => step(title, process.execPath, [bin, ...args]);

// The preflight first: as root it may install what is missing; otherwise it only names it.
const asRoot = process.getuid?.() === 0;
const pre = await run(
  process.execPath,
  [bin, 'preflight', '--for', 'demo', ...(asRoot ? [] : ['--check'])],
  undefined,
  true,
);
if (pre.code !== 0) process.exit(pre.code);
if (!asRoot) {
  process.stderr.write('The demo creates network namespaces and a TUN device: run it as root (sudo npm run demo).\n');
  process.exit(2);
}
let failed = false;
try {
  await devnet('a local cluster in network namespaces', 'sandbox', 'up');
  await devnet(
    'join its network (from this machine, no pod restarts)',
    'connect',
    '--context',
    'devnet-sandbox',
    '-n',
    'demo',
  );
  await step('a Service by its short name, as from a pod in demo', 'curl', ['-s', '--max-time', '5', 'http://hello']);
  await step('a Service in another namespace', 'curl', ['-s', '--max-time', '5', 'http://hello.other']);
  // The ClusterIP, as this machine now resolves the name (through devnet's DNS).
  const ip = (await run('getent', ['ahostsv4', 'hello.demo'])).out.split(/\s+/)[0] ?? '';
  await step('the same Service by ClusterIP', 'curl', ['-s', '--max-time', '5', `http://${ip}`]);
  await step('TCP echo', 'nc', ['-N', '-w', '3', 'echo.demo', '7'], 'hello over TCP\n');
  await step('UDP echo', 'nc', ['-u', '-w', '2', 'echo.demo', '7'], 'hello over UDP\n');
  await step('a StatefulSet pod by its stable name', 'nc', ['-d', '-w', '3', 'db-0.db.demo', '5432']);
  await devnet('what devnet is doing', 'status');
  process.stdout.write(
    values.cleanup
      ? '\nDemo done.\n'
      : '\ndevnet is connected: try `curl http://hello.demo` or `kubectl --context devnet-sandbox get pods -A`.\nWhen done: `sudo devnet quit` and `sudo devnet sandbox down`.\n',
  );
} catch (err) {
  failed = true;
  process.stderr.write(`\ndemo: ${(err as Error).message}\n`);
} finally {
  if (values.cleanup || failed) {
    await run(process.execPath, [bin, 'quit']);
    if (values.cleanup) await run(process.execPath, [bin, 'sandbox', 'down']);
  }
}
process.exit(failed ? 1 : 0);
