// demo-echo: the RFC 862 echo service on TCP and UDP port $PORT (default 7).
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { listen } from './hello.ts';
import { type DemoContext, envPort, type RunningDemo } from './program.ts';

/** startEcho starts TCP and UDP echo servers. */
export async function startEcho(ctx: DemoContext): Promise<RunningDemo> {
  const port = envPort(ctx.env, 'PORT', 7);
  const sockets = new Set<Socket>();
  const tcp = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await listen(tcp, port);
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, () => resolve());
    });
  } catch (e) {
    tcp.close();
    throw e;
  }
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        udp.close();
        tcp.close(() => resolve());
      }),
  };
}
