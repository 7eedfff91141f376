// devnet's CLI: wires one file per verb (cli/<verb>.ts) into commander and
// turns errors into messages that say what happened and what to do.
import { Command, CommanderError } from 'commander';
import { asDevnetError, exitCodeFor } from '../errors.ts';
import { VERSION } from '../version.ts';
import { registerConnect } from './connect.ts';
import { registerDns } from './dns.ts';
import { registerGateway } from './gateway.ts';
import { registerIntercept } from './intercept.ts';
import { daemonIfRunning, pathsFor } from './launch.ts';
import { registerLeave } from './leave.ts';
import { registerList } from './list.ts';
import { registerQuit } from './quit.ts';
import { registerSandbox } from './sandbox.ts';
import { registerStatus } from './status.ts';
import { registerVersion } from './version.ts';

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
registerVersion(program);
registerSandbox(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else {
    const e = asDevnetError(err);
    process.stderr.write(`devnet: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  ${e.hint}\n`);
    process.exitCode = exitCodeFor(e.category);
  }
}
