// demo-db: a stand-in database for StatefulSet tests. On every TCP
// connection to $PORT (default 5432) it writes its hostname and a newline
// and closes, so a client learns which replica it reached. With
// $DB_DATA_DIR (its claim) it records its hostname there in `owner`, so
// the data a replica keeps can be read back.
import { writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { listen } from './hello.ts';
import { type DemoContext, envPort, type RunningDemo } from './program.ts';

/** startDb starts the demo-db server. */
export async function startDb(ctx: DemoContext): Promise<RunningDemo> {
  const hostname = ctx.env.HOSTNAME ?? ctx.env.POD_NAME ?? 'unknown';
  if (ctx.env.DB_DATA_DIR) await writeFile(join(ctx.env.DB_DATA_DIR, 'owner'), `${hostname}\n`);
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.end(`${hostname}\n`);
  });
  await listen(server, envPort(ctx.env, 'PORT', 5432));
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
