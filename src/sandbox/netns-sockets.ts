// Opening sockets inside another network namespace from a process that
// stays in the host's: a short-lived child started with `ip netns exec`
// binds them and hands them over the IPC channel (child_process can send
// net.Server and dgram.Socket handles), then exits. A socket keeps the
// namespace it was created in, so the supervisor serves cluster DNS inside
// the node namespace without a resident process there.
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';

/** bindInNetns opens a UDP socket and a TCP listener on host:port inside a network namespace. */
export function bindInNetns(netns: string, host: string, port: number): Promise<{ udp: UdpSocket; tcp: Server }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, import.meta.filename, host, String(port)], {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    let udp: UdpSocket | undefined;
    let tcp: Server | undefined;
    child.on('message', (m, handle) => {
      if (m === 'udp') udp = handle as UdpSocket;
      if (m === 'tcp') tcp = handle as unknown as Server;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (udp && tcp) resolve({ udp, tcp });
      else reject(new Error(`binding ${host}:${port} in ${netns} failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

async function main(): Promise<void> {
  const [host, portText] = process.argv.slice(2);
  const port = Number(portText);
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => resolve());
  });
  const tcp = createServer({ pauseOnConnect: false });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, host, () => resolve());
  });
  const send = (m: string, h: UdpSocket | Server) =>
    new Promise<void>((resolve) => process.send?.(m, h, () => resolve()));
  await send('udp', udp);
  await send('tcp', tcp);
  udp.close();
  tcp.close();
  process.disconnect();
}

if (import.meta.main) await main();
