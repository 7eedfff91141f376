// `devnet quit`: disconnect and undo every change to this machine.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { daemonIfRunning, pathsFor, repairStale } from './launch.ts';

/** registerQuit adds the `quit` verb. */
export function registerQuit(program: Command): void {
  program
    .command('quit')
    .description('disconnect, restoring routes, devices and DNS as they were')
    .action(async () => {
      const paths = pathsFor();
      const client = await daemonIfRunning(paths);
      if (client) {
        await client.call('quit', null);
        // The daemon restores DNS, closes the TUN and has the helper undo its journal, then exits.
        await new Promise<void>((res) => {
          client.socket.once('close', () => res());
          setTimeout(res, 10_000).unref();
        });
        for (let i = 0; i < 100 && existsSync(paths.helperSocket); i++) await new Promise((r) => setTimeout(r, 50));
        process.stdout.write('Disconnected.\n');
      } else {
        process.stdout.write('Not connected.\n');
      }
      const note = await repairStale(paths);
      if (note) process.stderr.write(`${note}\n`);
    });
}
