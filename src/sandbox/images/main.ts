// The entry point of the demo images built for a real cluster
// (test/k8s/cluster-images.ts): `node main.ts hello|echo|db [args...]` runs
// one demo server with the container's environment, as the sandbox's pod
// runner does in-process, and stops it on SIGTERM.
import { startDb } from './db.ts';
import { startEcho } from './echo.ts';
import { startHello } from './hello.ts';
import type { Demo } from './program.ts';

const demos: Record<string, Demo> = { hello: startHello, echo: startEcho, db: startDb };
const [name = '', ...args] = process.argv.slice(2);
const start = demos[name];
if (!start) {
  console.error(`unknown demo "${name}": use one of ${Object.keys(demos).join(', ')}`);
  process.exit(2);
}
const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
const running = await start({ env, args });
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    void running.close().then(() => process.exit(0));
  });
}
