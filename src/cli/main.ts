// devnet's CLI: wires one file per verb (cli/<verb>.ts) into commander and
// turns errors into messages that say what happened and what to do.
import { Command, CommanderError } from 'commander';
import { asDevnetError, exitCodeFor } from '../errors.ts';
import { VERSION } from '../version.ts';
import { registerConnect } from './connect.ts';
import { registerDns } from './dns.ts';
import { registerGateway } from './gateway.ts';
import { registerGatherLogs } from './gather-logs.ts';
import { registerIntercept } from './intercept.ts';
import { daemonIfRunning, pathsFor } from './launch.ts';
import { registerLeave } from './leave.ts';
import { registerList } from './list.ts';
import { registerPreflight } from './preflight.ts';
import { registerQuit } from './quit.ts';
import { registerSandbox } from './sandbox.ts';
import { registerStatus } from './status.ts';
import { registerVersion } from './version.ts';

// The last line of defence: whatever escapes a verb is still one message and a non-zero exit, never a stack
// trace (DEVNET_DEBUG=1 shows it). `devnet ... | head` closing the pipe early is a normal end, not an error.
function crashed(err: unknown): void {
  const e = asDevnetError(err);
  process.stderr.write(`devnet: ${e.category === 'internal' ? 'internal error: ' : ''}${e.message}\n`);
  process.stderr.write(
    `  ${e.hint ?? 'This is a bug in devnet: please report it with the archive `devnet gather-logs` writes.'}\n`,
  );
  if (process.env.DEVNET_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(exitCodeFor(e.category));
}
process.on('uncaughtException', crashed);
process.on('unhandledRejection', crashed);
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  crashed(err);
});

const program = new Command('devnet')
  .description("Make this machine a member of a Kubernetes cluster's network.")
  .version(VERSION, '-V, --version', "print devnet's version")
  .showHelpAfterError()
  .exitOverride();

registerConnect(program);
registerStatus(program);
registerQuit(program);
registerIntercept(program);
registerLeave(program);
registerList(program);
registerDns(program, async () => {
  const client = await daemonIfRunning(pathsFor());
  if (!client) return undefined;
  try {
    return (await client.call('dnsContext', null)) ?? undefined;
  } finally {
    client.close();
  }
});
registerGateway(program);
registerGatherLogs(program);
registerVersion(program);
registerSandbox(program);
registerPreflight(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const e = asDevnetError(err);
    process.stderr.write(`devnet: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  ${e.hint}\n`);
    if (process.env.DEVNET_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCodeFor(e.category);
  }
}
